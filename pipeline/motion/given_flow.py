"""Reliability of given flow (``.flo`` files read by :mod:`stylevid.pipeline.io.flow_folder`), as tensors.

Conventions (flows, masks): see :mod:`stylevid.pipeline.motion`. Which file serves which pair of
frames, and where masks are found: :mod:`stylevid.pipeline.io.flow_folder`.

Reliability of a pair (1 = reliable), the same rule for evaluation and for a run:

* the pixel's flow lands inside the other frame, and it is neither occluded nor invalid where
  masks are given;
* when the flow has no occlusion mask but the other direction's flow is given too, Ruder et
  al.'s forward-backward check (:func:`~stylevid.pipeline.motion.occlusion.consistency_mask`)
  decides instead, as for estimated flow;
* with one direction and no masks, only the first rule applies (occluded pixels then count).

A run (warped init and temporal loss) needs the **backward** flow of every later frame; forward
flows alone (Sintel's) serve ``stylevid eval``, which measures such a pair on the earlier frame's
grid: ``E = mean_M |V_{t-1} − warp(V_t, flow_fw)|²`` (see
:class:`~stylevid.pipeline.motion.warping_error.GivenFlowMeter`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .flow import flow_to_tensor
from .occlusion import consistency_mask
from .warp import inside_mask

__all__ = ["PairMotion", "pair_motion"]


@dataclass(frozen=True)
class PairMotion:
    """Given motion between frames ``I`` (earlier) and ``J`` (later) at processing size.

    ``flow_bw``/``reliable_bw`` live on frame J's grid, ``flow_fw``/``reliable_fw`` on frame I's:
    ``(1, 2, h, w)`` and ``(1, 1, h, w)`` float32 tensors, None for a direction not given.
    """

    flow_bw: torch.Tensor | None
    reliable_bw: torch.Tensor | None
    flow_fw: torch.Tensor | None
    reliable_fw: torch.Tensor | None


def pair_motion(
    flow_bw: np.ndarray | None, masked_bw: np.ndarray | None, flow_fw: np.ndarray | None, masked_fw: np.ndarray | None
) -> PairMotion:
    """Tensors and reliability masks of the given flows of one pair (see module doc).

    ``flow_*`` are ``(h, w, 2)`` numpy flows or None; ``masked_*`` ``(h, w)`` bool (True = ruled out
    by a given mask) or None when that flow came without an occlusion mask.
    """
    bw = flow_to_tensor(flow_bw) if flow_bw is not None else None
    fw = flow_to_tensor(flow_fw) if flow_fw is not None else None
    return PairMotion(bw, _reliable(bw, masked_bw, fw), fw, _reliable(fw, masked_fw, bw))


def _reliable(flow: torch.Tensor | None, masked: np.ndarray | None, other: torch.Tensor | None) -> torch.Tensor | None:
    """Reliability of ``flow`` (see module doc): masks given, else the forward-backward check, else inside."""
    if flow is None:
        return None
    if masked is None and other is not None:
        return consistency_mask(other, flow)
    reliable = inside_mask(flow)
    if masked is not None:
        reliable = reliable * torch.from_numpy(~masked).to(reliable.dtype)[None, None]
    return reliable
