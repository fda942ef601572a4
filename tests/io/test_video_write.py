"""Tests for stylevid.pipeline.io.video_write against real FFmpeg encodes (PyAV, no mocks)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from clip_tools import FPS, H, N, W, audio_info, copy_video
from media_factory import make_test_clip

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io.probe import probe_video
from stylevid.pipeline.io.video_read import read_frames
from stylevid.pipeline.io.video_write import VideoWriter, check_encoder


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """65x47, 36 frames at 30000/1001 fps, H.264 + AAC in MP4 (tests must not modify it)."""
    return make_test_clip(tmp_path_factory.mktemp("media") / "clip.mp4")


def test_writer_round_trip_matches_input(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    frames = copy_video(clip, out)
    info = probe_video(out)
    assert info.frame_count == N and info.fps == FPS
    assert (info.width, info.height) == (W + 1, H + 1)  # odd sizes padded to even
    assert info.duration == pytest.approx(float(N / FPS), abs=float(1 / FPS))
    back = list(read_frames(out))
    assert len(back) == N
    for a, b in zip(frames, back):
        assert b.time == pytest.approx(a.time, abs=float(info.time_base))
        assert np.abs(b.image[:H, :W].astype(int) - a.image).mean() < 6
    # AAC is copied packet for packet: same codec, same bytes.
    codec, seconds, packets = audio_info(out)
    src_codec, _, src_packets = audio_info(clip)
    assert codec == src_codec == "aac"
    assert packets == src_packets
    assert seconds == pytest.approx(info.duration, abs=0.1)


def test_writer_pads_odd_sizes_with_the_edge(tmp_path: Path) -> None:
    image = np.zeros((5, 7, 3), np.uint8) + 40
    image[-1, :] = 200  # bright last row
    image[:, -1] = 120  # grey last column
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, fps=Fraction(25), width=7, height=5) as writer:
        for i in range(3):
            writer.write(image, i / 25)
    picture = next(iter(read_frames(out))).image
    assert picture.shape == (6, 8, 3)
    assert abs(int(picture[5, 2, 0]) - 200) < 20 and abs(int(picture[2, 7, 0]) - 120) < 20


def test_writer_keeps_colours(tmp_path: Path) -> None:
    """RGB -> BT.709 YUV (tagged) -> RGB comes back within a few levels."""
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (128, 64, 200), (20, 200, 90)]
    image = np.zeros((16, 16 * len(colours), 3), np.uint8)
    for i, colour in enumerate(colours):
        image[:, 16 * i : 16 * (i + 1)] = colour
    out = tmp_path / "bars.mp4"
    with VideoWriter(out, fps=Fraction(25), width=image.shape[1], height=16) as writer:
        writer.write(image, 0.0)
    back = next(iter(read_frames(out))).image
    for i, colour in enumerate(colours):
        assert np.abs(back[8, 16 * i + 8].astype(int) - colour).max() <= 6, colour


def test_vfr_timestamps_survive_the_writer(tmp_path: Path) -> None:
    source = make_test_clip(tmp_path / "vfr.mp4", vfr=True)
    out = tmp_path / "vfr_out.mp4"
    frames = copy_video(source, out)
    info = probe_video(out)
    back = list(read_frames(out))
    assert len(back) == len(frames) == N
    tick = float(probe_video(source).time_base)
    assert max(abs(a.time - b.time) for a, b in zip(frames, back)) <= tick + 1e-9
    assert info.frame_count == N


def test_writer_leaves_nothing_behind_on_error(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.mp4"
    out.write_bytes(b"previous result")
    with pytest.raises(RuntimeError, match="style transfer blew up"):
        with VideoWriter(out, fps=FPS, width=W, height=H, audio_source=clip) as writer:
            for frame in read_frames(clip, end=5):
                writer.write(frame.image, frame.time)
            raise RuntimeError("style transfer blew up")
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.mp4"]


def test_writer_writes_through_a_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "atomic.mp4"
    writer = VideoWriter(out, fps=Fraction(25), width=8, height=8)
    for i in range(60):  # enough for the encoder to emit packets
        writer.write(np.full((8, 8, 3), i, np.uint8), i / 25)
    assert not out.exists() and (tmp_path / ".atomic.partial.mp4").exists()
    writer.close()
    assert [p.name for p in tmp_path.iterdir()] == ["atomic.mp4"]
    assert probe_video(out).frame_count == 60


def test_writer_without_frames_writes_nothing(tmp_path: Path) -> None:
    writer = VideoWriter(tmp_path / "none.mp4", fps=Fraction(25), width=8, height=8)
    with pytest.raises(StylevidError, match="no frames were produced"):
        writer.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix, codec", [(".mkv", "libx265"), (".mkv", "mpeg4"), (".webm", "libvpx-vp9")])
def test_writer_other_codecs(clip: Path, tmp_path: Path, suffix: str, codec: str) -> None:
    out = tmp_path / f"other{suffix}"
    copy_video(clip, out, end=6, codec=codec)
    info = probe_video(out)
    assert len(list(read_frames(out))) == 6
    assert info.audio_streams == 1
    if suffix == ".webm":
        assert audio_info(out)[0] == "opus"  # WebM cannot hold AAC: re-encoded


def test_writer_rejects_unknown_codec(tmp_path: Path) -> None:
    with pytest.raises(StylevidError, match="unknown video codec 'h266'.*libx264"):
        VideoWriter(tmp_path / "x.mp4", fps=FPS, width=W, height=H, codec="h266")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("crf", [-1, 52, 1.5])
def test_writer_rejects_bad_crf(tmp_path: Path, crf) -> None:
    with pytest.raises(StylevidError, match="--crf"):
        VideoWriter(tmp_path / "x.mp4", fps=FPS, width=W, height=H, crf=crf)
    assert list(tmp_path.iterdir()) == []


def test_check_encoder_needs_no_file() -> None:
    check_encoder("libx264", 51)
    check_encoder("libvpx-vp9", 63)
    with pytest.raises(StylevidError, match="unknown video codec 'aac'"):  # an encoder, but not for video
        check_encoder("aac", 18)
    with pytest.raises(StylevidError, match="--crf must be a whole number from 0 to 51 for libx264, not 52"):
        check_encoder("libx264", 52)
    with pytest.raises(StylevidError, match="--crf"):
        check_encoder("libx264", True)


def test_writer_rejects_codec_the_container_cannot_hold(tmp_path: Path) -> None:
    with pytest.raises(StylevidError, match="cannot hold libx264"):
        VideoWriter(tmp_path / "x.webm", fps=FPS, width=W, height=H, codec="libx264")
    assert list(tmp_path.iterdir()) == []


def test_writer_needs_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(StylevidError, match="does not exist"):
        VideoWriter(tmp_path / "missing" / "x.mp4", fps=FPS, width=W, height=H)


def test_writer_needs_increasing_times(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not after"):
        with VideoWriter(tmp_path / "x.mp4", fps=Fraction(25), width=8, height=8) as writer:
            writer.write(np.zeros((8, 8, 3), np.uint8), 0.04)
            writer.write(np.zeros((8, 8, 3), np.uint8), 0.04)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((8, 6, 3), np.uint8), r"expected a \(8, 8, 3\) uint8 RGB array, got \(8, 6, 3\)"),
        (np.zeros((8, 8, 3), np.float32), "image must be a uint8 RGB array"),
        (np.zeros((8, 8), np.uint8), "image must be a uint8 RGB array"),
        ([[0] * 8] * 8, "image must be a numpy array, got list"),
    ],
)
def test_writer_rejects_pictures_of_the_wrong_kind(tmp_path: Path, image, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        with VideoWriter(tmp_path / "x.mp4", fps=Fraction(25), width=8, height=8) as writer:
            writer.write(image, 0.0)
    assert list(tmp_path.iterdir()) == []
