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


#: Segments per worker by default: on CPU workers one (a frame takes seconds, so the driver has read
#: the whole clip long before the last segment could start); on GPU workers four, so that the
#: workers follow the driver's reading instead of the last ones waiting for it to reach their
#: segment (benchmarks/scale_out.py models it: 8 GPUs, 9,000 frames, reading 29 ms a frame:
#: one segment per worker 4.2×, four 6.8×).
SEGMENTS_PER_WORKER = {"cpu": 1, "gpu": 4}


def default_segment_frames(frame_count: int, workers: int, preroll: int = 0, per_worker: int = 1) -> int:
    """Frames per segment when none is given: the clip ÷ (workers × ``per_worker``), so each worker
    gets about ``per_worker`` segments of a single-shot clip. With a ``preroll``, each segment after
    the first makes that many frames more than it keeps, so the clip plus the pre-rolls is divided
    (every segment then makes about as many frames)."""
    segments = max(1, workers) * max(1, per_worker)
    return max(1, math.ceil((frame_count + (segments - 1) * preroll) / segments))


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


class PlanBuilder:
    """The plan made as the frames arrive: a driver that decodes while its workers work.

    The rule (:func:`stream_plan` is the same plan made at once): a shot from ``s`` is cut at
    ``s + L``, then every ``L′`` frames, where ``L`` is ``segment_frames`` and ``L′ = L − preroll``
    (a later segment also makes its pre-roll, so each segment makes about ``L`` frames) unless
    ``L ≤ 2·preroll`` (then ``L′ = L``); a rest shorter than ``⌈L′/2⌉`` joins the segment before
    it. Unlike :func:`plan_segments`, a segment's start never depends on where its shot ends, so
    the segments are known, and can be handed out, as soon as the frames (and the cut decisions)
    reach them.

    :meth:`advance` is told how far the clip is *known*: every frame before ``known`` has been
    read and every cut before it decided. A segment is *final* once its end is known (its shot ended,
    or the clip runs on far enough past its nominal end that no short rest can join it). The
    segment still open is offered by :meth:`open_segment` up to where its frames cannot depend on
    its end: before the hand-off frames of a seam at its nominal end.
    """

    def __init__(
        self, segment_frames: int, preroll: int = 0, handoff_frames: int = 0, *, independent: bool = False
    ) -> None:
        if segment_frames < 1:
            raise StylevidError(f"--segment-frames must be 1 or more, got {segment_frames}")
        self.first = segment_frames
        self.later = segment_frames - preroll if segment_frames > 2 * preroll else segment_frames
        self.tail = math.ceil(self.later / 2)  # a shorter rest of a shot joins the segment before it
        self.handoff_frames, self.independent = max(0, handoff_frames), independent
        self.segments: list[Segment] = []  # final
        self.shots: list[tuple[int, int]] = []  # ended
        self.known, self.finished = 0, False
        self.shot_start = self.start = 0  # the shot and the segment still open
        self.step = self.first

    def advance(self, known: int, cuts: Sequence[int], *, finished: bool = False) -> list[Segment]:
        """Take what is known (see the class doc): ``cuts`` holds every cut found so far (later ones are
        ignored until ``known`` passes them); ``finished``: ``known`` is the clip's frame count.
        Returns the segments that became final."""
        if self.finished:
            return []
        if finished:
            for c in cuts:
                if not 0 <= c < known:
                    raise StylevidError(f"scene cut at frame {c} lies outside the clip's {known} frames")
        self.known, self.finished = max(self.known, known), finished
        before = len(self.segments)
        if self.independent:
            for p in range(len(self.segments), self.known):
                self.segments.append(Segment(p, p, p, p + 1, None, p))
                self.shots.append((p, p + 1))
            return self.segments[before:]
        while self.start < self.known:
            following = [c for c in cuts if self.shot_start < c < self.known]
            shot_end = min(following) if following else (self.known if finished else None)
            boundary = self.start + self.step
            if shot_end is None:  # the shot runs on at least to `known`
                if boundary + self.tail > self.known:
                    break  # whether the rest after `boundary` is long enough is not known yet
                self._close(boundary, boundary)
            elif boundary + self.tail <= shot_end:
                self._close(boundary, boundary)
            else:
                self._close(shot_end, None)
                self.shots.append((self.shot_start, shot_end))
                self.shot_start = self.start = shot_end
                self.step = self.first
        return self.segments[before:]

    def _close(self, end: int, following: int | None) -> None:
        shot = len(self.shots)
        self.segments.append(Segment(len(self.segments), shot, self.start, end, following, self.shot_start))
        self.start, self.step = end, self.later

    def open_segment(self) -> Segment | None:
        """The segment not final yet, up to where its frames are known not to depend on its end (None: none)."""
        if self.finished or self.independent:
            return None
        end = min(self.known, self.start + self.step - self.handoff_frames)
        if end <= self.start:
            return None
        return Segment(len(self.segments), len(self.shots), self.start, end, None, self.shot_start)

    def plan(self) -> Plan:
        """The whole plan, once :meth:`advance` was told the clip is finished."""
        if not self.finished:
            raise ValueError("the plan is complete only once the clip has been read to its end")
        if not self.segments:
            raise StylevidError("nothing to plan: the clip has no frames")
        return Plan(self.known, tuple(self.shots), tuple(self.segments))


def stream_plan(
    frame_count: int, cuts: Sequence[int], segment_frames: int, preroll: int = 0, *, independent: bool = False
) -> Plan:
    """The plan :class:`PlanBuilder` makes of a whole clip, made at once."""
    builder = PlanBuilder(segment_frames, preroll, independent=independent)
    builder.advance(frame_count, cuts, finished=True)
    return builder.plan()
