"""Tests for stylevid.pipeline.render.grids: labelled image grids."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from render_samples import gradient, no_temp_files

from stylevid.pipeline.render.grids import save_image_grid


def test_image_grid(tmp_path):
    images = [[gradient(50, 100), gradient(100, 50)], [gradient(20, 20), None]]
    out = save_image_grid(
        images,
        tmp_path / "g.png",
        row_labels=["α=1 β=1e3", "α=1 β=1e4"],
        col_labels=["style A", "style B"],
        cell_side=64,
    )
    with Image.open(out) as im:
        assert im.format == "PNG"
        w, h = im.size
        assert w > 2 * 64 and h > 2 * 64
        px = np.asarray(im.convert("RGB"))
    # bottom-right cell (None) is the plain letterbox colour, no picture
    cell = px[h - 4 - 64 + 5 : h - 4 - 5, w - 4 - 64 + 5 : w - 4 - 5]
    assert (cell == cell[0, 0]).all()
    unlabelled = save_image_grid([[gradient()]], tmp_path / "u.jpg", cell_side=32)
    with Image.open(unlabelled) as im:
        assert im.format == "JPEG" and im.size == (32 + 2 * 4, 32 + 2 * 4)
    assert no_temp_files(tmp_path)


@pytest.mark.parametrize(
    "images, kwargs",
    [
        ([], {}),
        ([[]], {}),
        ([[np.zeros((4, 4, 3), np.float64)]], {}),
        ([[gradient()]], {"row_labels": ["a", "b"]}),
        ([[gradient()]], {"col_labels": []}),
    ],
)
def test_image_grid_bad_input(tmp_path, images, kwargs):
    with pytest.raises(ValueError):
        save_image_grid(images, tmp_path / "g.png", **kwargs)
