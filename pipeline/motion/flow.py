"""Dense optical flow between two original RGB frames, estimated with OpenCV.

Conventions: see :mod:`stylevid.pipeline.motion`. Here frames are numpy ``uint8`` ``(H, W, 3)`` and flows
numpy ``(H, W, 2)`` float32 (``flow_to_tensor`` makes them ``(B, 2, H, W)``).

* ``compute_flow(src, dst)`` returns ``F`` such that the point seen at pixel ``x`` of
  ``src`` is seen at ``x + F(x)`` in ``dst``::

      src(x) ≈ dst(x + F(x))

  (this is OpenCV's own convention for ``calcOpticalFlowFarneback(prev=src, next=dst)``).
* For consecutive frames ``t-1`` (prev) and ``t`` (cur):

  - forward flow of frame t-1:  ``flow_fw = compute_flow(prev, cur)``,
    ``prev(x) ≈ cur(x + flow_fw(x))``;
  - backward flow of frame t:   ``flow_bw = compute_flow(cur, prev)``,
    ``cur(x) ≈ prev(x + flow_bw(x))``, so ``warp(prev, flow_bw) ≈ cur``.

Methods
-------
``"dis"``
    ``cv2.DISOpticalFlow`` with ``DISOPTICAL_FLOW_PRESET_MEDIUM`` (OpenCV 5 ships
    ULTRAFAST, FAST and MEDIUM; there is no FINE).  Measured on a synthetic textured
    256x448 frame (blurred RGB noise) shifted by (3, -2), (2.5, 1.5) and (7, 4) px,
    median end-point error 16 px away from the borders, one thread:

    ==========  ==============  ========
    preset      median EPE      time
    ==========  ==============  ========
    ULTRAFAST   0.10 px         ~1 ms
    FAST        0.08-0.12 px    ~2 ms
    MEDIUM      0.01-0.04 px    ~8-9 ms
    ==========  ==============  ========

    Two flows per frame are negligible next to the style optimisation, so MEDIUM.
``"farneback"``
    ``cv2.calcOpticalFlowFarneback`` with pyramid scale 0.5, 5 levels, 21 px window,
    3 iterations, polynomial neighbourhood 5 with sigma 1.1 and a Gaussian window.
    About 0.001 px median error on the integer shifts above but 2-3x slower than DIS
    and less robust to large motion on fine, low-contrast texture; kept as a fallback.

Frames are converted to grayscale inside.  The number of OpenCV threads
(``cv2.setNumThreads``) is the caller's business.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch

from ..config import FLOW_METHODS
from ..errors import StylevidError
from ..io.images import check_picture
from .occlusion import consistency_mask

__all__ = ["FLOW_METHODS", "FlowEstimator", "compute_flow", "flow_pair", "flow_to_tensor"]


_FARNEBACK_PARAMS: dict[str, Any] = dict(
    pyr_scale=0.5,
    levels=5,
    winsize=21,
    iterations=3,
    poly_n=5,
    poly_sigma=1.1,
    flags=cv2.OPTFLOW_FARNEBACK_GAUSSIAN,
)


def _check_method(method: str) -> str:
    if method not in FLOW_METHODS:
        raise StylevidError(f"unknown optical flow method {method!r}; choose one of: {', '.join(FLOW_METHODS)}")
    return method


def _check_pair(src: np.ndarray, dst: np.ndarray) -> None:
    check_picture("src", src)
    check_picture("dst", dst)
    if src.shape != dst.shape:
        raise ValueError(f"frames must have the same shape, got {src.shape} and {dst.shape}")


def _gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)


class FlowEstimator:
    """Reusable optical-flow estimator (holds the OpenCV DIS object between calls).

    ``FlowEstimator(method)(prev, cur)`` returns ``(flow_fw, flow_bw)``, both
    ``(H, W, 2)`` float32, with::

        prev(x) ≈ cur(x + flow_fw(x))      # forward flow of frame t-1
        cur(x)  ≈ prev(x + flow_bw(x))     # backward flow of frame t

    Args:
        method: ``"dis"`` or ``"farneback"``; anything else raises ``StylevidError``.
    """

    def __init__(self, method: str = "dis") -> None:
        self.method = _check_method(method)
        self._dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) if method == "dis" else None

    def _flow_gray(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        if self._dis is not None:
            # the stub wants an output array; None lets OpenCV allocate one
            flow = self._dis.calc(src, dst, None)  # type: ignore[call-overload]
        else:
            flow = cv2.calcOpticalFlowFarneback(src, dst, None, **_FARNEBACK_PARAMS)
        return np.ascontiguousarray(flow, dtype=np.float32)

    def compute(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Flow ``F`` (H, W, 2) float32 with ``src(x) ≈ dst(x + F(x))``; see module doc."""
        _check_pair(src, dst)
        return self._flow_gray(_gray(src), _gray(dst))

    def __call__(self, prev: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(flow_fw of prev, flow_bw of cur)`` for RGB uint8 frames ``prev`` = t-1, ``cur`` = t."""
        _check_pair(prev, cur)
        gp, gc = _gray(prev), _gray(cur)
        return self._flow_gray(gp, gc), self._flow_gray(gc, gp)

    def reliable_backward(self, prev: np.ndarray, cur: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """``(flow_bw, mask)`` of frame ``cur``: its backward flow ``(1, 2, H, W)`` and where that flow
        can be trusted, ``(1, 1, H, W)`` (Ruder et al.'s consistency mask, from both directions).

        What the temporal loss and the warping error both use, so they judge the same pixels.
        """
        flow_fw, flow_bw = (flow_to_tensor(f) for f in self(prev, cur))
        return flow_bw, consistency_mask(flow_fw, flow_bw)

    def __repr__(self) -> str:
        return f"FlowEstimator(method={self.method!r})"


def compute_flow(src: np.ndarray, dst: np.ndarray, method: str = "dis") -> np.ndarray:
    """Dense flow ``F`` from ``src`` to ``dst``: ``src(x) ≈ dst(x + F(x))``.

    Args:
        src, dst: uint8 RGB frames ``(H, W, 3)`` of the same shape.
        method: ``"dis"`` (default) or ``"farneback"``.

    Returns:
        ``(H, W, 2)`` float32 flow in pixels, channel 0 = x, channel 1 = y.
    """
    return FlowEstimator(method).compute(src, dst)


def flow_pair(prev_rgb: np.ndarray, cur_rgb: np.ndarray, method: str = "dis") -> tuple[np.ndarray, np.ndarray]:
    """``(flow_fw, flow_bw)`` for frames t-1 (``prev_rgb``) and t (``cur_rgb``).

    ``flow_fw = compute_flow(prev, cur)``: ``prev(x) ≈ cur(x + flow_fw(x))``.
    ``flow_bw = compute_flow(cur, prev)``: ``cur(x) ≈ prev(x + flow_bw(x))``.
    """
    return FlowEstimator(method)(prev_rgb, cur_rgb)


def flow_to_tensor(flow_np: np.ndarray) -> torch.Tensor:
    """Convert an ``(H, W, 2)`` numpy flow to a ``(1, 2, H, W)`` float32 CPU tensor."""
    if not isinstance(flow_np, np.ndarray):
        raise ValueError(f"flow must be a numpy array, got {type(flow_np).__name__}")
    if flow_np.ndim != 3 or flow_np.shape[2] != 2:
        raise ValueError(f"flow must have shape (H, W, 2), got {flow_np.shape}")
    if not np.issubdtype(flow_np.dtype, np.floating):
        raise ValueError(f"flow must be floating point, got dtype {flow_np.dtype}")
    arr = np.ascontiguousarray(flow_np.transpose(2, 0, 1), dtype=np.float32)
    return torch.from_numpy(arr).unsqueeze(0)
