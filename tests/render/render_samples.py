"""Sample pictures and file checks shared by the render tests."""

from __future__ import annotations

import numpy as np


def gradient(h: int = 96, w: int = 128, shift: int = 0) -> np.ndarray:
    """An H×W×3 uint8 picture: red ramps left to right (shifted by ``shift``), green top to bottom."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 255 // max(1, w - 1) + shift) % 256, y * 255 // max(1, h - 1), np.full_like(x, 128)], axis=-1)
    return img.astype(np.uint8)


def no_temp_files(folder) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]
