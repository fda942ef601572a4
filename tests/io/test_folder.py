"""A folder of pictures: which files count, the window, and sizes from headers (EXIF orientation included)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io.folder import first_size_mismatch, header_size, picture_files, select_pictures
from stylevid.pipeline.io.images import load_image


def picture(path, width: int, height: int):
    Image.fromarray(np.full((height, width, 3), 90, np.uint8)).save(path)
    return path


def test_only_visible_image_files_count_in_natural_order(tmp_path):
    for name in ("f10.png", "f2.JPG", "f1.webp", ".f0.png"):
        picture(tmp_path / name, 8, 6)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in picture_files(tmp_path)] == ["f1.webp", "f2.JPG", "f10.png"]


def test_the_window_selects_like_a_frame_source(tmp_path):
    for i in range(10):
        picture(tmp_path / f"f{i}.png", 8, 6)
    selection = select_pictures(tmp_path, start=1, end=8, every=3)
    assert [p.name for p in selection.files] == ["f1.png", "f4.png", "f7.png"] and selection.indices == [1, 4, 7]
    assert select_pictures(tmp_path, start=0.25, end=0.5, fps=Fraction(10)).indices == [3, 4]
    with pytest.raises(StylevidError, match="no frames of .* fall between --start and --end"):
        select_pictures(tmp_path, start=20)
    (tmp_path / "empty").mkdir()
    with pytest.raises(StylevidError, match="holds no images"):
        select_pictures(tmp_path / "empty")


def test_header_size_is_the_decoded_size_made_upright(tmp_path):
    plain = picture(tmp_path / "plain.png", 30, 20)
    turned = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° to display
    Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).save(turned, exif=exif.tobytes())
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    assert header_size(plain) == (30, 20) == load_image(plain).shape[1::-1]
    assert header_size(turned) == (20, 30) == load_image(turned).shape[1::-1]
    assert header_size(tmp_path / "broken.png") is None


def test_first_size_mismatch_names_both_pictures_and_passes_over_broken_headers(tmp_path):
    files = [picture(tmp_path / "a.png", 16, 12), picture(tmp_path / "b.png", 16, 12)]
    assert first_size_mismatch(files) is None
    (tmp_path / "c.png").write_bytes(b"not a picture")
    files += [tmp_path / "c.png", picture(tmp_path / "d.png", 18, 12), picture(tmp_path / "e.png", 20, 12)]
    mismatch = first_size_mismatch(files)
    assert mismatch is not None
    assert (mismatch.first.name, mismatch.first_size, mismatch.odd.name, mismatch.odd_size) == (
        "a.png",
        (16, 12),
        "d.png",
        (18, 12),
    )
