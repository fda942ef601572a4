"""Frames prepared ahead of the optimiser: processing size, backward flow and mask, and the pair's warping error."""

from __future__ import annotations

import numpy as np
import pytest
from media_factory import shifted_frames

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
