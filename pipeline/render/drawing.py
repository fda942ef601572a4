"""What the renderers share: checked arrays in as PIL images, the label font, files out atomically."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFont

from ..checks import check_picture
from ..io.images import atomic_write


def to_image(picture: object, name: str) -> Image.Image:
    """An H×W×3 uint8 RGB array (at least 1×1) as a PIL RGB image; ValueError naming ``name`` otherwise."""
    picture = check_picture(name, picture)
    if picture.shape[0] < 1 or picture.shape[1] < 1:
        raise ValueError(f"{name} is empty: shape {picture.shape}")
    return Image.fromarray(np.ascontiguousarray(picture), "RGB")


@functools.cache
def font(size: int, bold: bool = True) -> ImageFont.FreeTypeFont:
    """DejaVu Sans from matplotlib's data (wide glyph coverage, e.g. α β); Pillow's default otherwise."""
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(os.path.join(matplotlib.get_data_path(), "fonts", "ttf", name), size)
    except OSError:
        default = ImageFont.load_default(size=size)
        assert isinstance(default, ImageFont.FreeTypeFont), "Pillow without FreeType cannot measure text"
        return default


def text_width(font: ImageFont.FreeTypeFont, text: str) -> int:
    left, _, right, _ = font.getbbox(text)
    return int(right - left)


def write_file(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Create ``path``'s folder if needed and write it atomically with ``write(binary_file)``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write)
    return path
