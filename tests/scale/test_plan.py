"""The scale-out plan: shots at cuts, near-equal segments inside shots, the hand-off ramp (pure arithmetic)."""

from __future__ import annotations

import pytest

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.scale.plan import (
    default_segment_frames,
    handoff_weight,
    independent_plan,
    opening_frame,
    plan_segments,
    settle_fraction,
)


def test_one_shot_is_split_into_near_equal_segments_covering_every_frame():
    plan = plan_segments(10, [], 4)
    assert [(s.start, s.end) for s in plan.segments] == [(0, 3), (3, 6), (6, 10)]
    assert [s.next_keyframe for s in plan.segments] == [3, 6, None]
    assert plan.keyframes == (0, 3, 6)
    assert plan.seams == (3, 6) and plan.cuts == ()


def test_a_cut_is_a_free_seam_and_segments_never_cross_it():
    plan = plan_segments(20, [8], 4)
    assert plan.shots == ((0, 8), (8, 20))
    assert [(s.shot, s.start, s.end) for s in plan.segments] == [
        (0, 0, 4),
        (0, 4, 8),
        (1, 8, 12),
        (1, 12, 16),
        (1, 16, 20),
    ]
    assert plan.cuts == (8,)
    assert plan.seams == (4, 12, 16)  # inside shots only
    assert [s.shot_start for s in plan.segments] == [0, 0, 8, 8, 8]  # where an anchored keyframe starts from
    last_of_first_shot = plan.segment_of(7)
    assert last_of_first_shot.next_keyframe is None  # nothing pulls across a cut


def test_every_frame_is_in_exactly_one_segment():
    plan = plan_segments(1000, [13, 400, 401, 999], 37)
    covered = [p for s in plan.segments for p in range(s.start, s.end)]
    assert covered == list(range(1000))
    assert max(s.length for s in plan.segments) <= 37
    assert [plan.segment_of(p).start <= p for p in (0, 500, 999)] == [True] * 3


def test_a_shot_no_longer_than_segment_frames_stays_whole():
    plan = plan_segments(30, [10], 20)
    assert [(s.start, s.end) for s in plan.segments] == [(0, 10), (10, 30)]


def test_bad_cuts_and_sizes_are_refused_with_a_clear_line():
    with pytest.raises(StylevidError, match="outside"):
        plan_segments(10, [10], 4)
    with pytest.raises(StylevidError, match="segment-frames"):
        plan_segments(10, [], 0)
    with pytest.raises(StylevidError, match="no frames"):
        plan_segments(0, [], 4)


def test_default_segment_gives_each_worker_about_one_segment():
    assert default_segment_frames(9000, 8) == 1125
    assert len(plan_segments(9000, [], default_segment_frames(9000, 8)).segments) == 8
    assert default_segment_frames(5, 8) == 1


def test_independent_frames_are_each_their_own_keyframe():
    plan = independent_plan(4)
    assert plan.keyframes == (0, 1, 2, 3) and plan.seams == ()


def test_handoff_ramps_up_to_the_seam_and_only_before_one():
    first, last = plan_segments(20, [], 10).segments
    weights = [handoff_weight(first, p, 4, 2.0) for p in range(first.start, first.end)]
    assert weights == pytest.approx([0, 0, 0, 0, 0, 0, 2 / 4, 2 / 3, 2 / 2, 2 / 1])
    assert all(handoff_weight(last, p, 4, 2.0) == 0 for p in range(last.start, last.end))
    short = plan_segments(6, [], 3).segments[0]  # 3 frames: its keyframe is never pulled
    assert [handoff_weight(short, p, 8, 1.0) for p in range(0, 3)] == [0, 0.5, 1.0]
    assert handoff_weight(first, 9, 0, 1.0) == 0 and handoff_weight(first, 9, 4, 0.0) == 0


def test_compounded_pulls_of_strength_one_spread_the_difference_in_equal_steps():
    """Each frame starts where its predecessor ended and moves w/(1 + w) of the rest towards the keyframe."""
    segment = plan_segments(20, [], 10).segments[0]
    fraction, steps = 0.0, []
    for position in range(segment.end - 5, segment.end):
        w = handoff_weight(segment, position, 5, 1.0)
        step = (1 - fraction) * w / (1 + w)
        fraction += step
        steps.append(step)
    steps.append(1 - fraction)  # the seam itself
    assert steps == pytest.approx([1 / 6] * 6)


def test_a_segment_inside_a_shot_opens_early_but_never_before_its_shot():
    plan = plan_segments(40, [20], 10)
    assert [opening_frame(s, 4) for s in plan.segments] == [0, 6, 20, 26]
    assert [opening_frame(s, 8) for s in plan_segments(30, [], 5).segments] == [0, 0, 2, 7, 12, 17]


def test_settle_mixes_the_hand_off_frames_in_equal_steps():
    first = plan_segments(20, [], 10).segments[0]
    assert [settle_fraction(first, p, 4) for p in range(4, 10)] == pytest.approx([0, 0, 0.2, 0.4, 0.6, 0.8])
    assert settle_fraction(plan_segments(20, [], 10).segments[1], 15, 4) == 0


def test_segments_inside_a_shot_are_shorter_by_their_pre_roll_so_the_work_is_even():
    plan = plan_segments(100, [], 34, preroll=6)
    lengths = [s.length + (6 if s.start else 0) for s in plan.segments]  # frames each segment makes
    assert [(s.start, s.end) for s in plan.segments] == [(0, 37), (37, 68), (68, 100)]
    assert max(lengths) - min(lengths) <= 1
    assert [(s.start, s.end) for s in plan_segments(12, [], 6, preroll=3).segments] == [(0, 6), (6, 12)]  # too short
