"""Scene-cut detection: change scores of consecutive frames, the adaptive threshold and the minimum shot."""

from __future__ import annotations

import numpy as np
import pytest
from media_factory import cut_frames, shifted_frames

from stylevid.pipeline.motion.cuts import (
    MIN_SCORE,
    CutFinder,
    change_score,
    find_cuts,
    flow_estimator,
    is_cut,
    shots,
    shrink,
)


def scores_of(pictures: list[np.ndarray]) -> list[float]:
    dis = flow_estimator()
    small = [shrink(p) for p in pictures]
    return [change_score(a, b, dis) for a, b in zip(small, small[1:], strict=False)]


def test_a_hard_cut_is_found_where_it_is_and_a_pan_has_none():
    assert find_cuts(scores_of(cut_frames(12, cut_at=6))) == [6]
    assert find_cuts(scores_of(shifted_frames(12, size=48))) == []


def test_motion_the_flow_follows_scores_low_and_a_cut_high():
    scores = scores_of(cut_frames(12, cut_at=6))
    assert scores[5] > MIN_SCORE > 5 * max(scores[:5] + scores[6:])


def test_fast_motion_everywhere_is_no_cut():
    """6 px a frame on fine noise defeats the flow: every pair scores high, none stands out."""
    scores = scores_of(shifted_frames(12, size=48, step=6))
    assert min(scores) > MIN_SCORE
    assert find_cuts(scores) == []


def test_scores_are_deterministic_and_ignore_the_size_they_are_computed_at():
    pictures = cut_frames(8, cut_at=4)
    assert scores_of(pictures) == scores_of(pictures)
    big = [np.repeat(np.repeat(p, 8, axis=0), 8, axis=1) for p in pictures]  # 384 px: shrunk to 256 first
    assert shrink(big[0]).shape == (256, 256, 3)
    assert find_cuts(scores_of(big)) == [4]


def test_the_threshold_is_relative_to_the_neighbours_and_has_a_floor():
    assert is_cut([1, 1, 40, 1, 1], 2)
    assert not is_cut([20, 20, 40, 20, 20], 2)  # 2× its neighbours: motion, not a cut
    assert not is_cut([0.1, 0.1, 10, 0.1, 0.1], 2)  # stands out, but below the floor
    assert is_cut([40], 0)  # nothing to compare with: the floor decides


def test_a_flash_makes_one_cut_not_two_and_short_shots_are_dropped():
    flash = [1.0] * 6 + [60.0, 60.0] + [1.0] * 6  # frame 7 differs from both its neighbours
    assert find_cuts(flash) == [7]
    assert find_cuts([1.0, 60.0, 1.0, 1.0, 1.0, 1.0]) == []  # frame 2 would open a shot after a 2-frame one
    assert find_cuts([1.0, 60.0, 1.0, 1.0, 1.0, 1.0], min_shot=2) == [2]


def test_streaming_decides_each_pair_window_pairs_later_with_the_same_cuts():
    scores = [1.0, 1.2, 0.9, 50.0, 1.1, 1.0, 0.8, 1.0, 45.0, 1.0, 1.3]
    finder = CutFinder()
    decided_after = {}
    for k, score in enumerate(scores):
        for cut in finder.add(score):
            decided_after[cut] = k
    assert decided_after == {4: 3 + finder.lag, 9: 8 + finder.lag}
    assert finder.finish() == []
    assert sorted(decided_after) == find_cuts(scores) == [4, 9]
    tail = CutFinder()
    for score in [1.0, 1.0, 1.0, 1.0, 50.0]:
        assert tail.add(score) == []
    assert tail.finish() == [5]  # the last pair waits for the end of the clip


def test_shots_cover_the_clip():
    assert shots([4, 9], 12) == [(0, 3), (4, 8), (9, 11)]
    assert shots([], 3) == [(0, 2)]
    assert shots([4, 20], 6) == [(0, 3), (4, 5)]  # cuts past the end are left out
    assert shots([], 0) == []


def test_bad_arguments():
    with pytest.raises(ValueError, match="different shapes"):
        change_score(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8))
    with pytest.raises(ValueError):
        CutFinder(window=0)
