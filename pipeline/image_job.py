"""Stylise one image file into an output folder: the picture, its progress GIF, loss plot and record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .budget import PeakMemory, estimate_for_input, plan_memory, run_device
from .config import StyleConfig
from .engine.device import precision_choice
from .engine.optimize import ReportFn
from .engine.pyramid import StageFn, stylize_in_stages
from .engine.stages import Stage
from .engine.transfer import StyleTransfer, Stylized
from .engine.vgg import VGG19Features
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
    *,
    extractor: VGG19Features | None = None,
) -> ImageResult:
    """The run itself, in the output folder this process holds; ``memory_plan``: run.json's record of
    the tile and history chosen (:func:`.budget.plan_memory`); ``extractor``: a network already built
    (--each-style builds it once for every style)."""
    peak = PeakMemory(run_device(config.device)).start()  # the weights' loading counts too
    content = load_image(content_path)
    styles = styles if styles is not None else [load_image(p) for p in style_paths]
    engine = StyleTransfer(config, styles, extractor=extractor)
    done = stylise_picture(engine, content, on_report=on_report, on_stage=on_stage, peak=peak)
    return write_image_run(content_path, style_paths, out_dir, config, content, styles, done, memory_plan)


@dataclass
class PictureDone:
    """One image stylised, before anything is written: what a Ray worker sends back (--each-style)."""

    stylized: Stylized  # the picture, history and snapshots
    processing_size: tuple[int, int]  # width, height
    style_weight: float  # β used
    stages: list[Stage]  # the stages run (one unless coarse-to-fine)
    engine: dict[str, Any]  # device, precision, precision_reason, cuda_graph: as run.json records them
    peak_bytes: int | None  # memory this process added while it worked
    peak_measure: str  # how that was measured (budget.PeakMemory)
    stats: dict[str, Any] = field(default_factory=dict)  # seconds and where it ran (the fan-out's accounting)


def stylise_picture(
    engine: StyleTransfer,
    content: np.ndarray,
    *,
    on_report: ReportFn | None = None,
    on_stage: StageFn | None = None,
    peak: PeakMemory | None = None,
) -> PictureDone:
    """Stylise ``content`` (H×W×3 uint8) as ``stylevid IMAGE`` does, writing nothing: coarse-to-fine
    where the engine's config plans it, with snapshots for the progress GIF. ``peak``: the memory
    measurement, started before the engine was built (default: started here, the network already held)."""
    peak = peak if peak is not None else PeakMemory(str(engine.device)).start()
    prepared = engine.prepare_content(content)
    stages = engine.stages()
    result = stylize_in_stages(engine, prepared, stages, snapshots=True, on_report=on_report, on_stage=on_stage)
    facts = {
        "device": str(engine.device),
        "precision": engine.precision,
        "precision_reason": precision_choice(engine.config.precision, engine.device)[1],
        "cuda_graph": (
            {
                "replayed_iterations": result.replayed,
                "failure": result.graph_failure,
                "turned_off_after": engine.graph_failure,
            }
            if engine.cuda_graphs
            else None
        ),
    }
    return PictureDone(
        result,
        (prepared.shape[1], prepared.shape[0]),
        engine.style_weight_for(prepared),
        stages,
        facts,
        peak.peak(),
        peak.method,
        {"seconds": result.seconds},
    )


def write_image_run(
    content_path: Path,
    style_paths: list[Path],
    out_dir: Path,
    config: StyleConfig,
    content: np.ndarray,
    styles: list[np.ndarray],
    done: PictureDone,
    memory_plan: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> ImageResult:
    """Write an image run's files into ``out_dir``: the picture, progress.gif, losses.png and run.json
    (``extra``: more fields for run.json)."""
    result, stages = done.stylized, done.stages
    width, height = done.processing_size
    image_path = out_dir / result_name(Path(content_path), "image", "image")
    iterations = (
        f"{config.iters} it"
        if len(stages) == 1
        else "stages " + " → ".join(f"{s.size} px {s.iters} it" for s in stages)
    )
    title = (
        f"{Path(content_path).name} × {', '.join(Path(p).name for p in style_paths)} — "
        f"{width}×{height}, "
        f"{config.optimizer} {iterations}, init {config.init}, α={config.content_weight:g}, "
        f"β={done.style_weight:.3g}, pooling {config.pooling}, {torch_device_type(done.engine['device'])}"
    )
    files = {
        "image": save_image(image_path, result.picture16 if result.picture16 is not None else result.picture),
        "progress_gif": save_progress_gif(
            result.snapshots, out_dir / "progress.gif", labels=stage_labels(result.snapshots, result.stages)
        ),
        "loss_plot": save_loss_plot(result.history, out_dir / "losses.png", title=title, stages=result.stages),
    }
    estimate = estimate_for_input(
        content_path, "image", styles, config, done.engine["device"], done.engine["precision"]
    )
    memory: dict[str, Any] = estimate.record() if estimate is not None else {"device": done.engine["device"]}
    memory.update({"peak_bytes": done.peak_bytes, "peak_measure": done.peak_measure})
    if estimate is not None and done.peak_bytes:
        memory["peak_over_estimate"] = round(done.peak_bytes / estimate.bytes, 3)
    record = run_record(
        kind="image",
        input={
            "content": str(content_path),
            "styles": [str(p) for p in style_paths],
            "content_size": [content.shape[1], content.shape[0]],
        },
        processing_size=[width, height],
        config=config.to_dict(),
        style_weight=done.style_weight,
        device=done.engine["device"],
        precision=done.engine["precision"],
        precision_reason=done.engine["precision_reason"],
        seconds={"optimise": result.seconds, "per_iteration": result.seconds / max(1, result.iterations)},
        iterations=result.iterations,
        memory_plan=memory_plan,
        cuda_graph=done.engine["cuda_graph"],
        final_losses=result.final,
        initial_losses=result.history[0],
        stages=result.stages,
        outputs={k: str(v) for k, v in files.items()},
        memory=memory,
        **(extra or {}),
    )
    files["record"] = write_json(out_dir / "run.json", record)
    return ImageResult(result, files, record)


def torch_device_type(device: str) -> str:
    """ "cuda" of "cuda:1", "cpu" of "cpu": the kind of device the loss plot's title names."""
    return device.split(":")[0]
