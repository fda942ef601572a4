"""What one Ray actor holds and does: the engine (VGG and the style targets, built once) and one frame per call.

Every call is a pure function of its arguments — the frames at processing size, the stylised
picture it continues from, the seed — so a call lost with its worker is simply made again (on the
restarted actor or another one) and gives the same picture; a CPU run is bit for bit repeatable.
The worker reads no file: pictures and the network's weights reach it through Ray's object store.
This class knows nothing of Ray; :mod:`.cluster` makes actors of it.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..config import VideoConfig
from ..engine.optimize import EarlyStop
from ..engine.pyramid import stylize_in_stages
from ..engine.snapshots import snapshot_iterations
from ..engine.transfer import StyleTransfer, TemporalGuide
from ..engine.vgg import VGG19Features, deepest
from ..motion.flow import FlowEstimator
from ..video.frame_pairs import PreparedFrame, warp_into
from ..video.frames import Frame
from ..video.steps import _frame_stats, temporal_weight_for
from .handoff import blended_target


@dataclass(frozen=True)
class FrameJob:
    """One frame to stylise (the pictures travel beside it, as Ray object references)."""

    position: int  # 0-based position in the selected frames
    index: int  # index in the source
    time: float  # seconds
    name: str  # frame-folder name
    keyframe: bool  # opens a segment: stylised on its own with the full budget (style.iters)
    handoff_weight: float = 0.0  # pull towards the next segment's keyframe (0: none)
    snapshots: bool = False  # record the optimisation's history and snapshots (the progress GIF's frame)


@dataclass
class FrameDone:
    position: int
    picture: np.ndarray  # H×W×3 uint8
    stats: dict[str, Any]  # what the work folder keeps of the frame (as the in-process runner's)
    history: list[dict[str, float]] = field(default_factory=list)
    snapshots: list[tuple[int, np.ndarray]] = field(default_factory=list)
    # a hand-off frame: the next keyframe warped into it (H×W×3 uint8) and where that warp is trusted (H×W, 0–1)
    key_warped: np.ndarray | None = None
    key_reliable: np.ndarray | None = None


@dataclass(frozen=True)
class WorkerSetup:
    config: VideoConfig
    styles: list[np.ndarray]
    state_dict: dict[str, torch.Tensor]  # VGG19 ``features.*`` weights, float32
    convention: str  # "caffe" or "torchvision"


class StyleWorker:
    """The engine of one device; :meth:`frame` stylises one frame."""

    def __init__(self, setup: WorkerSetup, threads: int = 0) -> None:
        """``threads``: torch (and OpenCV) threads of this worker; 0 leaves the defaults."""
        if threads > 0:
            torch.set_num_threads(threads)
            import cv2

            cv2.setNumThreads(threads)
        config = setup.config
        style = config.style
        extractor = VGG19Features(
            setup.state_dict,
            setup.convention,
            last_layer=deepest([style.content_layer, *style.style_layers]),
            pooling=style.pooling,
        )
        self.config = config
        self.styles = setup.styles
        self.engine = StyleTransfer(style, setup.styles, extractor=extractor)
        self._engines: dict[int, StyleTransfer] = {}  # --each-style: one engine per style, sharing the network
        self.flow = FlowEstimator(config.flow_method, self.engine.device)
        self.early = EarlyStop() if config.early_stop else None

    def describe(self) -> dict[str, Any]:
        """Where this worker runs: device, host, process, threads."""
        device = self.engine.device
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
        return {
            "device": str(device),
            "device_name": name,
            "host": platform.node(),
            "pid": os.getpid(),
            "threads": torch.get_num_threads(),
            "opencv_threads": _opencv_threads(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "precision": self.engine.precision,
        }

    def engine_for(self, style: int | None) -> StyleTransfer:
        """The engine of every style blended (``style`` None), or of style number ``style`` alone
        (--each-style: its targets built on its first task, the network shared)."""
        if style is None:
            return self.engine
        if style not in self._engines:
            config = self.engine.config.replace(style_blend=None)
            self._engines[style] = StyleTransfer(config, [self.styles[style]], extractor=self.engine.extractor)
        return self._engines[style]

    def photo(self, picture: np.ndarray, style: int | None = None) -> Any:
        """Stylise one independent picture (a photo of a batch) at its own size: :func:`..batch.photo.stylise_photo`;
        with ``style``, in that style alone (--each-style)."""
        from ..batch.photo import stylise_photo

        done = stylise_photo(self.engine_for(style), picture)
        done.stats["worker_pid"] = os.getpid()
        return done

    def image(self, picture: np.ndarray, style: int | None = None) -> Any:
        """Stylise one image as ``stylevid IMAGE`` does (:func:`..image_job.stylise_picture`: snapshots,
        history, the peak memory of this process); with ``style``, in that style alone (--each-style)."""
        from ..image_job import stylise_picture

        done = stylise_picture(self.engine_for(style), picture)
        done.stats["worker_pid"] = os.getpid()
        return done

    def frame(
        self,
        job: FrameJob,
        content: np.ndarray,
        previous_content: np.ndarray | None = None,
        previous_stylised: np.ndarray | None = None,
        key_content: np.ndarray | None = None,
        key_stylised: np.ndarray | None = None,
    ) -> FrameDone:
        """Stylise frame ``job.position``: a keyframe on its own, or a later frame from its predecessor
        (``previous_*``), pulled towards the next keyframe (``key_*``) when ``job.handoff_weight`` > 0.

        The same steps as the in-process runner's (:class:`~..video.steps.FrameSteps`): a later frame
        starts from its predecessor warped by the flow and is held to it by the temporal loss."""
        config, engine = self.config, self.engine
        began = time.perf_counter()
        frame = Frame(job.position, job.index, job.time, job.name, content)
        flow_bw = reliable = None
        if previous_content is not None:
            flow_bw, reliable = self.flow.reliable_backward(previous_content, content)
        item = PreparedFrame(frame, content, flow_bw, reliable)
        iters = config.style.iters if job.keyframe else config.frame_iters
        init: np.ndarray | None = None
        temporal = None
        if not job.keyframe:
            if previous_stylised is None:
                raise ValueError("a frame that follows another needs the stylised frame before it")
            flow_bw, reliable = item.motion()
            warped = warp_into(previous_stylised, flow_bw)
            mask = reliable
            if job.handoff_weight > 0:
                assert key_content is not None and key_stylised is not None
                key_flow, key_reliable = self.flow.reliable_backward(key_content, content)
                key_warped = warp_into(key_stylised, key_flow)
                key_mask = key_reliable[0, 0].numpy().astype(np.float32)
                warped, mask = blended_target(
                    warped, reliable, key_stylised, key_flow, key_reliable, job.handoff_weight
                )
            init = warped if config.frame_init == "prev-warped" else previous_stylised
            weight = temporal_weight_for(config, content.shape[1], content.shape[0])
            if weight > 0:
                temporal = TemporalGuide(warped, mask, weight)
        if job.keyframe:  # from scratch: coarse-to-fine where config.style.pyramid says so (engine/pyramid.py)
            result = stylize_in_stages(
                engine, content, engine.stages(), seed=config.style.seed + job.position, snapshots=job.snapshots
            )
        else:
            result = engine.stylize(
                content,
                init=init,
                iters=iters,
                seed=config.style.seed + job.position,
                temporal=temporal,
                snapshot_at=[0, *snapshot_iterations(iters)] if job.snapshots else (),
                early_stop=self.early,
            )
        stats = _frame_stats(item, previous_stylised, result.picture, result.iterations, result.seconds, result.final)
        if len(result.stages) > 1:
            stats["stages"] = result.stages
        stats["worker_seconds"] = time.perf_counter() - began  # with the flow and the warps
        stats["worker_pid"] = os.getpid()
        done = FrameDone(job.position, result.picture, stats, result.history if job.snapshots else [], result.snapshots)
        if job.handoff_weight > 0:
            stats["handoff_weight"] = job.handoff_weight
            done.key_warped, done.key_reliable = key_warped, key_mask
        return done


def _opencv_threads() -> int:
    import cv2

    return int(cv2.getNumThreads())
