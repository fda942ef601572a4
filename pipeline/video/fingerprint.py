"""The settings fingerprint of a video run: what its work folder's frames depend on.

A rerun with the same fingerprint resumes from the frames on disk; another fingerprint is
refused unless restarted (:meth:`.workdir.WorkFolder.open`).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np

from .frames import FolderSource, FrameSource

if TYPE_CHECKING:
    from ..config import VideoConfig


def settings_fingerprint(source: FrameSource, config: VideoConfig, styles: list[np.ndarray]) -> dict[str, Any]:
    """Everything that changes the stylised frames; encoding-only settings are left out."""
    style = config.style.to_dict()
    style.pop("device", None)
    style.pop("tile", None)  # tiling computes the same frames (engine/tiling.py)
    style.pop("bit_depth", None)  # video frames are always 8-bit
    digest = hashlib.sha256()
    for picture in styles:
        digest.update(np.ascontiguousarray(picture).tobytes())
    if source.path.is_file():
        identity = f"{source.path.stat().st_size} bytes"
    else:  # a folder: its frame files' names and sizes
        assert isinstance(source, FolderSource)
        files = hashlib.sha256("\n".join(f"{p.name}:{p.stat().st_size}" for p in source.files).encode())
        identity = f"frames sha256 {files.hexdigest()}"
    flat = {f"style.{k}": v for k, v in style.items()}
    flat.update(
        {
            "input": str(source.path.resolve()),
            "input_identity": identity,
            "fps": None if config.fps is None else str(config.fps),
            "styles_sha256": digest.hexdigest(),
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
        }
    )
    return flat
