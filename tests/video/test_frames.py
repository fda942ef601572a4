"""Frame sources: a folder read in natural order with --start/--end/--every, and decoding damage kept apart."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.video.frames import frames_until_damage, open_source


def frame_folder(path, names: list[str], size: tuple[int, int] = (12, 16)):
    path.mkdir()
    for i, name in enumerate(names):
        Image.fromarray(np.full((*size, 3), 20 * i, np.uint8)).save(path / name)
    return path


def test_a_folder_is_read_in_natural_order_with_its_own_names(tmp_path):
    folder = frame_folder(tmp_path / "in", ["f10.png", "f2.png", "f1.png", ".hidden.png"])
    source = open_source(folder)
    frames = list(source.frames())
    assert [f.name for f in frames] == ["f1.png", "f2.png", "f10.png"]
    assert [f.position for f in frames] == [0, 1, 2]
    assert source.expected_count() == 3 and source.fps == 25


def test_start_end_and_every_select_frames_and_keep_their_times(tmp_path):
    folder = frame_folder(tmp_path / "in", [f"f{i}.png" for i in range(10)])
    source = open_source(folder, start=1, end=8, every=3, fps=Fraction(10))
    frames = list(source.frames())
    assert [(f.position, f.index) for f in frames] == [(0, 1), (1, 4), (2, 7)]
    assert [f.time for f in frames] == pytest.approx([0.1, 0.4, 0.7])
    seconds = open_source(folder, start=0.25, end=0.5, fps=Fraction(10))  # floats are seconds
    assert [f.index for f in seconds.frames()] == [3, 4]


def test_frames_of_another_size_are_refused(tmp_path):
    folder = frame_folder(tmp_path / "in", ["a.png"])
    Image.fromarray(np.zeros((12, 18, 3), np.uint8)).save(folder / "b.png")
    with pytest.raises(StylevidError, match="b.png is 18×12, the frames before it 16×12"):
        list(open_source(folder).frames())


def test_damage_ends_the_frames_and_is_kept_for_later(tmp_path):
    folder = frame_folder(tmp_path / "in", ["f1.png", "f2.png"])
    (folder / "f3.png").write_bytes(b"not a picture")
    damage: list[StylevidError] = []
    assert [f.name for f in frames_until_damage(open_source(folder), damage)] == ["f1.png", "f2.png"]
    assert len(damage) == 1 and "f3.png" in str(damage[0])


def test_damage_before_any_frame_is_raised(tmp_path):
    folder = frame_folder(tmp_path / "in", [])
    (folder / "f1.png").write_bytes(b"not a picture")
    damage: list[StylevidError] = []
    with pytest.raises(StylevidError, match="f1.png"):
        list(frames_until_damage(open_source(folder), damage))
    assert damage == []
