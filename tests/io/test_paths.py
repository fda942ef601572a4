"""Tests for stylevid.pipeline.io.paths: input kinds and output folders, on real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from media_factory import make_test_clip
from PIL import Image

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io.paths import check_not_input, check_paths, create_output_folder, default_output, input_kind


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    return path


@pytest.fixture
def style(tmp_path: Path) -> Path:
    path = tmp_path / "style.jpg"
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(path)
    return path


def test_input_kind_of_images_videos_and_folders(tmp_path: Path, picture: Path) -> None:
    video = make_test_clip(tmp_path / "clip.mp4", frames=2, audio=False)
    assert input_kind(picture) == "image"
    assert input_kind(video) == "video"
    assert input_kind(tmp_path) == "folder"


def test_input_kind_gives_the_reason_a_path_is_unusable(tmp_path: Path) -> None:
    with pytest.raises(StylevidError, match="does not exist"):
        input_kind(tmp_path / "missing.png")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(StylevidError, match="is not a video FFmpeg can read"):
        input_kind(text)
    song = make_test_clip(tmp_path / "song.m4a", video=False)
    with pytest.raises(StylevidError, match="only audio"):
        input_kind(song)


def test_default_output_is_named_after_the_input(tmp_path: Path, picture: Path) -> None:
    assert default_output(picture) == Path("stylevid-out") / "photo"
    frames = tmp_path / "frames_in"
    frames.mkdir()
    assert default_output(frames) == Path("stylevid-out") / "frames_in"


def test_check_paths_changes_nothing_and_create_output_folder_makes_it(
    tmp_path: Path, picture: Path, style: Path
) -> None:
    out = tmp_path / "results" / "run1"
    assert check_paths(picture, [style], out) == "image"
    assert not out.exists()  # checking has no side effects
    create_output_folder(out)
    assert out.is_dir()
    assert check_paths(picture, [style], out, init=str(style)) == "image"  # an init image file


def test_check_paths_refuses_bad_styles_and_init(tmp_path: Path, picture: Path, style: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(StylevidError, match="style image .* does not exist"):
        check_paths(picture, [tmp_path / "nope.jpg"], out)
    with pytest.raises(StylevidError, match="is a folder; give an image file"):
        check_paths(picture, [tmp_path], out)
    with pytest.raises(StylevidError, match="--init must be content, noise, style or an image file"):
        check_paths(picture, [style], out, init="zeros")
    assert not out.exists()  # nothing created when a check fails


def test_check_paths_refuses_outputs_that_are_files_or_inputs(tmp_path: Path, picture: Path, style: Path) -> None:
    with pytest.raises(StylevidError, match="is a file; --output takes a folder"):
        check_paths(picture, [style], picture)
    frames = tmp_path / "frames"
    frames.mkdir()
    with pytest.raises(StylevidError, match="is the input"):
        check_paths(frames, [style], frames)


def test_check_not_input(tmp_path: Path, picture: Path) -> None:
    with pytest.raises(StylevidError, match="refusing to overwrite the input"):
        check_not_input(tmp_path / "." / "photo.png", [picture])
    check_not_input(tmp_path / "photo_styled.png", [picture])
    check_not_input(tmp_path / "new.png", [tmp_path / "new.png"])  # not written yet: nothing to overwrite
