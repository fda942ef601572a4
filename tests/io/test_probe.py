"""Tests for stylevid.pipeline.io.probe against real FFmpeg encodes (PyAV, no mocks)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from clip_tools import FPS, H, N, W
from media_factory import make_test_clip, upright_picture
from PIL import Image

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io import probe
from stylevid.pipeline.io.probe import is_video_file, probe_video
from stylevid.pipeline.io.video_read import read_frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """65x47, 36 frames at 30000/1001 fps, H.264 + AAC in MP4 (tests must not modify it)."""
    return make_test_clip(tmp_path_factory.mktemp("media") / "clip.mp4")


def test_probe_reports_size_rate_count_and_audio(clip: Path) -> None:
    info = probe_video(clip)
    assert (info.width, info.height, info.rotation) == (W, H, 0)
    assert info.fps == FPS and isinstance(info.fps, Fraction)
    assert info.frame_count == N
    assert info.audio_streams == 1
    assert info.codec == "h264"
    assert info.duration == pytest.approx(float(N / FPS), abs=1e-3)
    assert info.path == clip


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_metadata_is_applied(tmp_path: Path, rotation: int) -> None:
    path = make_test_clip(tmp_path / "rotated.mp4", rotation=rotation, frames=4, audio=False)
    info = probe_video(path)
    assert info.rotation == rotation
    assert (info.width, info.height) == (W, H)  # display size, not the stored size
    frames = list(read_frames(path))
    for frame in frames:
        assert frame.image.shape == (H, W, 3) and frame.image.flags["C_CONTIGUOUS"]
        diff = np.abs(frame.image.astype(int) - upright_picture(frame.index, W, H)).mean()
        assert diff < 8, f"frame {frame.index} is not upright (mean diff {diff:.1f})"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StylevidError, match="does not exist"):
        probe_video(tmp_path / "nope.mp4")


def test_folder_is_not_a_video(tmp_path: Path) -> None:
    with pytest.raises(StylevidError, match="is a folder, not a video file"):
        probe_video(tmp_path)


def test_text_file_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n")
    with pytest.raises(StylevidError, match="is not a video FFmpeg can read"):
        probe_video(path)


def test_audio_only_file(tmp_path: Path) -> None:
    path = make_test_clip(tmp_path / "song.m4a", video=False)
    with pytest.raises(StylevidError, match="only audio"):
        probe_video(path)


def test_huge_dimensions_are_refused(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "MAX_FRAME_PIXELS", 64 * 32)
    with pytest.raises(StylevidError, match=f"{W}x{H}.*scale the video down"):
        probe_video(clip)
    with pytest.raises(StylevidError, match=f"{W}x{H}.*scale the video down"):
        read_frames(clip)  # checked at the call, before any frame is decoded


def test_is_video_file(clip: Path, tmp_path: Path) -> None:
    image = tmp_path / "still.png"
    Image.fromarray(upright_picture(0, W, H)).save(image)
    text = tmp_path / "notes.mp4"
    text.write_text("hello")
    song = make_test_clip(tmp_path / "song.m4a", video=False)
    assert is_video_file(clip)
    assert not is_video_file(image)
    assert not is_video_file(text)
    assert not is_video_file(song)
    assert not is_video_file(tmp_path)
    assert not is_video_file(tmp_path / "missing.mp4")
