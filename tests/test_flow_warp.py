"""Optical flow, warping, reliability masks and warping error (tiny synthetic frames)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.motion.flow import (
    FLOW_METHODS,
    FlowEstimator,
    compute_flow,
    flow_pair,
    flow_to_tensor,
)
from stylevid.pipeline.motion.occlusion import consistency_mask
from stylevid.pipeline.motion.warp import inside_mask, warp
from stylevid.pipeline.motion.warping_error import (
    WarpingErrorMeter,
    warping_error_pair,
    warping_error_sequence,
)

H, W = 48, 64
PAD = 24


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """uint8 RGB texture: blurred noise luminance with a smooth colour tint."""
    rng = np.random.default_rng(seed)
    lum = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.5)
    lum = (lum - lum.min()) / (lum.max() - lum.min())
    tint = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 6.0)
    tint = (tint - tint.min()) / (tint.max() - tint.min())
    img = 0.8 * lum[..., None] + 0.2 * tint
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def crop(big: np.ndarray, ox: int, oy: int, h: int = H, w: int = W) -> np.ndarray:
    """Frame whose pixel x shows big(x + (PAD - ox, PAD - oy)): content moved by (ox, oy)."""
    return np.ascontiguousarray(big[PAD - oy : PAD - oy + h, PAD - ox : PAD - ox + w])


def to_image(frame: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frame.transpose(2, 0, 1).astype(np.float32) / 255.0).unsqueeze(0)


def const_flow(u: float, v: float, b: int = 1, h: int = H, w: int = W) -> torch.Tensor:
    flow = torch.empty(b, 2, h, w)
    flow[:, 0], flow[:, 1] = u, v
    return flow


# --------------------------------------------------------------------------- warp


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
    with pytest.raises(ValueError, match="floating"):
        warp(img.to(torch.uint8), const_flow(0, 0))


# --------------------------------------------------------------------------- flow


@pytest.mark.parametrize("method", FLOW_METHODS)
def test_compute_flow_recovers_a_known_shift(method):
    big = texture(H + 2 * PAD, W + 2 * PAD)
    dx, dy = 3, -2
    src, dst = crop(big, 0, 0), crop(big, dx, dy)  # src(x) == dst(x + (dx, dy))
    flow = compute_flow(src, dst, method)
    assert flow.shape == (H, W, 2) and flow.dtype == np.float32
    inner = flow[8:-8, 8:-8]
    assert abs(np.median(inner[..., 0]) - dx) < 0.25
    assert abs(np.median(inner[..., 1]) - dy) < 0.25


@pytest.mark.parametrize("method", FLOW_METHODS)
def test_flow_pair_follows_the_conventions(method):
    big = texture(H + 2 * PAD, W + 2 * PAD, seed=3)
    prev, cur = crop(big, 0, 0), crop(big, 3, -2)
    flow_fw, flow_bw = flow_pair(prev, cur, method)
    assert np.allclose(np.median(flow_fw[8:-8, 8:-8].reshape(-1, 2), axis=0), (3, -2), atol=0.25)
    assert np.allclose(np.median(flow_bw[8:-8, 8:-8].reshape(-1, 2), axis=0), (-3, 2), atol=0.25)

    p, c = to_image(prev), to_image(cur)
    fw, bw = flow_to_tensor(flow_fw), flow_to_tensor(flow_bw)
    assert fw.shape == (1, 2, H, W) and fw.dtype == torch.float32
    s = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    baseline = (c - p)[s].abs().mean()
    assert (warp(p, bw) - c)[s].abs().mean() < 0.1 * baseline  # warp(prev, flow_bw) ≈ cur
    assert (warp(c, fw) - p)[s].abs().mean() < 0.1 * baseline  # warp(cur, flow_fw) ≈ prev


def test_flow_estimator_is_reusable_and_matches_flow_pair():
    big = texture(H + 2 * PAD, W + 2 * PAD, seed=4)
    frames = [crop(big, k, 0) for k in range(3)]
    est = FlowEstimator("dis")
    for a, b in zip(frames, frames[1:]):
        fw, bw = est(a, b)
        rfw, rbw = flow_pair(a, b, "dis")
        np.testing.assert_allclose(fw, rfw, atol=1e-5)
        np.testing.assert_allclose(bw, rbw, atol=1e-5)


def test_unknown_flow_method_is_a_user_error_listing_choices():
    img = texture(H, W)
    for call in (lambda: compute_flow(img, img, "raft"), lambda: FlowEstimator("raft"),
                 lambda: WarpingErrorMeter("raft")):
        with pytest.raises(StylevidError, match="dis, farneback"):
            call()


def test_flow_rejects_bad_frames():
    img = texture(H, W)
    with pytest.raises(ValueError, match="uint8"):
        compute_flow(img.astype(np.float32), img)
    with pytest.raises(ValueError, match="same shape"):
        compute_flow(img, img[:-1])
    with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
        flow_to_tensor(np.zeros((H, W, 3), np.float32))


# --------------------------------------------------------------------------- occlusion


def test_consistency_mask_square_moving_right():
    # A 16x16 square moves 4 px right over a static background.
    d, top, left, size = 4.0, 16, 20, 16
    flow_fw = torch.zeros(1, 2, H, W)  # of frame t-1: the square at cols [20, 36) moves by +4
    flow_fw[0, 0, top : top + size, left : left + size] = d
    flow_bw = torch.zeros(1, 2, H, W)  # of frame t: the square at cols [24, 40) came from -4
    flow_bw[0, 0, top : top + size, left + 4 : left + 4 + size] = -d

    m = consistency_mask(flow_fw, flow_bw)
    assert m.shape == (1, 1, H, W) and set(m.unique().tolist()) <= {0.0, 1.0}
    m = m[0, 0]

    rows, new = slice(top, top + size), slice(left + 4, left + 4 + size)
    # uncovered behind the square (background of t was hidden at t-1): unreliable
    assert (m[rows, left : left + 4] == 0).all()
    # motion boundaries of flow_bw: one pixel either side of each edge of the square at t
    for col in (left + 3, left + 4, left + 3 + size, left + 4 + size):
        assert (m[rows, col] == 0).all(), col
    for row in (top - 1, top, top + size - 1, top + size):
        assert (m[row, new] == 0).all(), row
    # inside the square and the static background: reliable
    assert (m[top + 1 : top + size - 1, left + 5 : left + 3 + size] == 1).all()
    assert (m[:, : left - 1] == 1).all() and (m[:, left + 6 + size :] == 1).all()
    assert (m[: top - 2] == 1).all() and (m[top + size + 1 :] == 1).all()

    # nothing else: the mask is exactly the union above (no dilation)
    expected = torch.ones(H, W)
    expected[rows, left : left + 4] = 0
    expected[rows, [left + 3, left + 4, left + 3 + size, left + 4 + size]] = 0
    expected[[top - 1, top, top + size - 1, top + size], new] = 0
    torch.testing.assert_close(m, expected)


def test_consistency_mask_flags_points_leaving_the_frame():
    m = consistency_mask(const_flow(3.0, 0.0), const_flow(-3.0, 0.0))[0, 0]
    assert (m[:, :3] == 0).all() and (m[:, 3:] == 1).all()
    m = consistency_mask(const_flow(0.0, -2.0, b=2), const_flow(0.0, 2.0, b=2))
    assert m.shape == (2, 1, H, W)
    assert (m[:, :, H - 2 :] == 0).all() and (m[:, :, : H - 2] == 1).all()


def test_consistency_mask_flags_inconsistent_flows():
    # forward and backward flows that are not inverse of each other
    m = consistency_mask(const_flow(0.0, 0.0), const_flow(2.0, 0.0))[0, 0]
    assert (m == 0).all()  # inconsistent, or (last 2 cols) outside
    # small inconsistency within the tolerance 0.01(|w~|²+|ŵ|²) + 0.5 stays reliable
    m = consistency_mask(const_flow(-1.5, 0.0), const_flow(2.0, 0.0))[0, 0]
    assert (m[:, : W - 2] == 1).all()


def test_consistency_mask_rejects_mismatched_flows():
    with pytest.raises(ValueError, match="same shape"):
        consistency_mask(const_flow(0, 0), const_flow(0, 0, b=2))


# --------------------------------------------------------------------------- warping error


def test_warping_error_pair_definition():
    torch.manual_seed(5)
    prev = torch.rand(2, 3, H, W)
    flow = const_flow(2.0, 1.0, b=2)
    cur = warp(prev, flow)
    mask = inside_mask(flow)
    err = warping_error_pair(prev, cur, flow, mask)
    assert err.shape == (2,)
    torch.testing.assert_close(err, torch.zeros(2), rtol=0, atol=1e-10)
    # a constant offset of 0.1 on one channel of three: mean squared diff 0.01 / 3
    shifted = cur.clone()
    shifted[:, 1] += 0.1
    torch.testing.assert_close(warping_error_pair(prev, shifted, flow, mask), torch.full((2,), 0.01 / 3))
    # masked-out pixels do not count; an empty mask gives 0
    noisy = cur.clone()
    noisy[..., :, W - 2 :] = 5.0  # lands only in the out-of-frame (masked) columns
    torch.testing.assert_close(warping_error_pair(prev, noisy, flow, mask), torch.zeros(2), rtol=0, atol=1e-10)
    torch.testing.assert_close(warping_error_pair(prev, shifted, flow, torch.zeros_like(mask)), torch.zeros(2))


def moving_clip(n: int, step: tuple[int, int], seed: int, h: int = H, w: int = W):
    """Originals and a 'stylised' version moving with them (a fixed colour remap of a
    different texture, so the stylisation is consistent with the motion)."""
    pad_big = PAD + max(abs(step[0]), abs(step[1])) * n
    big_o = texture(h + 2 * pad_big, w + 2 * pad_big, seed=seed)
    big_s = 255 - texture(h + 2 * pad_big, w + 2 * pad_big, seed=seed + 100)[..., ::-1]
    big_s = np.ascontiguousarray(big_s)

    def cut(big, k):
        ox, oy = step[0] * k, step[1] * k
        y0, x0 = pad_big - oy, pad_big - ox
        return np.ascontiguousarray(big[y0 : y0 + h, x0 : x0 + w])

    return [cut(big_o, k) for k in range(n)], [cut(big_s, k) for k in range(n)]


def test_warping_error_small_for_consistent_and_larger_for_flickering_sequence():
    originals, stylised = moving_clip(4, (2, 1), seed=6)
    consistent = warping_error_sequence(stylised, originals, "dis")
    assert len(consistent.values) == 3
    assert consistent.mean < 1e-4  # measured ~2e-6 (flow not exactly integer)

    rng = np.random.default_rng(7)
    flicker = [
        np.clip(s.astype(np.int16) + rng.integers(-25, 26, s.shape), 0, 255).astype(np.uint8)
        for s in stylised
    ]
    flickering = warping_error_sequence(flicker, originals, "dis")
    assert flickering.mean > 50 * consistent.mean
    assert flickering.mean > 5e-3  # ~2 * var(U[-25, 25] / 255) ≈ 0.0067 on top


def test_warping_error_meter_streams_and_matches_sequence():
    originals, stylised = moving_clip(4, (-1, 2), seed=8)
    rng = np.random.default_rng(9)
    stylised = [np.clip(s.astype(np.int16) + rng.integers(-10, 11, s.shape), 0, 255).astype(np.uint8)
                for s in stylised]
    ref = warping_error_sequence(stylised, originals, "farneback")

    meter = WarpingErrorMeter("farneback")
    assert math.isnan(meter.mean) and meter.values == ()
    returned = [meter.update(o, s) for o, s in zip(originals, stylised)]
    assert returned[0] is None
    assert returned[1:] == list(meter.values)
    np.testing.assert_allclose(meter.values, ref.values, rtol=1e-6, atol=1e-9)
    assert meter.mean == pytest.approx(np.mean(ref.values)) and ref.mean == pytest.approx(meter.mean)


def test_warping_error_resizes_originals_to_stylised_size():
    originals, stylised = moving_clip(3, (4, -2), seed=10, h=2 * H, w=2 * W)
    small = [cv2.resize(s, (W, H), interpolation=cv2.INTER_AREA) for s in stylised]
    res = warping_error_sequence(small, originals)
    assert len(res.values) == 2 and res.mean < 1e-4


def test_warping_error_sequence_edge_cases():
    originals, stylised = moving_clip(2, (1, 0), seed=11)
    one = warping_error_sequence(stylised[:1], originals[:1])
    assert one.values == () and math.isnan(one.mean)
    with pytest.raises(ValueError, match="originals"):
        warping_error_sequence(stylised, originals[:1])
    meter = WarpingErrorMeter()
    meter.update(originals[0], stylised[0])
    with pytest.raises(ValueError, match="changed size"):
        meter.update(originals[1], stylised[1][:-2])
