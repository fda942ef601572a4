"""The plan of a scaled-out run: shots at scene cuts, segments inside shots, and the seams between them.

Pure arithmetic, no torch. A cut is a free seam: the first frame of a shot starts afresh, as
frame 1 of a video does. A shot longer than ``segment_frames`` is split into near-equal
segments. Each segment's chain *opens* on a keyframe stylised on its own (all openings first, in
parallel) and runs frame by frame from it; a segment inside a shot opens ``preroll`` frames
before its first frame and drops those, so its first frame comes from a settled chain, as the
frame before the seam does. The last ``handoff_frames`` frames of a segment with a successor in
its shot are also pulled towards the successor's first frame (see :mod:`.handoff`), with a weight
that ramps up to ``strength`` at the seam, so the two sides meet instead of jumping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import StylevidError


@dataclass(frozen=True)
class Segment:
    index: int  # 0, 1, … in frame order over the whole clip
    shot: int  # the shot it belongs to
    start: int  # its keyframe: first position (0-based) of the segment
    end: int  # one past its last position
    next_keyframe: int | None  # start of the next segment of the same shot (a seam follows), else None
    shot_start: int = 0  # first frame of its shot

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Plan:
    frame_count: int
    shots: tuple[tuple[int, int], ...]  # (start, end) of each shot
    segments: tuple[Segment, ...]

    @property
    def keyframes(self) -> tuple[int, ...]:
        return tuple(s.start for s in self.segments)

    @property
    def seams(self) -> tuple[int, ...]:
        """First frames of segments that continue a shot (seams that must not show)."""
        return tuple(s.start for s in self.segments if s.start not in self.cuts and s.start > 0)

    @property
    def cuts(self) -> tuple[int, ...]:
        """First frames of shots after the first (free seams)."""
        return tuple(start for start, _ in self.shots[1:])

    def segment_of(self, position: int) -> Segment:
        for segment in self.segments:
            if segment.start <= position < segment.end:
                return segment
        raise ValueError(f"position {position} is outside the plan's {self.frame_count} frames")

    def boundaries(self) -> list[list[int]]:
        """[start, end] of every segment: what the frames depend on (the work folder's fingerprint)."""
        return [[s.start, s.end] for s in self.segments]


def default_segment_frames(frame_count: int, workers: int) -> int:
    """Frames per segment when none is given: the clip ÷ workers, so each worker gets about one
    segment of a single-shot clip (the fewest keyframes that keep every worker busy)."""
    return max(1, math.ceil(frame_count / max(1, workers)))


def plan_segments(frame_count: int, cuts: Sequence[int], segment_frames: int, preroll: int = 0) -> Plan:
    """Shots from ``cuts`` (first frames of new shots), each split into segments of at most
    ``segment_frames`` frames, of near-equal work: a segment inside a shot also makes ``preroll``
    frames before its first one, so it is that much shorter than the shot's first segment (unless
    the segments are too short for it to matter: then they are of near-equal length)."""
    if frame_count < 1:
        raise StylevidError("nothing to plan: the clip has no frames")
    if segment_frames < 1:
        raise StylevidError(f"--segment-frames must be 1 or more, got {segment_frames}")
    starts = sorted({0, *(c for c in cuts if 0 < c < frame_count)})
    for c in cuts:
        if not 0 <= c < frame_count:
            raise StylevidError(f"scene cut at frame {c} lies outside the clip's {frame_count} frames")
    shots = tuple(zip(starts, [*starts[1:], frame_count]))
    segments: list[Segment] = []
    for shot_index, (start, end) in enumerate(shots):
        count = math.ceil((end - start) / segment_frames)
        bounds = [start + (end - start) * k // count for k in range(count + 1)]
        if count > 1 and (end - start) > 2 * preroll * count:
            work = end - start + (count - 1) * preroll  # frames made, pre-rolls included
            bounds = [start] + [start + work * k // count - (k - 1) * preroll for k in range(1, count)] + [end]
        for k in range(count):
            following = bounds[k + 1] if k + 1 < count else None
            segments.append(Segment(len(segments), shot_index, bounds[k], bounds[k + 1], following, start))
    return Plan(frame_count, shots, tuple(segments))


def independent_plan(frame_count: int) -> Plan:
    """Every frame on its own (``--frame-init independent``): one segment per frame, no seams to hide."""
    segments = tuple(Segment(p, p, p, p + 1, None, p) for p in range(frame_count))
    return Plan(frame_count, tuple((p, p + 1) for p in range(frame_count)), segments)


def handoff_weight(segment: Segment, position: int, handoff_frames: int, strength: float) -> float:
    """How strongly frame ``position`` of ``segment`` is pulled towards the next keyframe (0: not at all).

    The last ``n = handoff_frames`` frames before the seam (never the segment's own keyframe) get
    ``strength / (n + 1 − j)`` for the j-th of them (1 … n): ``strength/n`` … ``strength/2``,
    ``strength`` just before the seam. Each frame starts from its predecessor, so the pulls compound:
    with strength 1 the j-th frame lies j/(n + 1) of the way from where the segment was heading to
    the keyframe, and the difference between the two sides is spread over n + 1 equal steps (the
    warping error of a pair grows with the square of its step).
    """
    if segment.next_keyframe is None or handoff_frames < 1 or strength <= 0:
        return 0.0
    span = min(handoff_frames, segment.length - 1)
    from_seam = segment.end - position  # 1 for the frame just before the seam
    if not segment.start < position < segment.end or from_seam > span:
        return 0.0
    return strength / from_seam


def settle_fraction(segment: Segment, position: int, handoff_frames: int) -> float:
    """How far hand-off frame ``position`` is finally mixed towards the warped next keyframe:
    j/(n + 1) for the j-th of the segment's last n frames, 0 outside them (see :mod:`.handoff`)."""
    if segment.next_keyframe is None or handoff_frames < 1:
        return 0.0
    span = min(handoff_frames, segment.length - 1)
    from_seam = segment.end - position
    if not segment.start < position < segment.end or from_seam > span:
        return 0.0
    return (span - from_seam + 1) / (span + 1)


def opening_frame(segment: Segment, preroll: int) -> int:
    """Where ``segment``'s chain starts: its keyframe at the shot's start, else ``preroll`` frames before
    its first frame (never before its shot). Frames before ``segment.start`` are made and dropped."""
    if segment.start == segment.shot_start:
        return segment.start
    return max(segment.shot_start, segment.start - preroll)
