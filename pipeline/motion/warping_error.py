"""Temporal warping error of a stylised video (Lai et al. 2018, "Learning Blind
Video Temporal Consistency", sec. 5).

Conventions (images, flows, masks): see :mod:`stylevid.pipeline.motion`.

For each consecutive pair (t-1, t), with ``V`` the stylised frames and ``M`` the
reliability mask of frame t (:func:`~stylevid.pipeline.motion.occlusion.consistency_mask`)
computed from the flows of the **original** frames:

.. math::

    E_t = \\frac{\\sum_x M(x) \\sum_{c=1}^{C} \\big(V_t^c(x) - \\hat V_{t-1}^c(x)\\big)^2}
               {C \\sum_x M(x)},
    \\qquad \\hat V_{t-1} = \\text{warp}(V_{t-1}, \\text{flow\\_bw})

i.e. the mean over reliable pixels of the squared RGB difference averaged over the
channels, and the video's error is the mean of ``E_t`` over its pairs.  If no pixel is
reliable, ``E_t = 0``, as in Lai et al.'s reference code.  A pair across a scene cut (the later
frame opens a new shot, see :mod:`.cuts`) has no motion to follow and is left out.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..io.images import check_picture, to_tensor
from .flow import FlowEstimator
from .given_flow import PairMotion
from .warp import warp

__all__ = [
    "GivenFlowMeter",
    "WarpingErrorMeter",
    "WarpingErrorResult",
    "warping_error_pair",
    "warping_error_sequence",
]


def warping_error_pair(
    prev_stylised: torch.Tensor,
    cur_stylised: torch.Tensor,
    flow_bw: torch.Tensor,
    mask: torch.Tensor,
) -> torch.Tensor:
    """Warping error ``E_t`` of one pair, per batch item (see module docstring).

    .. math::

        E_t = \\frac{\\sum_x M(x)\\,\\lVert V_t(x) - \\text{warp}(V_{t-1}, \\text{flow\\_bw})(x)\\rVert^2}
                   {C \\sum_x M(x)}

    Args:
        prev_stylised: ``(B, C, H, W)`` stylised frame t-1, values in ``[0, 1]``.
        cur_stylised: ``(B, C, H, W)`` stylised frame t, values in ``[0, 1]``.
        flow_bw: ``(B, 2, H, W)`` backward flow of frame t.
        mask: ``(B, 1, H, W)`` reliability mask of frame t (1 = reliable).

    Returns:
        ``(B,)`` tensor; 0 for an item whose mask is empty.
    """
    for name, t in (
        ("prev_stylised", prev_stylised),
        ("cur_stylised", cur_stylised),
        ("flow_bw", flow_bw),
        ("mask", mask),
    ):
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.ndim != 4 or not t.is_floating_point():
            raise ValueError(f"{name} must be a 4-D floating tensor, got shape {tuple(t.shape)} dtype {t.dtype}")
    if prev_stylised.shape != cur_stylised.shape:
        raise ValueError(
            f"prev_stylised {tuple(prev_stylised.shape)} and cur_stylised "
            f"{tuple(cur_stylised.shape)} must have the same shape"
        )
    b, c, h, w = cur_stylised.shape
    if tuple(flow_bw.shape) != (b, 2, h, w):
        raise ValueError(f"flow_bw must have shape {(b, 2, h, w)}, got {tuple(flow_bw.shape)}")
    if tuple(mask.shape) != (b, 1, h, w):
        raise ValueError(f"mask must have shape {(b, 1, h, w)}, got {tuple(mask.shape)}")

    warped = warp(prev_stylised, flow_bw.to(prev_stylised.device), padding_mode="border")
    m = mask.to(device=cur_stylised.device, dtype=cur_stylised.dtype)
    sq = (cur_stylised - warped).pow(2).sum(dim=1, keepdim=True)
    num = (m * sq).sum(dim=(1, 2, 3))
    den = m.sum(dim=(1, 2, 3)) * c
    return torch.where(den > 0, num / den.clamp_min(1e-12), torch.zeros_like(num))


@dataclass(frozen=True)
class WarpingErrorResult:
    """Per-pair warping errors ``values[i] = E_{i+1}`` (pair i, i+1) and their mean.

    ``mean`` is NaN when there are fewer than two frames.
    """

    values: tuple[float, ...]
    mean: float


class WarpingErrorMeter:
    """Streaming warping error: feed frames one at a time, in order.

    Holds only the previous original and stylised frame.  Each original is first
    resized to its stylised frame's size (``cv2.INTER_AREA`` when shrinking,
    ``cv2.INTER_LINEAR`` when enlarging); flows and masks come from the originals.

    Example::

        meter = WarpingErrorMeter("dis")
        for orig, styl in frames:
            meter.update(orig, styl)     # None for the first frame, else E_t
        print(meter.mean, meter.values)

    Args:
        method: optical flow method, one of ``FLOW_METHODS`` (``StylevidError``
            otherwise).
    """

    def __init__(self, method: str = "dis") -> None:
        self._flow = FlowEstimator(method)
        self._prev_original: np.ndarray | None = None
        self._prev_stylised: torch.Tensor | None = None
        self._values: list[float] = []

    @property
    def values(self) -> tuple[float, ...]:
        """Per-pair errors so far, in frame order."""
        return tuple(self._values)

    @property
    def mean(self) -> float:
        """Mean of :attr:`values`; NaN before the second frame."""
        return math.fsum(self._values) / len(self._values) if self._values else math.nan

    def result(self) -> WarpingErrorResult:
        return WarpingErrorResult(values=self.values, mean=self.mean)

    def update(self, original: np.ndarray, stylised: np.ndarray, *, opens_shot: bool = False) -> float | None:
        """Add frame t; return ``E_t`` (``None`` for the first frame, and for one that opens a shot).

        Args:
            original: uint8 ``(H, W, 3)`` RGB original frame t.
            stylised: uint8 ``(h, w, 3)`` RGB stylised frame t; every stylised frame
                of a sequence must have the same size.
        """
        check_picture("original", original)
        check_picture("stylised", stylised)
        h, w = stylised.shape[:2]
        if original.shape[:2] != (h, w):
            shrink = original.shape[0] * original.shape[1] > h * w
            interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
            original = cv2.resize(original, (w, h), interpolation=interp)
        cur = to_tensor(stylised)

        prev_orig, prev_styl = self._prev_original, self._prev_stylised
        if prev_styl is not None and prev_styl.shape != cur.shape:
            raise ValueError(f"stylised frames changed size from {tuple(prev_styl.shape[2:])} to {(h, w)}")
        self._prev_original, self._prev_stylised = np.ascontiguousarray(original), cur
        if prev_orig is None or prev_styl is None or opens_shot:
            return None

        bw, mask = self._flow.reliable_backward(prev_orig, original)
        with torch.no_grad():
            err = float(warping_error_pair(prev_styl, cur, bw, mask)[0])
        self._values.append(err)
        return err


class GivenFlowMeter:
    """Streaming warping error through **given** flow (``.flo`` files, e.g. ground truth), not estimated flow.

    Frames are fed in order, each with the :class:`~.given_flow.PairMotion` between it and the frame
    before (at the stylised size; see :mod:`stylevid.pipeline.io.flow_folder` for which file serves
    which pair). A pair with a backward flow is measured as :func:`warping_error_pair` does, on
    frame t's grid; a pair with only a forward flow (Sintel's ``frame_NNNN.flo``) on frame t-1's
    grid, ``warp(V_t, flow_fw)`` against ``V_{t-1}``; each with its given reliability mask.
    """

    def __init__(self) -> None:
        self._previous: torch.Tensor | None = None
        self._values: list[float] = []

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(self._values)

    @property
    def mean(self) -> float:
        return math.fsum(self._values) / len(self._values) if self._values else math.nan

    def result(self) -> WarpingErrorResult:
        return WarpingErrorResult(values=self.values, mean=self.mean)

    def update(self, stylised: np.ndarray, motion: PairMotion | None) -> float | None:
        """Add stylised frame t with the motion back to frame t-1 (None for the first frame); return ``E_t``."""
        check_picture("stylised", stylised)
        cur = to_tensor(stylised)
        prev, self._previous = self._previous, cur
        if prev is None or motion is None:
            return None
        if prev.shape != cur.shape:
            raise ValueError(f"stylised frames changed size from {tuple(prev.shape[2:])} to {tuple(cur.shape[2:])}")
        with torch.no_grad():
            if motion.flow_bw is not None and motion.reliable_bw is not None:
                err = float(warping_error_pair(prev, cur, motion.flow_bw, motion.reliable_bw)[0])
            elif motion.flow_fw is not None and motion.reliable_fw is not None:
                err = float(warping_error_pair(cur, prev, motion.flow_fw, motion.reliable_fw)[0])
            else:
                raise ValueError("the pair's motion holds no flow")
        self._values.append(err)
        return err


def warping_error_sequence(
    stylised: Sequence[np.ndarray],
    originals: Sequence[np.ndarray],
    method: str = "dis",
    *,
    cuts: Collection[int] = (),
) -> WarpingErrorResult:
    """Warping error of a whole stylised clip against its originals.

    Consecutive pairs (0, 1), (1, 2), ... are compared; flows and reliability masks are
    computed on the original frames, each resized to the stylised size
    (``cv2.INTER_AREA`` when shrinking, ``cv2.INTER_LINEAR`` when enlarging).  Same
    result as feeding the frames to :class:`WarpingErrorMeter`.

    Args:
        stylised: uint8 ``(h, w, 3)`` RGB frames, all the same size.
        originals: uint8 ``(H, W, 3)`` RGB frames, as many as ``stylised``.
        method: optical flow method, one of ``FLOW_METHODS``.
        cuts: positions of the frames that open a new shot; the pairs ending there are left out.

    Returns:
        :class:`WarpingErrorResult` with a value for each pair but those across ``cuts``.
    """
    if len(stylised) != len(originals):
        raise ValueError(f"got {len(stylised)} stylised frames but {len(originals)} originals")
    meter = WarpingErrorMeter(method)
    for position, (orig, styl) in enumerate(zip(originals, stylised)):
        meter.update(orig, styl, opens_shot=position in cuts)
    return meter.result()
