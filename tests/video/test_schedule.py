"""Which frames go through the rolling batch together: segments and their anchors."""

from __future__ import annotations

import pytest

from stylevid.pipeline.video.schedule import segment_frames, starts_segment


def segments(count: int, length: int, gif_frame: int = 0, cuts: tuple[int, ...] = ()) -> list[list[int]]:
    groups: list[list[int]] = []
    for position in range(count):
        shot_start = max([0, *[c for c in cuts if c <= position]])
        if starts_segment(position, length, gif_frame, shot_start):
            groups.append([])
        groups[-1].append(position)
    return groups


def test_first_frame_and_gif_frame_stand_alone_and_segments_are_anchored():
    assert segments(9, 3) == [[0], [1, 2, 3], [4, 5, 6], [7, 8]]
    assert segments(9, 3, gif_frame=4) == [[0], [1, 2, 3], [4], [5, 6, 7], [8]]
    assert segments(5, 1) == [[0], [1], [2], [3], [4]]
    assert segment_frames(4) == 32
    with pytest.raises(ValueError, match="segment length"):
        starts_segment(3, 0)


def test_a_cut_stands_alone_and_anchors_the_segments_of_its_shot():
    assert segments(12, 3, cuts=(5,)) == [[0], [1, 2, 3], [4], [5], [6, 7, 8], [9, 10, 11]]
    assert segments(10, 4, gif_frame=2, cuts=(6,)) == [[0], [1], [2], [3, 4, 5], [6], [7, 8, 9]]
    assert segments(6, 4, cuts=(1,)) == [[0], [1], [2, 3, 4, 5]]
    with pytest.raises(ValueError, match="shot start"):
        starts_segment(3, 2, 0, shot_start=4)
