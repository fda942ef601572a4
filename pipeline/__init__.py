"""stylevid.pipeline — the importable engine behind the `stylevid` command.

The public API, stable across releases::

    from stylevid.pipeline import StyleConfig, VideoConfig, stylize_image, stylize_photos, stylize_video
    from stylevid.pipeline import stylize_each_style

The subpackages (``engine``, ``motion``, ``video``, ``io``, ``render``) hold the parts behind it.

Names are imported on first use (PEP 562), so ``import stylevid.pipeline`` and the configuration
objects cost no torch, OpenCV or PyAV import; the command line starts fast because of it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name → module (relative to this package) that defines it
_EXPORTS = {
    "StylevidError": ".errors",
    "StyleConfig": ".config",
    "VideoConfig": ".config",
    "StyleTransfer": ".engine.transfer",
    "Stylized": ".engine.transfer",
    "stylize_image": ".engine.transfer",
    "load_image": ".io.images",
    "save_image": ".io.images",
    "ImageResult": ".image_job",
    "stylize_image_file": ".image_job",
    "Progress": ".progress",
    "VideoResult": ".video_job",
    "stylize_video": ".video_job",
    "PhotoBatchResult": ".batch_job",
    "stylize_photos": ".batch_job",
    "EachStyleResult": ".each_style",
    "stylize_each_style": ".each_style",
    "evaluate_pair": ".evaluate",
    "evaluate_clips": ".evaluate",
}

__all__ = [
    "EachStyleResult",
    "ImageResult",
    "PhotoBatchResult",
    "Progress",
    "StyleConfig",
    "StyleTransfer",
    "StylevidError",
    "Stylized",
    "VideoConfig",
    "VideoResult",
    "evaluate_clips",
    "evaluate_pair",
    "load_image",
    "save_image",
    "stylize_each_style",
    "stylize_image",
    "stylize_image_file",
    "stylize_photos",
    "stylize_video",
]

if TYPE_CHECKING:
    from .batch_job import PhotoBatchResult, stylize_photos
    from .config import StyleConfig, VideoConfig
    from .each_style import EachStyleResult, stylize_each_style
    from .engine.transfer import StyleTransfer, Stylized, stylize_image
    from .errors import StylevidError
    from .evaluate import evaluate_clips, evaluate_pair
    from .image_job import ImageResult, stylize_image_file
    from .io.images import load_image, save_image
    from .progress import Progress
    from .video_job import VideoResult, stylize_video


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
