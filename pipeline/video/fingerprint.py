"""The settings fingerprint of a video run: what its work folder's frames depend on.

A rerun with the same fingerprint resumes from the frames on disk; another fingerprint is
refused unless restarted (:meth:`.workdir.WorkFolder.open`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engine.stages import plan_stages
from .frames import FolderSource, FrameSource

if TYPE_CHECKING:
    from ..config import StyleConfig, VideoConfig


def engine_settings(style: StyleConfig, styles: list[np.ndarray]) -> dict[str, Any]:
    """What a stylised picture depends on in the engine: ``style.*`` fields (the device left out)
    and the style pictures' sha256. Shared by video runs and photo batches."""
    fields = style.to_dict()
    fields.pop("device", None)
    fields.pop("memory_limit", None)  # bounds the run, changes no frame
    fields.pop("tile", None)  # tiling computes the same frames (engine/tiling.py)
    fields.pop("bit_depth", None)  # video frames are always 8-bit
    # coarse-to-fine: what counts is the stages planned, and only when there are several, so that
    # work folders of earlier versions (and of one-scale runs) still resume
    fields.pop("pyramid", None)
    fields.pop("pyramid_iters", None)
    stages = plan_stages(style.pyramid, style.size, style.iters, style.pyramid_iters)
    if len(stages) > 1:
        fields["stages"] = [[stage.size, stage.iters] for stage in stages]
    fields["history_size"] = style.history_pairs  # "auto" is DEFAULT_HISTORY pairs for a video's frames
    digest = hashlib.sha256()
    for picture in styles:
        digest.update(np.ascontiguousarray(picture).tobytes())
    return {**{f"style.{k}": v for k, v in fields.items()}, "styles_sha256": digest.hexdigest()}


def settings_fingerprint(source: FrameSource, config: VideoConfig, styles: list[np.ndarray]) -> dict[str, Any]:
    """Everything that changes the stylised frames; encoding-only settings are left out."""
    if source.path.is_file():
        identity = f"{source.path.stat().st_size} bytes"
    else:  # a folder: its frame files' names and sizes
        assert isinstance(source, FolderSource)
        files = hashlib.sha256("\n".join(f"{p.name}:{p.stat().st_size}" for p in source.files).encode())
        identity = f"frames sha256 {files.hexdigest()}"
    flat = engine_settings(config.style, styles)
    flat.update(
        {
            "input": str(source.path.resolve()),
            "input_identity": identity,
            "fps": None if config.fps is None else str(config.fps),
            "frame_iters": config.frame_iters,
            "batch_frames": config.batch_frames,
            "frame_init": config.frame_init,
            "temporal_weight": config.temporal_weight,
            "flow_method": config.flow_method,
            "early_stop": config.early_stop,
            "start": config.start,
            "end": config.end,
            "every": config.every,
            "gif_frame": config.gif_frame,
            "cuts": config.cuts if isinstance(config.cuts, str) else list(config.cuts),
        }
    )
    if config.passes > 1:  # passes 2…N; not their count: a rerun with more passes goes on from the last one
        flat["pass_iters"] = config.later_pass_iters
    if config.long_term != (1,):  # only when set, so work folders of earlier versions still resume
        flat["long_term"] = list(config.long_term)
    if config.init_sampling != "bilinear":  # only when not bilinear, so work folders of earlier versions still resume
        flat["init_sampling"] = config.init_sampling
    if config.flow_dir is not None:  # only when given, so work folders of earlier versions still resume
        flat["flow_dir"] = str(Path(config.flow_dir).resolve())
    return flat
