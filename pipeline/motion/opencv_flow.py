"""Optical-flow methods of OpenCV (and its contrib ``optflow`` module) on grayscale frames.

Conventions: see :mod:`stylevid.pipeline.motion`. Each method here is made by
:func:`opencv_flow` as a callable ``calc(src, dst)`` on grayscale ``uint8`` ``(H, W)`` frames
returning ``F`` ``(H, W, 2)`` float32 with ``src(x) ≈ dst(x + F(x))`` (OpenCV's own convention
for every one of them). The choice between them is measured in ``benchmarks/flow_methods.py``
and explained in docs/method.md ("Choosing the optical flow").

``dis``
    DIS (Kroeger et al. 2016) at OpenCV's MEDIUM preset: 8 px patches every 3 px, 25
    gradient-descent iterations per patch, 5 variational-refinement iterations, finest scale 1
    (half resolution). Kept exactly as before for runs recorded with it.
``dis-fine``
    The MEDIUM parameters carried down to full resolution (finest scale 0). About 3-4× the time
    of ``dis`` and markedly better under rotation and zoom.
``deepflow``
    DeepFlow (Weinzaepfel et al. 2013), the flow Ruder et al. 2016 used, with OpenCV's defaults.
``tvl1``
    Dual TV-L1 (Zach, Pock & Bischof 2007). OpenCV's default pyramid (5 scales, step 0.8) cannot
    follow motion over a few pixels; here 5 scales of step 0.5 and 3 warps per scale.
``farneback``
    Farnebäck's polynomial expansion: pyramid scale 0.5, 5 levels, 21 px window, 3 iterations,
    neighbourhood 5 with sigma 1.1 and a Gaussian window. A fallback.

Every one is deterministic for given frames and OpenCV thread count. The number of OpenCV
threads (``cv2.setNumThreads``) is the caller's business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["OPENCV_FLOW_METHODS", "DisParameters", "DIS_PRESETS", "GrayFlow", "opencv_flow"]

#: calc(src, dst) on grayscale uint8 frames → (H, W, 2) float32 flow from src to dst
GrayFlow = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class DisParameters:
    """The DIS settings that matter (Kroeger et al. 2016, sec. 2)."""

    patch_size: int  # side of the square patches matched by inverse search, in pixels
    patch_stride: int  # distance between neighbouring patches (patch_size - overlap)
    finest_scale: int  # finest pyramid level searched: 0 = full resolution, 1 = half, ...
    gradient_descent_iterations: int  # inverse-search iterations per patch
    variational_refinement_iterations: int  # fixed-point iterations of the variational refinement per level


#: Named DIS presets: ``dis`` is OpenCV's MEDIUM preset unchanged; ``dis-fine`` refines to full resolution.
DIS_PRESETS: dict[str, DisParameters] = {
    "dis": DisParameters(8, 3, 1, 25, 5),
    "dis-fine": DisParameters(8, 3, 0, 25, 5),
}

_FARNEBACK_PARAMS = dict(
    pyr_scale=0.5,
    levels=5,
    winsize=21,
    iterations=3,
    poly_n=5,
    poly_sigma=1.1,
    flags=cv2.OPTFLOW_FARNEBACK_GAUSSIAN,
)

OPENCV_FLOW_METHODS = (*DIS_PRESETS, "deepflow", "tvl1", "farneback")


def _dis(parameters: DisParameters) -> GrayFlow:
    dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setPatchSize(parameters.patch_size)
    dis.setPatchStride(parameters.patch_stride)
    dis.setFinestScale(parameters.finest_scale)
    dis.setGradientDescentIterations(parameters.gradient_descent_iterations)
    dis.setVariationalRefinementIterations(parameters.variational_refinement_iterations)
    # the stub wants an output array; None lets OpenCV allocate one
    return lambda src, dst: dis.calc(src, dst, None)  # type: ignore[call-overload]


def _optflow() -> object:
    optflow = getattr(cv2, "optflow", None)
    if optflow is None:
        from ..errors import StylevidError

        raise StylevidError(
            "this OpenCV has no optflow module (DeepFlow, DualTVL1); install opencv-contrib-python-headless "
            "in place of opencv-python-headless (see docs/troubleshooting.md)"
        )
    return optflow


def opencv_flow(method: str) -> GrayFlow:
    """The ``calc(src, dst)`` of one of :data:`OPENCV_FLOW_METHODS` (a fresh OpenCV object)."""
    if method in DIS_PRESETS:
        return _dis(DIS_PRESETS[method])
    if method == "deepflow":
        deepflow = _optflow().createOptFlow_DeepFlow()  # type: ignore[attr-defined]
        return lambda src, dst: deepflow.calc(src, dst, None)
    if method == "tvl1":
        tvl1 = _optflow().DualTVL1OpticalFlow_create(nscales=5, warps=3, scaleStep=0.5)  # type: ignore[attr-defined]
        return lambda src, dst: tvl1.calc(src, dst, None)
    if method == "farneback":
        return lambda src, dst: cv2.calcOpticalFlowFarneback(src, dst, None, **_FARNEBACK_PARAMS)  # type: ignore[call-overload]
    raise ValueError(f"not an OpenCV flow method: {method!r}")
