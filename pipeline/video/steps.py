"""The optimisation steps of a video run: one frame on its own, or one segment through a rolling batch.

Frame 1 — and the first frame of every shot after a scene cut — gets the full budget from
``style.init``, with no temporal term; each later frame starts from the previous
stylised frame — warped by optical flow (``prev-warped``, the default) or as is (``prev``) — and
is pulled towards the warped previous frame by the temporal loss of Ruder et al. (2016) where
the flow is reliable; with ``--long-term`` also towards earlier stylised frames of its shot, each
pixel to the nearest one in which it was visible (:mod:`..motion.long_term`), and it starts
from that combined picture too. ``independent``
stylises every frame from scratch (a baseline). Each finished frame goes to the writer with its
statistics, and to the progress display.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..engine.optimize import EarlyStop
from ..engine.pyramid import stylize_in_stages
from ..engine.snapshots import snapshot_iterations
from ..engine.transfer import StyleTransfer, TemporalGuide
from ..io.images import to_picture, to_tensor
from ..motion.long_term import combined_target, long_term_weights
from ..progress import Progress
from .frame_pairs import PreparedFrame, pair_warping_error, warp_into
from .recent import RecentStylised
from .rolling import RollingBatch, RollingSettings, stylize_rolling
from .workdir import WorkFolder
from .writer import FrameWriter

if TYPE_CHECKING:
    from ..config import VideoConfig

#: λ_t when unset, for a 512×512 frame; scaled by area / 512² like the default β, so the balance
#: between the temporal term (a per-pixel mean) and content/style (sums over positions) holds at
#: every --size. Set on the sample clip with the Caffe weights, then checked against the true-motion
#: warping error (benchmarks/retune_video.py; docs/method.md "Defaults, and why"): no weight there
#: kept style within 15 % of a plain `prev` start, and a lower one traded true coherence for style.
DEFAULT_TEMPORAL_WEIGHT_AT_512 = 2e14


def temporal_weight_for(config: VideoConfig, width: int, height: int) -> float:
    """λ_t of a run at ``width``×``height``: the configured one, or the area-scaled default."""
    if config.temporal_weight is not None:
        return config.temporal_weight
    return DEFAULT_TEMPORAL_WEIGHT_AT_512 * (width * height) / (512 * 512)


class FrameSteps:
    """Stylises the frames of one run and hands each finished one to ``writer`` and ``progress``."""

    def __init__(
        self,
        engine: StyleTransfer,
        config: VideoConfig,
        work: WorkFolder,
        writer: FrameWriter,
        progress: Progress,
        stop_requested: Callable[[], bool],
    ) -> None:
        self.engine, self.config, self.work, self.writer = engine, config, work, writer
        self.progress, self.stop_requested = progress, stop_requested
        self.early = EarlyStop() if config.early_stop else None
        self.recent = RecentStylised(max(config.long_term))  # the stylised frames --long-term reaches back to

    def one(self, item: PreparedFrame, previous_stylised: np.ndarray | None) -> np.ndarray:
        """Stylise one frame on its own (a shot's first, the progress GIF's frame, or each with --batch-frames 1)."""
        config, engine, progress = self.config, self.engine, self.progress
        position = item.frame.position
        first = item.opens_shot or config.frame_init == "independent"
        iters = config.style.iters if first else config.frame_iters
        init: np.ndarray | None = None
        temporal = None
        held_further = None  # --long-term: share of the pixels held to a frame further back than the one before
        if not first:
            assert previous_stylised is not None
            flow_bw, reliable = item.motion()
            warped = warp_into(previous_stylised, flow_bw)  # the temporal target: always bilinear
            sharp = config.frame_init == "prev-warped" and config.init_sampling != "bilinear"
            start = warp_into(previous_stylised, flow_bw, config.init_sampling) if sharp else warped
            mask = reliable
            if item.long_range:  # each pixel from the nearest earlier frame that saw it, in the start and the target
                warped, mask, held_further = self._long_term_target(item, warped, reliable)
                start = self._long_term_target(item, start, reliable, config.init_sampling)[0] if sharp else warped
            init = start if config.frame_init == "prev-warped" else previous_stylised
            weight = temporal_weight_for(config, item.content.shape[1], item.content.shape[0])
            if weight > 0:
                temporal = TemporalGuide(warped, mask, weight)
        want_snapshots = position == config.gif_frame
        progress.frame_started(position, iters)
        if first:  # from scratch: coarse-to-fine where config.style.pyramid says so (engine/pyramid.py)
            result = stylize_in_stages(
                engine,
                item.content,
                engine.stages(),
                seed=config.style.seed + position,
                snapshots=want_snapshots,
                on_report=lambda i, losses: progress.iteration(position, i, losses),
                on_stage=lambda index, count, stage: progress.pyramid_stage(
                    position, index, count, stage.size, stage.iters
                ),
            )
        else:
            result = engine.stylize(
                item.content,
                init=init,
                iters=iters,
                seed=config.style.seed + position,
                temporal=temporal,
                snapshot_at=[0, *snapshot_iterations(iters)] if want_snapshots else (),
                on_report=lambda i, losses: progress.iteration(position, i, losses),
                early_stop=self.early,
            )
        if want_snapshots:
            self.work.save_history(result.history, result.snapshots)
        stats = _frame_stats(item, previous_stylised, result.picture, result.iterations, result.seconds, result.final)
        if len(result.stages) > 1:
            stats["stages"] = result.stages
        if engine.cuda_graphs:
            stats.update(replayed=result.replayed, graph_failure=result.graph_failure)
        if held_further is not None:
            stats["long_term_share"] = held_further
        self.writer.stylised(item, result.picture, stats)
        progress.frame_done(position, stats)
        self.recent.add(position, result.picture)
        return result.picture

    def _long_term_target(
        self, item: PreparedFrame, warped: np.ndarray, reliable: torch.Tensor, mode: str = "bilinear"
    ) -> tuple[np.ndarray, torch.Tensor, float]:
        """The one temporal target and mask equal to the closest-first sum of the long-term terms,
        and the share of pixels held to a frame further back than the one before (``mode``: how
        the earlier frames are resampled; a sharper one builds the start, not the target)."""
        position = item.frame.position
        pictures = [to_tensor(warped)]
        masks = [reliable]
        with torch.no_grad():
            for gap, flow_bw, mask in item.long_range:
                pictures.append(to_tensor(warp_into(self.recent.get(position - gap), flow_bw, mode)))
                masks.append(mask)
            weights = long_term_weights(masks)
            target, combined = combined_target(pictures, weights)
            further = float(sum(w.sum() for w in weights[1:])) / reliable.numel()
        return to_picture(target), combined, further

    def segment(self, segment: Iterator[PreparedFrame], previous_stylised: np.ndarray | None) -> tuple[np.ndarray, int]:
        """Stylise a segment of consecutive frames through one rolling batch; returns the last picture and position."""
        config, engine, progress = self.config, self.engine, self.progress
        independent = config.frame_init == "independent"
        opening = next(segment)
        height, width = opening.content.shape[:2]
        settings = RollingSettings(
            slots=config.batch_frames,
            frame_iters=config.style.iters if independent else config.frame_iters,
            temporal_weight=0.0 if independent else temporal_weight_for(config, width, height),
            early_stop=None if independent else self.early,
            from_previous=not independent,
            warp_init=config.frame_init == "prev-warped",
            init_sampling=config.init_sampling,
        )

        def report(positions: list[int], iteration: int, losses: dict[str, float]) -> None:
            progress.frame_started(positions[0], settings.frame_iters, frames=len(positions))
            progress.iteration(positions[0], iteration, losses)

        last = opening.frame.position
        out_of_memory = False
        engine.release_graphs()  # the single frames' graphs (frame 0, the progress GIF's) would only hold memory
        try:
            batch = RollingBatch(engine, settings, height, width)  # its L-BFGS history: 2·history·K frames of memory
            finished = stylize_rolling(
                batch,
                itertools.chain([opening], segment),
                previous_stylised,
                seed_of=lambda p: config.style.seed + p,
                stop_admitting=self.stop_requested,
                report=report,
            )
            for done in finished:
                stats = _frame_stats(
                    done.prepared, previous_stylised, done.picture, done.iterations, done.seconds, done.final
                )
                stats["segment"] = [opening.frame.position, done.closes_run]
                if engine.cuda_graphs:
                    stats.update(replayed=done.replayed, graph_failure=batch.graph_failure)
                self.writer.stylised(done.prepared, done.picture, stats)
                progress.frame_done(done.prepared.frame.position, stats)
                self.recent.add(done.prepared.frame.position, done.picture)
                previous_stylised, last = done.picture, done.prepared.frame.position
            engine.graph_recordings += batch.optimisation.recordings
        except torch.cuda.OutOfMemoryError:
            out_of_memory = True  # leaving this block frees the failed run's tensors (held by the traceback)
        if out_of_memory:
            batch = finished = None  # type: ignore[assignment]  # drop the L-BFGS history and the graph
            engine.release_graphs()
            raise engine.out_of_memory(opening.content, config.batch_frames, temporal=settings.temporal_weight > 0)
        assert previous_stylised is not None
        return previous_stylised, last


def _frame_stats(
    item: PreparedFrame,
    previous_stylised: np.ndarray | None,
    picture: np.ndarray,
    iterations: int,
    seconds: float,
    final: dict[str, float],
) -> dict[str, Any]:
    """What the work folder keeps of a finished frame (and run.json's per-frame row)."""
    frame = item.frame
    error = (
        pair_warping_error(previous_stylised, picture, item)
        if previous_stylised is not None and item.flow_bw is not None and not item.opens_shot
        else None
    )
    stats: dict[str, Any] = {
        "frame": frame.position,
        "source_index": frame.index,
        "time": frame.time,
        "name": frame.name,
        "iterations": iterations,
        "seconds": seconds,
        "warping_error": error,  # None across a cut: no pair to measure
        "shot": item.shot_start,  # first frame of its shot
        **final,
    }
    if item.cut_score is not None:
        stats["cut_score"] = item.cut_score  # change from the frame before (motion/cuts.py)
    return stats
