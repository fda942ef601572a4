"""Coarse-to-fine stylisation (Gatys et al., "Controlling Perceptual Factors in Neural Style
Transfer", CVPR 2017): optimise a small version of the picture first, then start each larger stage
from the previous result, upsampled bicubically, with the content's detail of the new stage's
band added back (:func:`detailed_start`), and with a first L-BFGS step as long as the previous
stage's last (``first_step``; docs/method.md "Coarse-to-fine", "The stage start").

VGG's receptive field is fixed in pixels: at 2048 px one optimisation at full size paints small,
repeated strokes; the coarse stages lay down the painting's large structures, the later ones
refine them. Each stage is an ordinary optimisation of its own size — its content picture
downscaled from the run's, its style pictures rescaled to stage size × style_scale
(:meth:`~.transfer.StyleTransfer.at_size`), its β area-scaled like any run's — with its own
iteration budget (:mod:`.stages`). The last stage is the run's own engine at ``--size``.

:func:`stylize_in_stages` returns one :class:`~.transfer.Stylized` for the whole run: the last
stage's picture, the stages' histories one after another (each row tagged with its ``stage``),
the snapshots of every stage resized to the final picture's snapshot size (8-bit, the long side at
most ``SNAPSHOT_LONG_SIDE``: engine/snapshots.py), and a record per stage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..io.images import resize, resize_long_side
from .optimize import ReportFn
from .snapshots import snapshot_iterations, snapshot_size
from .stages import Stage
from .transfer import StyleTransfer, Stylized

#: Called as a stage begins: (stage index from 0, number of stages, the stage).
StageFn = Callable[[int, int, Stage], None]

#: How a stage after the first starts: "detailed" (the previous result upsampled plus the content's
#: detail of the new band, and the previous stage's step length carried over) or "upsampled" (the
#: previous result upsampled, L-BFGS's own first step: the first version, kept for benchmarks).
STAGE_STARTS = ("detailed", "upsampled")


def detailed_start(previous: torch.Tensor, previous_content: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The start of a stage: ``previous`` (1, 3, h, w: the stage before's result) upsampled to
    ``content``'s size, plus the content's detail that the stage before could not hold —
    ``content`` minus ``previous_content`` (the stage before's content, h × w) upsampled, one band
    of a Laplacian pyramid — clamped to 0–1.

    Upsampling alone leaves the new band empty: the start is blurred, and its loss at the new size
    is as high as the photo's own (the style's fine statistics are gone; docs/method.md). The
    content's band brings back its edges, which the next stage then paints over.
    """
    height, width = content.shape[-2:]
    band = content - _bicubic(previous_content, height, width)
    return (_bicubic(previous, height, width) + band).clamp_(0, 1)


def _bicubic(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return torch.nn.functional.interpolate(image, size=(height, width), mode="bicubic", align_corners=False)


def stylize_in_stages(
    engine: StyleTransfer,
    content: np.ndarray,
    stages: Sequence[Stage],
    *,
    init: np.ndarray | str | None = None,
    seed: int | None = None,
    snapshots: bool = False,
    on_report: ReportFn | None = None,
    on_stage: StageFn | None = None,
    stage_start: str = "detailed",
) -> Stylized:
    """Stylise ``content`` (at the engine's processing size) from scratch through ``stages``.

    ``init`` (default: the configured one) starts the first stage; ``snapshots``: keep the
    log-spaced snapshots of every stage (the progress GIF's frames). ``on_report`` sees each
    stage's own iteration numbers; ``on_stage`` is told when each stage begins; ``stage_start``:
    one of STAGE_STARTS. With a single stage this is ``engine.stylize`` plus its stage record.
    """
    if stage_start not in STAGE_STARTS:
        raise ValueError(f"stage_start must be one of {STAGE_STARTS}, got {stage_start!r}")
    if not stages or stages[-1].size != max(content.shape[:2]):
        raise ValueError(f"the last stage must be the content's long side {max(content.shape[:2])}, got {stages}")
    height, width = content.shape[:2]
    results: list[Stylized] = []
    records: list[dict[str, Any]] = []
    start: np.ndarray | torch.Tensor | str | None = init
    first_step: float | None = None  # the first L-BFGS step's length (None: L-BFGS's own)
    previous_content: torch.Tensor | None = None  # the stage before's content, as the optimiser sees it
    for index, stage in enumerate(stages):
        last = index == len(stages) - 1
        stage_content = content if last else resize_long_side(content, stage.size)
        stage_engine = (
            engine if last else engine.at_size(stage.size, style_weight=_stage_beta(engine, stage_content, content))
        )
        working_content = stage_engine.to_working(stage_content)
        if stage_start == "detailed" and isinstance(start, torch.Tensor) and previous_content is not None:
            start = detailed_start(start.to(working_content.device), previous_content, working_content)
        if on_stage is not None:
            on_stage(index, len(stages), stage)
        wanted = [0, *snapshot_iterations(stage.iters)] if snapshots else []
        result = stage_engine.stylize(
            stage_content,
            init=start,
            iters=stage.iters,
            seed=seed,
            snapshot_at=wanted,
            on_report=on_report,
            first_step=first_step,
        )
        records.append(
            {
                "stage": index + 1,
                "size": [stage_content.shape[1], stage_content.shape[0]],
                "iterations": result.iterations,
                "iteration_budget": stage.iters,
                "seconds": result.seconds,
                "style_weight": stage_engine.style_weight_for(stage_content),
                "initial_losses": result.history[0],
                "final_losses": result.final,
            }
        )
        results.append(result)
        start = result.image  # the next stage starts from this, upsampled (StyleTransfer.initial_image)
        # ... with a first step as long as this stage's last (L-BFGS's own first step is ~nothing)
        if stage_start == "detailed" and engine.config.optimizer == "lbfgs":
            first_step = result.step_scale
        previous_content = working_content
    return _joined(results, records, width, height)


def _stage_beta(engine: StyleTransfer, stage_content: np.ndarray, content: np.ndarray) -> float | None:
    """β of a stage: a β given for the run is scaled by the stage's area over the final one, like the
    default (which each stage computes for its own area), so every stage keeps the run's balance."""
    if engine.config.style_weight is None:
        return None
    return (
        engine.config.style_weight
        * stage_content.shape[0]
        * stage_content.shape[1]
        / (content.shape[0] * content.shape[1])
    )


def _joined(results: list[Stylized], records: list[dict[str, Any]], width: int, height: int) -> Stylized:
    """One result for the whole run: the last stage's picture, the stages' histories and snapshots in turn."""
    history: list[dict[str, float]] = []
    snapshots: list[tuple[int, np.ndarray]] = []
    snapshot_height, snapshot_width = snapshot_size(height, width)
    offset = 0
    for number, result in enumerate(results, start=1):
        history += [{**row, "iteration": row["iteration"] + offset, "stage": number} for row in result.history]
        for iteration, picture in result.snapshots:
            if iteration == 0 and number > 1:
                continue  # the upsampled end of the stage before, already shown
            snapshots.append((iteration + offset, resize(picture, snapshot_width, snapshot_height)))
        offset += result.iterations
    final = results[-1]
    return Stylized(
        picture=final.picture,
        history=history,
        final=final.final,
        snapshots=snapshots,
        iterations=sum(r.iterations for r in results),
        seconds=sum(r.seconds for r in results),
        replayed=sum(r.replayed for r in results),
        graph_failure=next((r.graph_failure for r in results if r.graph_failure), None),
        image=final.image,
        picture16=final.picture16,
        stages=records,
    )
