"""Optical flow on frames: known shifts recovered, the backward/forward conventions, misuse refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from motion_factory import PAD, H, W, crop, texture

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.motion.flow import FlowEstimator, compute_flow, flow_pair, flow_to_tensor
from stylevid.pipeline.motion.opencv_flow import OPENCV_FLOW_METHODS
from stylevid.pipeline.motion.warp import warp
from stylevid.pipeline.motion.warping_error import WarpingErrorMeter


def to_image(frame: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frame.transpose(2, 0, 1).astype(np.float32) / 255.0).unsqueeze(0)


@pytest.mark.parametrize("method", OPENCV_FLOW_METHODS)
def test_compute_flow_recovers_a_known_shift(method):
    big = texture(2 * H + 2 * PAD, 2 * W + 2 * PAD)  # DeepFlow needs frames of 64 px and more
    dx, dy = 3, -2
    src, dst = crop(big, 0, 0, 2 * H, 2 * W), crop(big, dx, dy, 2 * H, 2 * W)  # src(x) == dst(x + (dx, dy))
    flow = compute_flow(src, dst, method)
    assert flow.shape == (2 * H, 2 * W, 2) and flow.dtype == np.float32
    inner = flow[8:-8, 8:-8]
    assert abs(np.median(inner[..., 0]) - dx) < 0.25
    assert abs(np.median(inner[..., 1]) - dy) < 0.25


@pytest.mark.parametrize("method", OPENCV_FLOW_METHODS)
def test_flow_pair_follows_the_conventions(method):
    big = texture(2 * H + 2 * PAD, 2 * W + 2 * PAD, seed=3)
    prev, cur = crop(big, 0, 0, 2 * H, 2 * W), crop(big, 3, -2, 2 * H, 2 * W)
    flow_fw, flow_bw = flow_pair(prev, cur, method)
    assert np.allclose(np.median(flow_fw[8:-8, 8:-8].reshape(-1, 2), axis=0), (3, -2), atol=0.25)
    assert np.allclose(np.median(flow_bw[8:-8, 8:-8].reshape(-1, 2), axis=0), (-3, 2), atol=0.25)

    p, c = to_image(prev), to_image(cur)
    fw, bw = flow_to_tensor(flow_fw), flow_to_tensor(flow_bw)
    assert fw.shape == (1, 2, 2 * H, 2 * W) and fw.dtype == torch.float32
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
    for call in (
        lambda: compute_flow(img, img, "raft-huge"),
        lambda: FlowEstimator("raft-huge"),
        lambda: WarpingErrorMeter("raft-huge"),
    ):
        with pytest.raises(StylevidError, match="auto, dis, dis-fine, deepflow, tvl1, raft, raft-small, farneback"):
            call()


def test_flow_rejects_bad_frames():
    img = texture(H, W)
    with pytest.raises(ValueError, match="uint8"):
        compute_flow(img.astype(np.float32), img)
    with pytest.raises(ValueError, match="same shape"):
        compute_flow(img, img[:-1])
    with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
        flow_to_tensor(np.zeros((H, W, 3), np.float32))
