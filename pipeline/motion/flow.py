"""Dense optical flow between two original RGB frames: OpenCV's methods, or RAFT on a GPU.

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
``--flow``; measured in ``benchmarks/flow_methods.py``, chosen in docs/method.md ("Choosing the
optical flow").

``"dis"``, ``"dis-fine"``, ``"deepflow"``, ``"tvl1"``, ``"farneback"``
    OpenCV's, on grayscale frames: :mod:`.opencv_flow`.
``"raft"``, ``"raft-small"``
    RAFT large / small from torchvision, on RGB frames, on the engine's device: :mod:`.raft`.
``"auto"``
    Per device (:func:`resolve_flow_method`): on a GPU RAFT where its weights are cached or
    can be downloaded, else ``dis-fine``; on a CPU DeepFlow (``dis-fine`` for frames under
    64 px). :attr:`FlowEstimator.method` says which it used.

Every method is deterministic for given frames (RAFT on a GPU up to the convolution algorithms
cuDNN picks). The number of OpenCV threads (``cv2.setNumThreads``) is the caller's business.
"""

from __future__ import annotations

import functools
import warnings

import cv2
import numpy as np
import torch

from ..config import FLOW_METHODS
from ..engine.device import pick_device
from ..errors import StylevidError
from ..io.images import check_picture
from .occlusion import consistency_mask
from .opencv_flow import GrayFlow, opencv_flow
from .raft import RAFT_MODELS, RaftFlow, load_raft

__all__ = [
    "CPU_FLOW",
    "DEEPFLOW_MIN_SIDE",
    "FAST_FLOW",
    "FLOW_METHODS",
    "GPU_FLOW",
    "FlowEstimator",
    "compute_flow",
    "flow_pair",
    "flow_to_tensor",
    "resolve_flow_method",
]

#: what --flow auto uses on a CPU (docs/method.md, "Choosing the optical flow")
CPU_FLOW = "deepflow"
#: what --flow auto uses on a GPU, where RAFT's weights are cached or can be downloaded
GPU_FLOW = "raft"
#: what --flow auto uses on a GPU without RAFT (DeepFlow takes longer than a GPU frame's whole budget),
#: and on a CPU for frames whose shorter side is under DEEPFLOW_MIN_SIDE
FAST_FLOW = "dis-fine"
#: OpenCV's DeepFlow stops its pyramid at 25 px: on smaller frames it returns next to no motion
DEEPFLOW_MIN_SIDE = 64


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


@functools.lru_cache(maxsize=4)
def _pretrained_raft(method: str, device: torch.device) -> RaftFlow:
    """One RAFT network per method and device for the whole process (loading reads ~20 MB)."""
    return RaftFlow(load_raft(method), device)


def resolve_flow_method(method: str, device: torch.device, frame_size: tuple[int, int] | None = None) -> str:
    """The method ``method`` stands for on ``device`` for frames of ``frame_size`` (height, width).

    Any method but ``"auto"`` stands for itself. ``"auto"``: on a CUDA device :data:`GPU_FLOW`
    where RAFT's weights are cached or can be downloaded (this loads them), else :data:`FAST_FLOW`;
    on a CPU :data:`CPU_FLOW`, or :data:`FAST_FLOW` for frames with a side under
    :data:`DEEPFLOW_MIN_SIDE` (``frame_size`` ``None``: frames assumed large enough).
    """
    _check_method(method)
    if method != "auto":
        return method
    if device.type == "cuda":
        try:
            _pretrained_raft(GPU_FLOW, device)
        except StylevidError as error:
            warnings.warn(f"--flow auto: {error}; using {FAST_FLOW} instead", stacklevel=2)
            return FAST_FLOW
        return GPU_FLOW
    if frame_size is not None and min(frame_size) < DEEPFLOW_MIN_SIDE:
        return FAST_FLOW
    return CPU_FLOW


class FlowEstimator:
    """Reusable optical-flow estimator (holds the OpenCV object, or the RAFT network, between calls).

    ``FlowEstimator(method)(prev, cur)`` returns ``(flow_fw, flow_bw)``, both
    ``(H, W, 2)`` float32, with::

        prev(x) ≈ cur(x + flow_fw(x))      # forward flow of frame t-1
        cur(x)  ≈ prev(x + flow_bw(x))     # backward flow of frame t

    Args:
        method: one of ``FLOW_METHODS`` (``"auto"`` is resolved here, see
            :func:`resolve_flow_method`); anything else raises ``StylevidError``.
        device: where RAFT runs (``torch.device`` or a spec such as ``"cuda"``); ``None`` → the
            GPU where there is one. OpenCV's methods run on the CPU whatever it says.
        raft: a ready :class:`~.raft.RaftFlow` to use for a RAFT method instead of loading the
            pretrained network (tests build one with random weights).
    """

    def __init__(
        self, method: str = "dis", device: torch.device | str | None = None, *, raft: RaftFlow | None = None
    ) -> None:
        _check_method(method)
        self.device = torch.device(device) if isinstance(device, torch.device) else pick_device(device or "auto")
        self.asked = method  # as given; ``method`` is what it resolved to (for the last frames seen)
        self.method = resolve_flow_method(method, self.device)
        self._given_raft = raft
        self._gray_flows: dict[str, GrayFlow] = {}
        if self.method in RAFT_MODELS and raft is None:
            _pretrained_raft(self.method, self.device)  # no weights, no torchvision: say so now, not at frame 2

    def _method_for(self, frame_size: tuple[int, int]) -> str:
        if self.asked == "auto" and self.device.type != "cuda":
            self.method = resolve_flow_method("auto", self.device, frame_size)
        return self.method

    def _flows(self, sources: list[np.ndarray], targets: list[np.ndarray]) -> list[np.ndarray]:
        method = self._method_for(sources[0].shape[:2])
        if method in RAFT_MODELS:
            raft = self._given_raft if self._given_raft is not None else _pretrained_raft(method, self.device)
            return list(raft(np.stack(sources), np.stack(targets)))
        if method not in self._gray_flows:
            self._gray_flows[method] = opencv_flow(method)
        gray_flow = self._gray_flows[method]
        gray = {id(frame): _gray(frame) for frame in (*sources, *targets)}
        return [
            np.ascontiguousarray(gray_flow(gray[id(src)], gray[id(dst)]), dtype=np.float32)
            for src, dst in zip(sources, targets, strict=True)
        ]

    def compute(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Flow ``F`` (H, W, 2) float32 with ``src(x) ≈ dst(x + F(x))``; see module doc."""
        _check_pair(src, dst)
        return self._flows([src], [dst])[0]

    def __call__(self, prev: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(flow_fw of prev, flow_bw of cur)`` for RGB uint8 frames ``prev`` = t-1, ``cur`` = t."""
        _check_pair(prev, cur)
        flow_fw, flow_bw = self._flows([prev, cur], [cur, prev])
        return flow_fw, flow_bw

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
        method: one of ``FLOW_METHODS`` (``"dis"`` by default).

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
