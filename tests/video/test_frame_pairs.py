"""Frames prepared ahead of the optimiser: processing size, backward flow and mask, and the pair's warping error."""

from __future__ import annotations

import numpy as np
import pytest
from media_factory import cut_frames, shifted_frames

from stylevid.pipeline.video.frame_pairs import pair_warping_error, prepare_frames, warp_into
from stylevid.pipeline.video.frames import Frame


def frames(pictures: list[np.ndarray]) -> list[Frame]:
    return [Frame(i, i, i / 25, f"{i}.png", p) for i, p in enumerate(pictures)]


def halve(picture: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(picture[::2, ::2])


def test_each_frame_but_the_first_comes_with_its_backward_flow_and_mask():
    prepared = list(prepare_frames(frames(shifted_frames(3)), halve, "dis"))
    assert [p.content.shape for p in prepared] == [(20, 20, 3)] * 3
    assert prepared[0].flow_bw is None and prepared[0].reliable is None
    for item in prepared[1:]:
        assert item.flow_bw.shape == (1, 2, 20, 20) and item.reliable.shape == (1, 1, 20, 20)
        inner = item.flow_bw[0, 0, 4:-4, 4:-4]
        assert float(inner.median()) == pytest.approx(-1.0, abs=0.25)  # 2 px right at full size, 1 px here
    resumed = list(prepare_frames(frames(shifted_frames(3)), halve, "dis", flows_from=2))
    assert [p.flow_bw is None for p in resumed] == [True, True, False]


def test_a_stylised_frame_warped_along_the_motion_has_a_small_pair_error():
    pictures = shifted_frames(2)
    previous, current = prepare_frames(frames(pictures), lambda p: p, "dis")
    with pytest.raises(ValueError, match="no frame before it"):
        pair_warping_error(pictures[0], pictures[0], previous)
    followed = warp_into(pictures[0], current.flow_bw)  # the first frame moved with the content
    assert followed.dtype == np.uint8 and followed.shape == pictures[0].shape
    still = pair_warping_error(pictures[0], followed, current)
    assert still < 0.1 * pair_warping_error(pictures[0], 255 - followed, current)
    assert still < 0.1 * pair_warping_error(pictures[0], pictures[0], current)  # standing still is not following


def test_a_detected_cut_opens_a_shot_with_no_flow_across_it():
    pictures = cut_frames(10, cut_at=5)
    prepared = list(prepare_frames(frames(pictures), lambda p: p, "dis", cuts="auto"))
    assert [p.frame.position for p in prepared] == list(range(10))  # all handed out, in order
    assert [p.shot_start for p in prepared] == [0] * 5 + [5] * 5
    assert [p.opens_shot for p in prepared] == [True] + [False] * 4 + [True] + [False] * 4
    assert prepared[5].flow_bw is None and prepared[5].reliable is None
    assert all(p.flow_bw is not None for k, p in enumerate(prepared) if k not in (0, 5))
    assert prepared[0].cut_score is None and prepared[5].cut_score > 5 * prepared[4].cut_score
    resumed = list(prepare_frames(frames(pictures), lambda p: p, "dis", cuts="auto", flows_from=7))
    assert [p.shot_start for p in resumed] == [p.shot_start for p in prepared]  # the same cuts after a resume
    assert [p.cut_score for p in resumed] == [p.cut_score for p in prepared]


def test_cuts_can_be_forced_or_turned_off():
    pictures = cut_frames(8, cut_at=4)
    forced = list(prepare_frames(frames(pictures), lambda p: p, "dis", cuts=(2, 6)))
    assert [p.shot_start for p in forced] == [0, 0, 2, 2, 2, 2, 6, 6]
    assert forced[4].flow_bw is not None  # the real cut is not looked for: the list is the user's
    off = list(prepare_frames(frames(pictures), lambda p: p, "dis", cuts="off"))
    assert [p.shot_start for p in off] == [0] * 8 and all(p.cut_score is None for p in off)
