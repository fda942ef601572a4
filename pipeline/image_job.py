"""Stylise one image file into an output folder: the picture, its progress GIF, loss plot and record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .budget import PeakMemory, estimate_for_input, plan_memory, run_device
from .config import StyleConfig
from .engine.device import precision_choice
from .engine.optimize import ReportFn
from .engine.pyramid import StageFn, stylize_in_stages
from .engine.transfer import StyleTransfer, Stylized
from .io.folder_lock import output_folder_lock
from .io.images import load_image, save_image
from .io.paths import create_output_folder, result_name
from .io.record import run_record, write_json
from .render.animation import save_progress_gif, stage_labels
from .render.plots import save_loss_plot
from .validation import validate_run


@dataclass
class ImageResult:
    stylized: Stylized  # the picture, history and snapshots
    files: dict[str, Path]  # "image", "progress_gif", "loss_plot", "record"
    record: dict[str, Any]  # what run.json holds


def stylize_image_file(
    content_path: Path,
    style_paths: list[Path],
    out_dir: Path,
    config: StyleConfig,
    *,
    styles: list[np.ndarray] | None = None,
    on_report: ReportFn | None = None,
    on_stage: StageFn | None = None,
    on_note: Callable[[str], None] | None = None,
) -> ImageResult:
    """Stylise ``content_path`` into ``out_dir``, after the validation pass (what `stylevid IMAGE` runs).

    ``styles`` may hold the style pictures already decoded from ``style_paths``. With a coarse-to-fine
    run (``config.pyramid``) ``on_stage`` is told as each stage begins, and ``on_report`` counts each
    stage's iterations from 1.
    ``on_note`` receives one line when ``--tile auto`` or ``--history auto`` change the run to fit
    memory (before any work).
    """
    validate_run(content_path, style_paths, out_dir, config)  # also: no output overwrites an input
    out_dir = Path(out_dir)
    create_output_folder(out_dir)
    plan = plan_memory(content_path, "image", style_paths, config)  # --tile auto, --history auto
    config = plan.apply(config)
    if plan.changed and on_note is not None:
        on_note(plan.note())
    with output_folder_lock(out_dir):  # one run per output folder
        return _stylize_into(content_path, style_paths, out_dir, config, styles, on_report, on_stage, plan.record())


def _stylize_into(
    content_path: Path,
    style_paths: list[Path],
    out_dir: Path,
    config: StyleConfig,
    styles: list[np.ndarray] | None,
    on_report: ReportFn | None,
    on_stage: StageFn | None,
    memory_plan: dict[str, Any] | None = None,
) -> ImageResult:
    """The run itself, in the output folder this process holds; ``memory_plan``: run.json's record of
    the tile and history chosen (:func:`.budget.plan_memory`)."""
    image_path = out_dir / result_name(Path(content_path), "image", "image")
    peak = PeakMemory(run_device(config.device)).start()
    content = load_image(content_path)
    styles = styles if styles is not None else [load_image(p) for p in style_paths]
    engine = StyleTransfer(config, styles)
    prepared = engine.prepare_content(content)
    stages = engine.stages()
    result = stylize_in_stages(engine, prepared, stages, snapshots=True, on_report=on_report, on_stage=on_stage)
    beta = engine.style_weight_for(prepared)
    iterations = (
        f"{config.iters} it"
        if len(stages) == 1
        else "stages " + " → ".join(f"{s.size} px {s.iters} it" for s in stages)
    )
    title = (
        f"{Path(content_path).name} × {', '.join(Path(p).name for p in style_paths)} — "
        f"{prepared.shape[1]}×{prepared.shape[0]}, "
        f"{config.optimizer} {iterations}, init {config.init}, α={config.content_weight:g}, β={beta:.3g}, "
        f"pooling {config.pooling}, {engine.device.type}"
    )
    files = {
        "image": save_image(image_path, result.picture16 if result.picture16 is not None else result.picture),
        "progress_gif": save_progress_gif(
            result.snapshots, out_dir / "progress.gif", labels=stage_labels(result.snapshots, result.stages)
        ),
        "loss_plot": save_loss_plot(result.history, out_dir / "losses.png", title=title, stages=result.stages),
    }
    record = run_record(
        kind="image",
        input={
            "content": str(content_path),
            "styles": [str(p) for p in style_paths],
            "content_size": [content.shape[1], content.shape[0]],
        },
        processing_size=[prepared.shape[1], prepared.shape[0]],
        config=config.to_dict(),
        style_weight=beta,
        device=str(engine.device),
        precision=engine.precision,
        precision_reason=precision_choice(engine.config.precision, engine.device)[1],
        seconds={"optimise": result.seconds, "per_iteration": result.seconds / max(1, result.iterations)},
        iterations=result.iterations,
        memory_plan=memory_plan,
        cuda_graph=(
            {
                "replayed_iterations": result.replayed,
                "failure": result.graph_failure,
                "turned_off_after": engine.graph_failure,
            }
            if engine.cuda_graphs
            else None
        ),
        final_losses=result.final,
        initial_losses=result.history[0],
        stages=result.stages,
        outputs={k: str(v) for k, v in files.items()},
        memory=peak.record(
            estimate_for_input(content_path, "image", styles, config, str(engine.device), engine.precision)
        ),
    )
    files["record"] = write_json(out_dir / "run.json", record)
    return ImageResult(result, files, record)
