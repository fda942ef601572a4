"""Ruder et al.'s reliability mask: disocclusions, motion boundaries, points leaving the frame."""

from __future__ import annotations

import pytest
import torch
from motion_factory import H, W, const_flow

from stylevid.pipeline.motion.occlusion import consistency_mask, photometric_mask


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


# ----------------------------------------------------------------------------- the photometric check
def test_photometric_mask_keeps_a_true_match_and_drops_ground_a_smooth_flow_says_it_saw():
    """A textured frame moved 3 px right: with the exact flow every pixel matches. A flow that
    claims the uncovered strip came from the occluder (what a smooth flow does across an edge)
    matches nothing there, and the check drops exactly that strip."""
    gen = torch.Generator().manual_seed(0)
    prev = 0.5 * torch.rand(1, 3, H, W, generator=gen)  # a dark texture
    cur = torch.roll(prev, shifts=3, dims=3)
    exact = torch.zeros(1, 2, H, W)
    exact[:, 0] = -3.0
    kept = photometric_mask(prev, cur, exact, 0.08)[0, 0]
    assert kept.shape == (H, W) and (kept[:, 3:] == 1).all()  # columns 0-2 wrapped round: no match
    occluder = torch.tensor([0.95, 0.9, 0.9]).view(1, 3, 1, 1)  # a light one in front of it
    cur_occluded = cur.clone()
    cur_occluded[:, :, 8:24, 20:30] = occluder  # painted over; the flow does not know
    kept = photometric_mask(prev, cur_occluded, exact, 0.08)[0, 0]
    assert (kept[8:24, 20:30] == 0).all() and kept[:, 3:].sum() == (H * (W - 3)) - 16 * 10
    with pytest.raises(ValueError, match="tolerance"):
        photometric_mask(prev, cur, exact, 0.0)
    with pytest.raises(ValueError, match="share"):
        photometric_mask(prev, cur[:, :, :-1], exact, 0.08)
