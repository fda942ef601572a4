"""Tests for stylevid.pipeline.render.drawing: what the renderers share."""

from __future__ import annotations

import numpy as np
import pytest

from stylevid.pipeline.render.drawing import to_image, write_file


def test_failed_write_leaves_no_temp_and_keeps_old_file(tmp_path):
    target = tmp_path / "keep.png"
    target.write_bytes(b"old")

    def boom(fh):
        fh.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_file(target, boom)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_write_file_creates_the_folder(tmp_path):
    target = tmp_path / "new" / "deeper" / "out.bin"
    assert write_file(target, lambda fh: fh.write(b"data")) == target
    assert target.read_bytes() == b"data"


def test_to_image_converts_rgb_arrays():
    picture = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    image = to_image(picture[:, ::-1], "frame 0")  # a strided view
    assert image.mode == "RGB" and image.size == (3, 2)
    assert (np.asarray(image) == picture[:, ::-1]).all()


@pytest.mark.parametrize(
    "picture",
    [
        [[0, 0, 0]],
        np.zeros((8, 8), np.uint8),
        np.zeros((8, 8, 3), np.float32),
        np.zeros((8, 8, 4), np.uint8),
        np.zeros((0, 8, 3), np.uint8),
        np.zeros((8, 0, 3), np.uint8),
    ],
)
def test_to_image_rejects_other_arrays_naming_them(picture):
    with pytest.raises(ValueError, match=r"^snapshot 3 \(iteration 7\)"):
        to_image(picture, "snapshot 3 (iteration 7)")
