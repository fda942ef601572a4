"""The plan made as frames arrive (PlanBuilder): the same plan as made at once, whatever the pace of
reading, and a segment still open never offers a frame whose making depends on where it ends."""

from __future__ import annotations

import random

import pytest

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.scale.plan import (
    PlanBuilder,
    default_segment_frames,
    handoff_weight,
    opening_frame,
    stream_plan,
)

HANDOFF_FRAMES, PREROLL = 6, 6


def test_segments_are_cut_every_segment_frames_from_the_start_of_their_shot():
    plan = stream_plan(100, [40], 16, preroll=0)
    assert plan.shots == ((0, 40), (40, 100))
    assert [(s.start, s.end, s.next_keyframe) for s in plan.segments] == [
        (0, 16, 16),
        (16, 32, 32),
        (32, 40, None),  # the cut ends it: a rest of 8, half a segment, stands on its own
        (40, 56, 56),
        (56, 72, 72),
        (72, 88, 88),
        (88, 100, None),
    ]


def test_a_rest_shorter_than_half_a_segment_joins_the_one_before():
    plan = stream_plan(37, [], 16)
    assert [(s.start, s.end) for s in plan.segments] == [(0, 16), (16, 37)]  # 5 frames left after 32


def test_with_a_preroll_every_segment_makes_about_as_many_frames():
    frames, workers = 40, 2
    plan = stream_plan(frames, [], default_segment_frames(frames, workers, PREROLL), PREROLL)
    made = [s.end - opening_frame(s, PREROLL) for s in plan.segments]
    assert [(s.start, s.end) for s in plan.segments] == [(0, 23), (23, 40)] and made == [23, 23]
    plan = stream_plan(9000, [], default_segment_frames(9000, 8, PREROLL), PREROLL)
    made = [s.end - opening_frame(s, PREROLL) for s in plan.segments]
    assert len(made) == 8 and max(made) - min(made) <= 12


@pytest.mark.parametrize("seed", range(12))
def test_the_plan_made_as_frames_arrive_is_the_plan_made_at_once(seed):
    rng = random.Random(seed)
    frames = rng.randint(1, 120)
    cuts = sorted(rng.sample(range(1, frames), min(frames - 1, rng.randint(0, 4)))) if frames > 1 else []
    length, preroll = rng.randint(1, 30), rng.choice([0, PREROLL])
    whole = stream_plan(frames, cuts, length, preroll)
    builder = PlanBuilder(length, preroll, HANDOFF_FRAMES)
    final, offered = [], {}
    known = 0
    while known < frames:
        known = min(frames, known + rng.randint(1, 9))
        # the caller knows of a cut once it is known
        final += builder.advance(known, [c for c in cuts if c < known + rng.randint(0, 3)])
        opened = builder.open_segment()
        if opened is not None:
            assert opened.end <= known
            offered[opened.index] = max(offered.get(opened.index, 0), opened.end)
            assert opened.start == (whole.segments[opened.index].start)
    final += builder.advance(frames, cuts, finished=True)
    assert builder.plan() == whole and final == list(whole.segments)
    for index, end in offered.items():
        segment = whole.segments[index]
        assert end <= segment.end
        # nothing offered early is a hand-off frame of the final plan
        assert all(handoff_weight(segment, p, HANDOFF_FRAMES, 3.0) == 0 for p in range(segment.start, end))


def test_every_frame_on_its_own_is_final_as_soon_as_it_is_read():
    builder = PlanBuilder(5, independent=True)
    assert [s.start for s in builder.advance(3, [])] == [0, 1, 2]
    assert [s.start for s in builder.advance(4, [], finished=True)] == [3]
    assert builder.plan().frame_count == 4


def test_a_cut_outside_the_clip_is_one_clear_error():
    with pytest.raises(StylevidError, match="outside"):
        stream_plan(10, [12], 4)
    with pytest.raises(StylevidError, match="no frames"):
        stream_plan(0, [], 4)
