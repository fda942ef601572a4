"""Frames at processing size, each with the optical flow back to the frame before it.

Everything here depends only on the original frames, never on a stylised one, so it can be
computed ahead of the optimiser (see :mod:`~stylevid.pipeline.prefetch`). The flows and masks
serve three purposes: the flow-warped initialisation, the temporal loss, and the warping error
of each pair (Lai et al. 2018), which is measured as soon as both frames are stylised.

Scene cuts (``--cuts``) are found here too, on the same frames: each frame knows the first frame
of its shot. A frame that opens a shot has no backward flow (nothing before it in its shot), so
nothing is warped, held or measured across a cut. Detection (:mod:`~..motion.cuts`) decides a
pair a few frames later, so frames are handed out that many frames behind the decoding.

With ``--long-term`` (Ruder et al. 2016, sec. 3.2) a frame also gets the flow and mask towards each
earlier frame ``t − j`` of the gaps ``j > 1``, computed directly between the original frames, for
the earlier frames of its own shot only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..io.images import to_picture, to_tensor
from ..motion.cuts import CutFinder, change_score, flow_estimator, shrink
from ..motion.flow import FlowEstimator
from ..motion.warp import warp
from ..motion.warping_error import warping_error_pair
from .frames import Frame
from .given_motion import RunFlow


@dataclass
class PreparedFrame:
    frame: Frame  # the decoded frame as the source gave it
    content: np.ndarray  # the frame at processing size, H×W×3 uint8 RGB
    # (1, 2, H, W): this frame's pixel x was at x + flow_bw(x) in the frame before; None for the first
    flow_bw: torch.Tensor | None
    # (1, 1, H, W) Ruder et al.'s consistency mask of that flow (1 = trustworthy); None for the first
    reliable: torch.Tensor | None
    shot_start: int = 0  # position of the first frame of this frame's shot (its own when it opens one)
    cut_score: float | None = None  # change score from the frame before (--cuts auto; motion/cuts.py)
    # --long-term: (gap j > 1, flow_bw (1, 2, H, W) towards frame t − j, its mask (1, 1, H, W)), gaps
    # increasing, only those whose frame t − j is in this frame's shot; empty for the short-term loss
    long_range: tuple[tuple[int, torch.Tensor, torch.Tensor], ...] = ()

    @property
    def opens_shot(self) -> bool:
        """Frame 0, or the first frame after a cut: stylised afresh, as frame 0 is."""
        return self.frame.position == self.shot_start

    def motion(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(flow_bw, reliable): what a frame that follows another is warped and held by."""
        if self.flow_bw is None or self.reliable is None:
            raise ValueError(f"frame {self.frame.position} opens its source: it has no backward flow")
        return self.flow_bw, self.reliable


def prepare_frames(
    frames: Iterable[Frame],
    to_processing_size: Callable[[np.ndarray], np.ndarray],
    flow_method: str,
    *,
    flows_from: int = 0,
    cuts: str | tuple[int, ...] = "off",
    given: RunFlow | None = None,
    long_term: tuple[int, ...] = (1,),
    device: torch.device | None = None,
) -> Iterator[PreparedFrame]:
    """Each frame at processing size with its shot and, unless it opens one, its backward flow and mask.

    ``cuts``: "auto" (detected on every frame), "off", or the positions that open new shots.
    Frames before position ``flows_from`` (finished by an earlier run) come without flow; cuts are
    detected on them all the same, so a resumed run finds the cuts of the run it resumes. With
    ``given`` (``--flow-dir``) the flow and mask come from its files instead of ``flow_method``,
    which runs on ``device`` where it can (RAFT; ``None``: the GPU where there is one).
    ``long_term``: the temporal gaps (``--long-term``); each gap ``j > 1`` adds the flow from the
    frame ``j`` positions back, when that frame is in the same shot (:attr:`PreparedFrame.long_range`).
    """
    flow = FlowEstimator(flow_method, device)
    finder = CutFinder() if cuts == "auto" else None
    dis = flow_estimator() if finder is not None else None
    forced = set(cuts) if isinstance(cuts, tuple) else set()
    pending: deque[tuple[Frame, np.ndarray, float | None]] = deque()  # decoded, their pair not yet decided
    previous_small: np.ndarray | None = None
    # (position, source index, content) of the last frames handed out, newest last, as far back as the gaps reach
    earlier: deque[tuple[int, int, np.ndarray]] = deque(maxlen=max(long_term))
    shot_start = 0

    def backward(
        back: tuple[int, int, np.ndarray], frame: Frame, content: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(flow_bw, reliable) of ``frame`` towards the earlier frame ``back``."""
        if given is not None:  # flow files number frames from 1
            height, width = content.shape[:2]
            return given.reliable_backward(back[1] + 1, frame.index + 1, height, width)
        return flow.reliable_backward(back[2], content)

    def hand_out() -> PreparedFrame:
        nonlocal shot_start
        frame, content, score = pending.popleft()
        if frame.position == 0 or frame.position in forced:
            shot_start = frame.position
        flow_bw = reliable = None
        long_range: list[tuple[int, torch.Tensor, torch.Tensor]] = []
        if earlier and frame.position != shot_start and frame.position >= flows_from:
            flow_bw, reliable = backward(earlier[-1], frame, content)
            for gap in long_term[1:]:
                if gap > len(earlier) or frame.position - gap < shot_start:
                    break
                assert earlier[-gap][0] == frame.position - gap  # positions are consecutive
                long_range.append((gap, *backward(earlier[-gap], frame, content)))
        earlier.append((frame.position, frame.index, content))
        return PreparedFrame(frame, content, flow_bw, reliable, shot_start, score, tuple(long_range))

    for frame in frames:
        content = to_processing_size(frame.picture)
        score = None
        if finder is not None:
            small = shrink(content)
            if previous_small is not None:
                # frames of another size (a folder of mixed pictures) cannot continue a shot
                score = change_score(previous_small, small, dis) if small.shape == previous_small.shape else 255.0
                forced.update(finder.add(score))
            previous_small = small
        pending.append((frame, content, score))
        while pending and (finder is None or pending[0][0].position <= finder.decided):
            yield hand_out()
    if finder is not None:
        forced.update(finder.finish())
    while pending:
        yield hand_out()


def warp_into(previous_stylised: np.ndarray, flow_bw: torch.Tensor, mode: str = "bilinear") -> np.ndarray:
    """A stylised frame warped by a backward flow into a later frame (uint8, like a stylised frame:
    a bicubic ``mode``'s overshoot is clipped to the picture's range)."""
    with torch.no_grad():
        return to_picture(warp(to_tensor(previous_stylised), flow_bw, mode=mode))


def pair_warping_error(previous_stylised: np.ndarray, stylised: np.ndarray, prepared: PreparedFrame) -> float:
    """E_t of this frame and the one before (Lai et al. 2018): see :mod:`~stylevid.pipeline.warping_error`."""
    if prepared.flow_bw is None or prepared.reliable is None:
        raise ValueError(f"frame {prepared.frame.position} has no frame before it")
    with torch.no_grad():
        return float(
            warping_error_pair(to_tensor(previous_stylised), to_tensor(stylised), prepared.flow_bw, prepared.reliable)[
                0
            ]
        )
