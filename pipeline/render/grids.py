"""Labelled image grids: pictures letterboxed into equal square cells, with row and column labels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..io.images import fit_long_side
from .drawing import font, text_width, to_image, write_file

__all__ = ["save_image_grid"]


def _wrap_px(text: str, label_font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap of ``text`` to ``width`` pixels (long words are left whole)."""
    lines: list[str] = []
    for para in str(text).split("\n"):
        line = ""
        for word in para.split():
            trial = f"{line} {word}".strip()
            if line and text_width(label_font, trial) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


def save_image_grid(
    images: Sequence[Sequence[np.ndarray | None]],
    path,
    *,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    cell_side: int = 256,
) -> Path:
    """A labelled grid of images, each letterboxed into a ``cell_side`` square (None = empty cell)."""
    if not images or not all(isinstance(r, Sequence) and len(r) > 0 for r in images):
        raise ValueError("images must be a non-empty list of non-empty rows")
    if not isinstance(cell_side, (int, np.integer)) or cell_side < 16:
        raise ValueError(f"cell_side must be an integer >= 16, got {cell_side!r}")
    fmt = Image.registered_extensions().get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown image file extension (use .png or .jpg)")
    n_rows, n_cols = len(images), max(len(r) for r in images)
    if row_labels is not None and len(row_labels) != n_rows:
        raise ValueError(f"{len(row_labels)} row labels for {n_rows} rows")
    if col_labels is not None and len(col_labels) != n_cols:
        raise ValueError(f"{len(col_labels)} column labels for {n_cols} columns")
    cells = [
        [None if a is None else to_image(a, f"image [{r}][{c}]") for c, a in enumerate(row)]
        for r, row in enumerate(images)
    ]

    cell = int(cell_side)
    pad = max(4, cell // 32)
    label_font = font(max(10, cell // 14), bold=False)
    ascent, descent = label_font.getmetrics()
    line_h = ascent + descent + 2
    col_lines = [_wrap_px(t, label_font, cell) for t in col_labels] if col_labels is not None else []
    top = (max(len(ls) for ls in col_lines) * line_h + pad) if col_lines else 0
    if row_labels is not None:
        natural = max(text_width(label_font, str(t)) for t in row_labels)
        label_w = min(max(natural, 1), cell)
        row_lines = [_wrap_px(t, label_font, label_w) for t in row_labels]
        left = label_w + 2 * pad
    else:
        row_lines, left = [], 0
    width = left + pad + n_cols * (cell + pad)
    height = top + pad + n_rows * (cell + pad)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for c, lines in enumerate(col_lines):
        cx = left + pad + c * (cell + pad) + cell / 2
        y0 = top - len(lines) * line_h
        for k, line in enumerate(lines):
            draw.text((cx, y0 + k * line_h), line, font=label_font, fill=(20, 20, 20), anchor="ma")
    for r, lines in enumerate(row_lines):
        cy = top + pad + r * (cell + pad) + cell / 2
        first_y = cy - len(lines) * line_h / 2
        for k, line in enumerate(lines):
            draw.text((left - pad, first_y + k * line_h), line, font=label_font, fill=(20, 20, 20), anchor="ra")
    for r, row in enumerate(cells):
        for c, img in enumerate(row):
            x0, y0 = left + pad + c * (cell + pad), top + pad + r * (cell + pad)
            draw.rectangle((x0, y0, x0 + cell - 1, y0 + cell - 1), fill=(236, 236, 236))
            if img is None:
                continue
            size = fit_long_side(img.width, img.height, cell)
            fitted = img.resize(size, Image.Resampling.LANCZOS) if size != img.size else img
            canvas.paste(fitted, (x0 + (cell - size[0]) // 2, y0 + (cell - size[1]) // 2))
    return write_file(path, lambda fh: canvas.save(fh, format=fmt))
