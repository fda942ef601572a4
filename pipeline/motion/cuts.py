"""Scene cuts: where one shot ends and the next begins, found on the original frames (no I/O).

The detector follows PySceneDetect's ContentDetector and AdaptiveDetector (Castellano,
scenedetect.com) in spirit, with one addition: the difference is measured after motion
compensation. The code is our own and needs nothing but numpy and OpenCV.

1. **Change score of a pair** (:func:`change_score`): both frames are shrunk to at most
   :data:`FEATURE_SIDE` px (:func:`shrink`); the earlier one is warped onto the later one by
   OpenCV's DIS optical flow (preset MEDIUM, on grey levels; its own instance, so that tuning
   ``--flow-method`` never moves the cuts), and the score is the mean, over
   H, S and V, of the mean absolute difference per pixel, on a 0–255 scale, leaving out a
   :data:`BORDER` of the frame (where a pan brings in new content). Hue is an angle, so its
   difference goes the short way round the circle. Within a shot the flow explains the new frame:
   about 2–5 on the sample clip, at most 11 where the hand-held camera jerks. Across a cut it
   cannot: 60 on the issue's clip. Without the motion compensation (ContentDetector's score) a
   jerk of the sample clip scored 21 and a cut 68, too close to tell apart safely.
2. **Adaptive threshold** (:func:`is_cut`): a pair is a cut when its score is at least
   :data:`MIN_SCORE` *and* at least :data:`RATIO` × the mean score of the :data:`WINDOW` pairs on
   each side of it. A cut stands out from its neighbours; motion that the flow does not follow
   raises the scores of all its pairs alike. Near the ends of the clip the window holds the pairs
   there are.
3. **Minimum shot length**: a cut closer than :data:`MIN_SHOT` frames after the previous shot's
   first frame is dropped (a flash or a strobe is not a new shot).

Positions: ``scores[i]`` is the change from frame ``i`` to frame ``i + 1``; a cut found there is
reported as ``i + 1``, the first frame of the new shot. Frame 0 always opens the first shot and is
never listed. Everything is deterministic: the same frames give the same cuts, so a resumed run
finds the cuts of the run it resumes.

:func:`find_cuts` takes all scores at once (a driver that has decoded a whole clip);
:class:`CutFinder` takes them one at a time and decides each pair as soon as its window is
known, :data:`WINDOW` pairs later (the video pipeline, which prepares frames as a stream). Both
give the same cuts. Measurements: ``benchmarks/cuts.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..checks import check_picture

#: Longest side (px) of the frames scores are computed on: cheap at any processing size (about
#: 6 ms a pair on one CPU core), and the shrinking averages sensor noise and grain away.
FEATURE_SIDE = 256
#: Share of each side of the frame left out of the score (content entering the frame has no match).
BORDER = 0.05
#: Pairs on each side of a pair whose mean score it is compared with (AdaptiveDetector: 2).
WINDOW = 2
#: A cut's score is at least this many times its neighbours' mean (AdaptiveDetector: 3).
RATIO = 3.0
#: A cut's score is at least this (0–255 scale; AdaptiveDetector's floor for its uncompensated score: 15).
MIN_SCORE = 15.0
#: Frames a shot has at least, counting its first (AdaptiveDetector: 15 frames; ours is shorter so
#: that short shots of a cut-down clip still count, while a one-frame flash does not).
MIN_SHOT = 4


def shrink(picture: np.ndarray) -> np.ndarray:
    """A frame (H×W×3 uint8 RGB) at most :data:`FEATURE_SIDE` px on its longer side: what scores compare."""
    check_picture("picture", picture)
    height, width = picture.shape[:2]
    scale = FEATURE_SIDE / max(height, width)
    if scale >= 1:
        return picture
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(picture, size, interpolation=cv2.INTER_AREA)


def flow_estimator() -> cv2.DISOpticalFlow:
    """The optical flow the change score is measured through."""
    return cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)


def change_score(before: np.ndarray, after: np.ndarray, dis: cv2.DISOpticalFlow | None = None) -> float:
    """How much of ``after`` the motion from ``before`` does not explain (0–255; see the module doc).

    Both are :func:`shrink`-ed frames of one shape; ``dis`` (from :func:`flow_estimator`) can be
    reused between calls.
    """
    if before.shape != after.shape:
        raise ValueError(f"frames of different shapes: {before.shape} and {after.shape}")
    gray_before, gray_after = (cv2.cvtColor(p, cv2.COLOR_RGB2GRAY) for p in (before, after))
    # after(x) ≈ before(x + flow_bw(x)); the stub wants an output array, None lets OpenCV allocate one
    flow_bw = (dis or flow_estimator()).calc(gray_after, gray_before, None)  # type: ignore[call-overload]
    height, width = after.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    warped = cv2.remap(
        before, xs + flow_bw[..., 0], ys + flow_bw[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    top, left = int(height * BORDER), int(width * BORDER)
    inner = (slice(top, height - top), slice(left, width - left))
    hsv_before = cv2.cvtColor(warped, cv2.COLOR_RGB2HSV_FULL)[inner].astype(np.int16)
    hsv_after = cv2.cvtColor(np.ascontiguousarray(after), cv2.COLOR_RGB2HSV_FULL)[inner].astype(np.int16)
    difference = np.abs(hsv_after - hsv_before)
    hue = np.minimum(difference[..., 0], 256 - difference[..., 0])
    return float((hue.mean() + difference[..., 1].mean() + difference[..., 2].mean()) / 3)


def is_cut(
    scores: Sequence[float],
    pair: int,
    *,
    window: int = WINDOW,
    ratio: float = RATIO,
    min_score: float = MIN_SCORE,
) -> bool:
    """Whether ``scores[pair]`` stands out as a cut (before the minimum shot length is applied).

    Needs the scores up to ``pair + window`` (or to the end of the clip).
    """
    score = scores[pair]
    if score < min_score:
        return False
    neighbours = [*scores[max(0, pair - window) : pair], *scores[pair + 1 : pair + 1 + window]]
    if not neighbours:
        return True  # a two-frame clip: nothing to compare with but the floor
    return score >= ratio * float(np.mean(neighbours))


def find_cuts(
    scores: Sequence[float],
    *,
    window: int = WINDOW,
    ratio: float = RATIO,
    min_score: float = MIN_SCORE,
    min_shot: int = MIN_SHOT,
) -> list[int]:
    """First frames of the shots after the first, from the change scores of all consecutive pairs."""
    finder = CutFinder(window=window, ratio=ratio, min_score=min_score, min_shot=min_shot)
    cuts = [cut for score in scores for cut in finder.add(score)]
    return cuts + finder.finish()


class CutFinder:
    """:func:`find_cuts` one score at a time: :meth:`add` returns the cuts decided by then."""

    def __init__(
        self,
        *,
        window: int = WINDOW,
        ratio: float = RATIO,
        min_score: float = MIN_SCORE,
        min_shot: int = MIN_SHOT,
    ) -> None:
        if window < 1 or min_shot < 1 or ratio <= 0 or min_score < 0:
            raise ValueError("window and min_shot must be 1 or more, ratio positive, min_score 0 or more")
        self.window, self.ratio, self.min_score, self.min_shot = window, ratio, min_score, min_shot
        self.scores: list[float] = []
        self.decided = 0  # pairs decided so far
        self.shot_start = 0  # first frame of the current shot

    @property
    def lag(self) -> int:
        """Pairs that must follow a pair before it is decided."""
        return self.window

    def add(self, score: float) -> list[int]:
        """Take the score of the next pair; returns the cuts (first frames of new shots) now decided."""
        self.scores.append(float(score))
        return self._decide(len(self.scores) - self.window)

    def finish(self) -> list[int]:
        """The end of the clip: decide the pairs still waiting for their window."""
        return self._decide(len(self.scores))

    def _decide(self, until: int) -> list[int]:
        cuts = []
        while self.decided < until:
            pair = self.decided
            self.decided += 1
            if pair + 1 - self.shot_start < self.min_shot:
                continue
            if is_cut(self.scores, pair, window=self.window, ratio=self.ratio, min_score=self.min_score):
                self.shot_start = pair + 1
                cuts.append(pair + 1)
        return cuts


def shots(cuts: Sequence[int], frames: int) -> list[tuple[int, int]]:
    """(first, last) frame of every shot of a clip of ``frames`` frames cut at ``cuts``."""
    starts = [0, *[c for c in cuts if 0 < c < frames]]
    ends = [*starts[1:], frames]
    return [(first, end - 1) for first, end in zip(starts, ends, strict=True)] if frames > 0 else []
