"""Backward warping of images by a flow field, and the mask of points that stay inside the frame."""

from __future__ import annotations

import math

import pytest
import torch
from motion_factory import H, W, const_flow

from stylevid.pipeline.motion.occlusion import consistency_mask
from stylevid.pipeline.motion.warp import inside_mask, warp


def test_warp_integer_shift_is_exact_away_from_borders():
    torch.manual_seed(0)
    img = torch.rand(2, 3, H, W)
    flow = torch.cat([const_flow(2.0, -1.0), const_flow(-3.0, 4.0)])
    # float32 pixel -> [-1, 1] -> pixel round trip inside grid_sample costs ~1e-6
    for dtype, atol in ((torch.float32, 1e-5), (torch.float64, 1e-12)):
        out = warp(img.to(dtype), flow)
        assert out.shape == img.shape and out.dtype == dtype
        # out(x, y) = img(x + u, y + v)
        torch.testing.assert_close(out[0, :, 1:, : W - 2], img[0, :, : H - 1, 2:].to(dtype), rtol=0, atol=atol)
        torch.testing.assert_close(out[1, :, : H - 4, 3:], img[1, :, 4:, : W - 3].to(dtype), rtol=0, atol=atol)


def test_warp_zero_flow_is_identity_and_flow_batch_broadcasts():
    torch.manual_seed(1)
    img = torch.rand(3, 2, 7, 9, dtype=torch.float64)
    out = warp(img, torch.zeros(1, 2, 7, 9))
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, img, rtol=0, atol=1e-12)


def test_warp_subpixel_shift_of_linear_ramp_is_exact():
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64), indexing="ij")
    a, b, c = 0.011, -0.007, 0.4
    img = (a * xs + b * ys + c).expand(1, 3, H, W)
    u, v = 0.3, -0.7
    out = warp(img, const_flow(u, v).double())
    expected = a * (xs + u) + b * (ys + v) + c
    # interior: sampled points stay inside the image
    torch.testing.assert_close(out[0, :, 1:, : W - 1], expected[1:, : W - 1].expand(3, -1, -1), rtol=0, atol=1e-9)


def test_bicubic_warp_copies_integer_shifts_exactly():
    torch.manual_seed(2)
    img = torch.rand(1, 3, H, W, dtype=torch.float64)
    out = warp(img, const_flow(2.0, -1.0).double(), mode="bicubic")
    # the cubic kernel is (0, 1, 0, 0) at whole pixels: the warped start of an integer motion is the frame itself
    torch.testing.assert_close(out[0, :, 1:, : W - 2], img[0, :, : H - 1, 2:], rtol=0, atol=1e-9)


def test_bicubic_warp_of_a_smooth_image_matches_it_and_keeps_more_fine_detail_than_bilinear():
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64), indexing="ij")

    def smooth(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 0.5 + 0.3 * torch.sin(0.35 * x + 0.2 * y)

    u, v = 0.4, -0.3
    out = warp(smooth(xs, ys).expand(1, 3, H, W), const_flow(u, v).double(), mode="bicubic")
    inner = (slice(2, H - 2), slice(2, W - 2))  # the 4 × 4 kernel stays inside the image
    expected = smooth(xs + u, ys + v)[inner]
    assert (out[0, 0][inner] - expected).abs().max() < 3e-3
    bilinear = warp(smooth(xs, ys).expand(1, 3, H, W), const_flow(u, v).double())
    assert (out[0, 0][inner] - expected).abs().max() < 0.6 * (bilinear[0, 0][inner] - expected).abs().max()

    # stripes 3 px apart shifted by half a pixel: bilinear keeps half their contrast, bicubic over three quarters
    stripes = (0.5 + 0.4 * torch.cos(2 * math.pi * xs / 3)).expand(1, 3, H, W)
    half = const_flow(0.5, 0.0).double()
    contrast = stripes[0, 0].std()
    assert warp(stripes, half)[0, 0][inner].std() < 0.55 * contrast
    assert warp(stripes, half, mode="bicubic")[0, 0][inner].std() > 0.75 * contrast


def test_inside_mask_marks_points_that_leave_the_frame():
    m = inside_mask(const_flow(2.0, -1.0))
    assert m.shape == (1, 1, H, W)
    expected = torch.ones(H, W)
    expected[:, W - 2 :] = 0  # x + 2 > W - 1
    expected[0, :] = 0  # y - 1 < 0
    torch.testing.assert_close(m[0, 0], expected)
    assert inside_mask(const_flow(0.0, 0.0)).min() == 1  # the border pixels themselves are inside


def test_gradients_flow_through_warp_to_the_image():
    torch.manual_seed(2)
    img = torch.rand(1, 3, H, W, requires_grad=True)
    flow = const_flow(1.25, -0.5)
    warp(img, flow).pow(2).sum().backward()
    assert img.grad is not None and torch.isfinite(img.grad).all() and img.grad.abs().sum() > 0

    small = torch.rand(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    sflow = (torch.rand(1, 2, 4, 5, dtype=torch.float64) - 0.5) * 3
    assert torch.autograd.gradcheck(lambda im: warp(im, sflow), (small,))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_warp_and_mask_on_cuda_match_cpu():
    torch.manual_seed(3)
    img = torch.rand(2, 3, H, W)
    fw = (torch.rand(2, 2, H, W) - 0.5) * 6
    bw = (torch.rand(2, 2, H, W) - 0.5) * 6
    out = warp(img.cuda().requires_grad_(), bw.cuda())
    out.sum().backward()
    torch.testing.assert_close(out.detach().cpu(), warp(img, bw), rtol=0, atol=1e-5)
    m_gpu = consistency_mask(fw.cuda(), bw.cuda())
    m_cpu = consistency_mask(fw, bw)
    assert m_gpu.device.type == "cuda"
    assert (m_gpu.cpu() != m_cpu).float().mean() < 1e-3  # threshold ties may differ by rounding


def test_warp_rejects_misuse():
    img = torch.rand(1, 3, H, W)
    with pytest.raises(ValueError, match="shape"):
        warp(img[0], const_flow(0, 0))
    with pytest.raises(ValueError, match="flow"):
        warp(img, torch.zeros(1, 3, H, W))
    with pytest.raises(ValueError, match="spatial"):
        warp(img, torch.zeros(1, 2, H, W + 1))
    with pytest.raises(ValueError, match="padding_mode"):
        warp(img, const_flow(0, 0), padding_mode="wrap")
    with pytest.raises(ValueError, match="mode"):
        warp(img, const_flow(0, 0), mode="nearest")
    with pytest.raises(ValueError, match="floating"):
        warp(img.to(torch.uint8), const_flow(0, 0))
