"""Frames at processing size, each with the optical flow back to the frame before it.

Everything here depends only on the original frames, never on a stylised one, so it can be
computed ahead of the optimiser (see :mod:`~stylevid.pipeline.prefetch`). The flows and masks
serve three purposes: the flow-warped initialisation, the temporal loss, and the warping error
of each pair (Lai et al. 2018), which is measured as soon as both frames are stylised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..io.images import to_picture, to_tensor
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
    given: RunFlow | None = None,
) -> Iterator[PreparedFrame]:
    """Each frame at processing size with its backward flow and mask.

    Frames before position ``flows_from`` (finished by an earlier run) come without flow. With
    ``given`` (``--flow-dir``) the flow and mask come from its files instead of ``flow_method``.
    """
    flow = FlowEstimator(flow_method)
    previous: np.ndarray | None = None
    previous_index = -1
    for frame in frames:
        content = to_processing_size(frame.picture)
        flow_bw = reliable = None
        if previous is not None and frame.position >= flows_from:
            if given is not None:
                height, width = content.shape[:2]
                flow_bw, reliable = given.reliable_backward(previous_index + 1, frame.index + 1, height, width)
            else:
                flow_bw, reliable = flow.reliable_backward(previous, content)
        yield PreparedFrame(frame, content, flow_bw, reliable)
        previous, previous_index = content, frame.index


def warp_into(previous_stylised: np.ndarray, flow_bw: torch.Tensor) -> np.ndarray:
    """A stylised frame warped by a backward flow into a later frame (uint8, like a stylised frame)."""
    with torch.no_grad():
        return to_picture(warp(to_tensor(previous_stylised), flow_bw))


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
