"""Middlebury ``.flo`` optical-flow files (the format MPI Sintel and most flow methods write).

Layout, all little-endian: the magic number ``202021.25`` as float32 (the bytes ``PIEH``), the
width and the height as int32, then ``height × width`` pairs ``(u, v)`` of float32, row by row
(``u`` horizontal, ``v`` vertical, in pixels). Values above 1e9 mark unknown flow in Middlebury's
ground truth; they are read as they are (a mask decides which pixels count).

Flows here are numpy ``(H, W, 2)`` float32, channel 0 = x, as everywhere in
:mod:`stylevid.pipeline.motion`. The direction of a file's flow is not in the file: its name says
it (see :mod:`stylevid.pipeline.motion.given_flow`).

Sintel's occlusion and invalid masks are 8-bit PNGs, white (255) = occluded / invalid:
:func:`read_mask_png` reads one as a boolean array, :func:`write_mask_png` writes one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import StylevidError

__all__ = ["FLO_MAGIC", "read_flo", "read_flo_size", "read_mask_png", "write_flo", "write_mask_png"]

FLO_MAGIC = 202021.25  # float32 little-endian: b"PIEH"
_HEADER = 12  # magic, width, height
_MAX_SIDE = 100_000  # a larger side is a damaged header, not a flow


def read_flo_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(height, width)`` from a ``.flo`` file's header (checks the magic number and the file length)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            header = handle.read(_HEADER)
    except OSError as error:
        raise StylevidError(f"cannot read flow file {path}: {error.strerror or error}") from None
    if len(header) < _HEADER:
        raise StylevidError(f"{path} is not a .flo flow file (only {len(header)} bytes)")
    magic = float(np.frombuffer(header[:4], dtype="<f4")[0])
    if magic != FLO_MAGIC:
        raise StylevidError(f"{path} is not a Middlebury .flo flow file (magic number {magic!r}, expected {FLO_MAGIC})")
    width, height = (int(v) for v in np.frombuffer(header[4:], dtype="<i4"))
    if not (0 < width <= _MAX_SIDE and 0 < height <= _MAX_SIDE):
        raise StylevidError(f"{path} declares an impossible flow size {width}×{height}")
    expected = _HEADER + width * height * 8
    if size != expected:
        raise StylevidError(f"{path} holds {size} bytes; a {width}×{height} flow takes {expected} (file cut short?)")
    return height, width


def read_flo(path: str | os.PathLike) -> np.ndarray:
    """The flow in ``path`` as ``(H, W, 2)`` float32; one clear StylevidError for a file that is not one."""
    height, width = read_flo_size(path)
    data = np.fromfile(Path(path), dtype="<f4", offset=_HEADER)
    return data.reshape(height, width, 2).astype(np.float32)


def write_flo(path: str | os.PathLike, flow: np.ndarray) -> Path:
    """Write an ``(H, W, 2)`` flow as a ``.flo`` file (written to a temporary name, then renamed)."""
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2 or not np.issubdtype(flow.dtype, np.floating):
        raise ValueError(f"flow must be a floating (H, W, 2) array, got {flow.dtype} {flow.shape}")
    height, width = flow.shape[:2]
    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial")
    with temporary.open("wb") as handle:
        handle.write(np.array([FLO_MAGIC], dtype="<f4").tobytes())
        handle.write(np.array([width, height], dtype="<i4").tobytes())
        handle.write(np.ascontiguousarray(flow, dtype="<f4").tobytes())
    os.replace(temporary, path)
    return path


def read_mask_png(path: str | os.PathLike) -> np.ndarray:
    """A Sintel-style mask PNG as an ``(H, W)`` bool array: True where the pixel is white (> 127)."""
    import cv2  # OpenCV only when masks are read

    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise StylevidError(f"cannot read mask {path} (not a PNG picture?)")
    return mask > 127


def write_mask_png(path: str | os.PathLike, mask: np.ndarray) -> Path:
    """Write an ``(H, W)`` bool mask as an 8-bit PNG, white = True (Sintel's convention)."""
    import cv2

    path = Path(path)
    if not cv2.imwrite(str(path), np.where(np.asarray(mask, dtype=bool), 255, 0).astype(np.uint8)):
        raise StylevidError(f"cannot write mask {path}")
    return path
