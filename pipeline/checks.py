"""Shared input checks: one function per kind of value, each raising with the value's name.

Option checks (whole numbers, finite numbers, choices) raise :class:`StylevidError`: the user can
fix them, and the CLI prints them as one line. Array and tensor checks raise ``ValueError``: a
wrong shape reaching a library function is a programming error. Nothing here imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import StylevidError


def positive_int(name: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> None:
    """StylevidError unless ``value`` is a whole number (not a bool) in [minimum, maximum]."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        if maximum is not None:
            raise StylevidError(f"{name} must be a whole number from {minimum} to {maximum}, got {value!r}")
        what = "a positive whole number" if minimum == 1 else f"a whole number of at least {minimum}"
        raise StylevidError(f"{name} must be {what}, got {value!r}")


def finite(name: str, value: Any, *, positive: bool = False) -> None:
    """StylevidError unless ``value`` is a finite number ≥ 0 (> 0 with ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise StylevidError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise StylevidError(f"{name} must be {'positive' if positive else 'zero or more'}, got {value!r}")


def one_of(name: str, value: Any, choices: Sequence[str]) -> None:
    """StylevidError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise StylevidError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def check_window(start: Any, end: Any, every: Any) -> None:
    """--start / --end (a frame index, or a time in seconds as a float) and --every (a step ≥ 1)."""
    for name, value in (("start", start), ("end", end)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise StylevidError(f"--{name} must be a frame index or a time in seconds, not {value!r}")
        if value < 0 or (isinstance(value, float) and not math.isfinite(value)):
            raise StylevidError(f"--{name} must be zero or positive, not {value}")
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise StylevidError(f"--every must be a whole number of at least 1, not {every!r}")
    if end is not None and end <= (start if start is not None and type(start) is type(end) else 0):
        raise StylevidError(f"--end ({end}) must come after --start ({start or 0})")


def check_picture(name: str, picture: Any) -> np.ndarray:
    """ValueError unless ``picture`` is an H×W×3 uint8 RGB numpy array; returns it."""
    if not isinstance(picture, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(picture).__name__}")
    if picture.dtype != np.uint8 or picture.ndim != 3 or picture.shape[2] != 3:
        raise ValueError(
            f"{name} must be a uint8 RGB array of shape (H, W, 3), got dtype {picture.dtype} and shape {picture.shape}"
        )
    return picture


def check_batch(name: str, tensor: Any, *, channels: int | None = None, floating: bool = False) -> None:
    """ValueError unless ``tensor`` is a (B, C, H, W) tensor (with C = ``channels`` if given).

    Works on any tensor-like with ``shape``, ``ndim`` and ``is_floating_point()`` (torch tensors),
    so this module needs no torch import.
    """
    shape = getattr(tensor, "shape", None)
    if shape is None or not hasattr(tensor, "is_floating_point"):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if len(shape) != 4 or (channels is not None and shape[1] != channels):
        layout = f"(B, {channels}, H, W)" if channels is not None else "(B, C, H, W)"
        raise ValueError(f"{name} must have shape {layout}, got {tuple(shape)}")
    if floating and not tensor.is_floating_point():
        raise ValueError(f"{name} must be floating point, got dtype {tensor.dtype}")
