"""A folder of pictures: which files count, in what order, which ones a --start/--end/--every
window selects, and their sizes read from the image headers alone.

The validation pass, the frame-folder source (:class:`~..video.frames.FolderSource`) and the
photo batch (:mod:`..batch_job`) all list a folder here, so they agree on its pictures. Files
count when they are plain files, not hidden (no leading dot) and named like an image
(:data:`.paths.IMAGE_SUFFIXES`); anything else in the folder (notes, sidecars, ``.DS_Store``,
subfolders) is passed over. Imports neither torch nor OpenCV nor PyAV.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from PIL import Image

from ..errors import StylevidError
from .paths import IMAGE_SUFFIXES

#: Refuse selections longer than this many frames (guards memory and run time; --end lowers it).
MAX_FRAMES = 200_000
#: Frame rate of a folder of frames when --fps is not given.
DEFAULT_FOLDER_FPS = Fraction(25)
#: EXIF orientations that turn the picture a quarter turn (width and height swap when it is made upright).
_QUARTER_TURNS = (5, 6, 7, 8)


def natural_key(name: str) -> list:
    """Sort key putting frame2.png before frame10.png."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def picture_files(folder: Path) -> list[Path]:
    """The pictures of ``folder`` in natural order (see the module doc for which files count)."""
    return sorted(
        (
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        ),
        key=lambda p: natural_key(p.name),
    )


def to_index(value: int | float | None, fps: Fraction, default: int) -> int:
    """A --start/--end value as a frame index: ints are indices, floats seconds at ``fps``."""
    if value is None:
        return default
    if isinstance(value, float):
        return math.ceil(value * float(fps) - 1e-9)
    return value


@dataclass(frozen=True)
class Selection:
    """The pictures of a folder that a run works on."""

    files: list[Path]  # the selected pictures, in order
    indices: list[int]  # each one's index among all the folder's pictures


def select_pictures(
    folder: Path,
    *,
    start: int | float | None = None,
    end: int | float | None = None,
    every: int = 1,
    fps: Fraction | None = None,
) -> Selection:
    """The pictures of ``folder`` that the window selects, or a StylevidError saying why there are none."""
    files = picture_files(folder)
    if not files:
        raise StylevidError(f"folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    fps = fps or DEFAULT_FOLDER_FPS
    window = slice(to_index(start, fps, 0), to_index(end, fps, len(files)), every)
    selection = Selection(files[window], list(range(len(files)))[window])
    if not selection.files:
        raise StylevidError(f"no frames of {folder} fall between --start and --end")
    if len(selection.files) > MAX_FRAMES:
        raise StylevidError(f"more than {MAX_FRAMES} frames selected; use --end or --every")
    return selection


def header_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of the picture as :func:`.images.load_image` returns it (upright per its EXIF
    orientation), read from the file's header without decoding its pixels; None when the header
    cannot be read (decoding the file says why).

    A PNG whose EXIF block follows its pixel data is measured as stored: only decoding finds that
    block, so a frame source still compares the decoded sizes.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if _orientation(image) in _QUARTER_TURNS:
                    width, height = height, width
                return width, height
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation tag (1 = upright) found in the header."""
    if image.format == "PNG" and "exif" not in image.info:
        return 1  # Pillow would decode the whole PNG to look for an EXIF block after the pixels
    try:
        value = image.getexif().get(0x0112, 1)
    except (OSError, SyntaxError, ValueError, TypeError):
        return 1  # a broken EXIF block: load_image's exif_transpose leaves such a picture as it is too
    return value if isinstance(value, int) else 1


@dataclass(frozen=True)
class SizeMismatch:
    """The first picture whose size differs from the first picture's."""

    first: Path
    first_size: tuple[int, int]  # (width, height)
    odd: Path
    odd_size: tuple[int, int]  # (width, height)


def first_size_mismatch(files: Iterable[Path]) -> SizeMismatch | None:
    """The first file whose header size differs from the first readable one's, or None.

    Files whose header cannot be read are passed over here: decoding reports them when it
    reaches them, as it does for a damaged frame today.
    """
    first: tuple[Path, tuple[int, int]] | None = None
    for file in files:
        size = header_size(file)
        if size is None:
            continue
        if first is None:
            first = (file, size)
        elif size != first[1]:
            return SizeMismatch(first[0], first[1], file, size)
    return None
