"""The end of a video run, once every frame is written: renders (GIFs, plots) and the run record (run.json)."""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engine.device import precision_choice
from ..engine.terms import LOSS_TERMS
from ..engine.transfer import StyleTransfer
from ..errors import StylevidError
from ..io.record import run_record, write_json
from ..motion.cuts import shots
from ..render.animation import save_clip_gif, save_progress_gif, stage_labels
from ..render.plots import save_loss_plot, save_per_frame_plot
from .frames import FrameSource
from .output import VideoOutput
from .steps import temporal_weight_for
from .workdir import WorkFolder

if TYPE_CHECKING:
    from ..config import VideoConfig


def finalise(
    output: VideoOutput,
    source: FrameSource,
    engine: StyleTransfer,
    work: WorkFolder,
    config: VideoConfig,
    out_dir: Path,
    stages: dict[str, float],
    *,
    memory: dict[str, Any] | None = None,
    passes: list[dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Write the renders and run.json; return the record and every file written (name → path).

    ``stages``: seconds per stage of the optimisation, with its ``total`` and ``closing_output``;
    ``memory``: the memory estimate beside the measured peak (:meth:`.budget.PeakMemory.record`);
    ``passes``: each pass's summary with --passes > 1 (:func:`.passes.emit_last_pass`), else None.
    """
    began = time.perf_counter()
    rows, processing_shape = output.rows, output.processing_shape
    if not rows:
        raise StylevidError(f"no frames were stylised from {source.path}")
    files = dict(output.files)
    cuts = shot_openings(rows)[1:]
    files.update(_renders(work, config, source, out_dir, rows, output.preview, cuts))
    pair_errors = [r["warping_error"] for r in rows[1:] if r["warping_error"] is not None]  # none across a cut
    optimise_stages = {k: v for k, v in stages.items() if k not in ("total", "closing_output")}
    record = run_record(
        kind="video",
        input=source.describe(),
        output=str(files.get("video") or files.get("frames")),
        config=_config_dict(config),
        device=str(engine.device),
        precision=engine.precision,
        precision_reason=precision_choice(engine.config.precision, engine.device)[1],
        processing_size=list(processing_shape[::-1]),
        style_weight=engine.style_weight_for(np.empty((*processing_shape, 3), np.uint8)),
        temporal_weight=temporal_weight_for(config, processing_shape[1], processing_shape[0]),
        frames=len(rows),
        seconds={
            "optimise": stages["total"],
            "optimise_stages": optimise_stages,
            "finalise": stages["closing_output"] + time.perf_counter() - began,
            "per_frame_mean": float(np.mean([r["seconds"] for r in rows])),
        },
        warping_error=math.fsum(pair_errors) / len(pair_errors) if pair_errors else None,
        warping_error_flow="given" if config.flow_dir is not None else config.flow_method,  # which flow measured it
        mean_style_loss=float(np.mean([r["style"] for r in rows])),
        mean_content_loss=float(np.mean([r["content"] for r in rows])),
        mean_iterations=float(np.mean([r["iterations"] for r in rows])),
        shots=[{"first": first, "last": last} for first, last in shots(cuts, len(rows))],
        cuda_graph=_graph_summary(rows, engine.graph_failure, engine.graph_recordings) if engine.cuda_graphs else None,
        memory=memory,
        **({"passes": passes} if passes else {}),  # only multi-pass runs: one-pass records stay as they were
        per_frame=rows,
    )
    files["record"] = write_json(out_dir / "run.json", record)
    return record, files


def _graph_summary(rows: list[dict[str, Any]], turned_off: str | None, recordings: int) -> dict[str, Any]:
    """run.json's account of --cuda-graphs: iterations replayed, graphs recorded (by the engine),
    each distinct reason a graph fell back, and ``turned_off``: the failure after which this run
    recorded no more graphs (None: none).

    Rows from a run before this one (a resumed run) may lack the fields; they count as not replayed."""
    failures: dict[str, list[int]] = {}
    for row in rows:
        if row.get("graph_failure"):
            failures.setdefault(row["graph_failure"], []).append(row["frame"])
    return {
        "replayed_iterations": sum(row.get("replayed", 0) for row in rows),
        "iterations": sum(row["iterations"] for row in rows),
        "recordings": recordings,
        "failures": [{"reason": reason, "frames": frames} for reason, frames in failures.items()],
        "turned_off_after": turned_off,
    }


def _renders(
    work: WorkFolder,
    config: VideoConfig,
    source: FrameSource,
    out_dir: Path,
    rows: list[dict[str, Any]],
    preview: list[np.ndarray],
    cuts: list[int],
) -> dict[str, Path]:
    """progress.gif and losses.png (of the progress-GIF frame), frame_losses.png and preview.gif."""
    files: dict[str, Path] = {}
    title = _title(config)
    history, snapshots = work.load_history()
    # a coarse-to-fine first frame keeps its stages in its row (video/steps.py)
    stages = next((r.get("stages") or [] for r in rows if r.get("frame") == config.gif_frame), [])
    if snapshots:
        files["progress_gif"] = save_progress_gif(
            snapshots, out_dir / "progress.gif", labels=stage_labels(snapshots, stages)
        )
    if history:
        files["loss_plot"] = save_loss_plot(
            history, out_dir / "losses.png", title=f"frame {config.gif_frame + 1} — {title}", stages=stages
        )
    plotted = ("frame", *LOSS_TERMS, "iterations", "warping_error")
    files["frame_plot"] = save_per_frame_plot(
        [{k: r.get(k) for k in plotted} for r in rows],
        out_dir / "frame_losses.png",
        title=f"per frame — {title}",
        cuts=cuts,
    )
    files["preview_gif"] = save_clip_gif(preview, out_dir / "preview.gif", fps=float(source.fps) / config.every)
    return files


def shot_openings(rows: list[dict[str, Any]]) -> list[int]:
    """Positions of the frames that open a shot (the first frame, then one after each cut)."""
    return [r["frame"] for k, r in enumerate(rows) if k == 0 or r.get("shot", 0) == r["frame"]]


def _title(config: VideoConfig) -> str:
    """The settings that shape the result, for the plots' titles."""
    s = config.style
    return (
        f"{s.size}px, {s.optimizer} {s.iters}/{config.frame_iters} it, init {config.frame_init}, "
        f"α={s.content_weight:g}, β={'auto' if s.style_weight is None else f'{s.style_weight:g}'}, "
        f"λt={'auto' if config.temporal_weight is None else f'{config.temporal_weight:g}'}, pooling {s.pooling}"
        + (f", {config.batch_frames} frames in flight" if config.batch_frames > 1 else "")
        + (f", long-term {','.join(map(str, config.long_term))}" if config.long_term != (1,) else "")
    )


def _config_dict(config: VideoConfig) -> dict[str, Any]:
    data = asdict(config)
    data["fps"] = None if config.fps is None else str(config.fps)
    return data
