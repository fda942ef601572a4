"""One photo of a batch: the unit of work, with no files and no loop.

:func:`stylise_photo` takes an engine (VGG and style targets already built) and a decoded
picture, and returns the stylised picture with its numbers. It writes nothing and knows nothing
of other photos, so a runner may call it anywhere the engine lives (one process here; several
workers, each with its own engine, in a distributed runner).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine.optimize import ReportFn
from ..engine.pyramid import stylize_in_stages
from ..engine.transfer import StyleTransfer


@dataclass(frozen=True)
class StylisedPhoto:
    picture: np.ndarray  # the result at processing size (long side = config.size), H×W×3 uint8 RGB
    stats: dict[str, Any]  # source/processing size, iterations, final losses, β and seconds (run.json's row)


def stylise_photo(engine: StyleTransfer, photo: np.ndarray, *, on_report: ReportFn | None = None) -> StylisedPhoto:
    """Stylise ``photo`` (H×W×3 uint8, any size) at its own size: long side = ``engine.config.size``.

    Runs ``engine.config.iters`` iterations from the configured init (through the stages of
    ``engine.config.pyramid`` where it plans several), like a single image. With
    --preserve-colors the style targets are matched to this photo's luminance, not an earlier one's.
    """
    if engine.config.preserve_colors:
        engine.reset_style_targets()
    content = engine.prepare_content(photo)
    result = stylize_in_stages(engine, content, engine.stages(), on_report=on_report)  # coarse-to-fine if planned
    stats = {
        "source_size": [photo.shape[1], photo.shape[0]],
        "processing_size": [content.shape[1], content.shape[0]],
        "iterations": result.iterations,
        "final_losses": result.final,
        "style_weight": engine.style_weight_for(content),
        "seconds": result.seconds,
    }
    if len(result.stages) > 1:
        stats["stages"] = result.stages
    return StylisedPhoto(result.picture, stats)
