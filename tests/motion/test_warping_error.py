"""The warping error of a stylised sequence (Lai et al. 2018): its definition, and consistent against flicker."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
from media_factory import cut_frames
from motion_factory import PAD, H, W, const_flow, texture

from stylevid.pipeline.motion.warp import inside_mask, warp
from stylevid.pipeline.motion.warping_error import WarpingErrorMeter, warping_error_pair, warping_error_sequence


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
    flicker = [np.clip(s.astype(np.int16) + rng.integers(-25, 26, s.shape), 0, 255).astype(np.uint8) for s in stylised]
    flickering = warping_error_sequence(flicker, originals, "dis")
    assert flickering.mean > 50 * consistent.mean
    assert flickering.mean > 5e-3  # ~2 * var(U[-25, 25] / 255) ≈ 0.0067 on top


def test_warping_error_meter_streams_and_matches_sequence():
    originals, stylised = moving_clip(4, (-1, 2), seed=8)
    rng = np.random.default_rng(9)
    stylised = [np.clip(s.astype(np.int16) + rng.integers(-10, 11, s.shape), 0, 255).astype(np.uint8) for s in stylised]
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


def test_pairs_across_a_cut_are_left_out():
    pictures = cut_frames(8, cut_at=4)
    whole = warping_error_sequence(pictures, pictures)
    cut = warping_error_sequence(pictures, pictures, cuts=[4])
    assert len(whole.values) == 7 and len(cut.values) == 6
    assert list(cut.values) == [v for k, v in enumerate(whole.values) if k != 3]
