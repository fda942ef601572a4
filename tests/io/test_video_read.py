"""Tests for stylevid.pipeline.io.video_read against real FFmpeg encodes (PyAV, no mocks)."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from clip_tools import FPS, H, N, W
from media_factory import AUDIO_RATE, make_test_clip, sine_samples, upright_picture

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io.probe import probe_video
from stylevid.pipeline.io.video_read import read_frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """65x47, 36 frames at 30000/1001 fps, H.264 + AAC in MP4 (tests must not modify it)."""
    return make_test_clip(tmp_path_factory.mktemp("media") / "clip.mp4")


def source_video_pts(path: Path) -> list[int]:
    """Presentation timestamps straight from PyAV, for comparison."""
    with av.open(str(path)) as container:
        return [frame.pts for frame in container.decode(video=0)]


def make_video_without_frames(path: Path) -> Path:
    """An MKV with a video stream that holds no frames (and one second of audio)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height = 64, 48
        audio = container.add_stream("aac", rate=AUDIO_RATE)
        audio.layout = "mono"
        for start in range(0, AUDIO_RATE, 1024):
            samples = sine_samples(start, 1024, 1)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, start, Fraction(1, AUDIO_RATE)
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
        container.mux(video.encode(None))
    return path


def test_read_frames_returns_every_frame_with_source_pts(clip: Path) -> None:
    info = probe_video(clip)
    frames = list(read_frames(clip))
    assert [f.index for f in frames] == list(range(N))
    assert [f.pts for f in frames] == source_video_pts(clip)
    assert all(a.pts < b.pts for a, b in zip(frames, frames[1:]))
    for frame in frames:
        assert frame.time == pytest.approx(float((frame.pts - frames[0].pts) * info.time_base))
        assert frame.image.dtype == np.uint8 and frame.image.shape == (H, W, 3)
        assert frame.image.flags["C_CONTIGUOUS"]
    diff = np.abs(frames[5].image.astype(int) - upright_picture(5, W, H)).mean()
    assert diff < 8  # RGB, in the right order, not a BGR/ YUV mix-up


def test_read_frames_range_by_index(clip: Path) -> None:
    assert [f.index for f in read_frames(clip, end=16)] == list(range(16))
    assert [f.index for f in read_frames(clip, start=10, end=20, every=3)] == [10, 13, 16, 19]
    assert [f.index for f in read_frames(clip, start=30)] == list(range(30, N))


def test_read_frames_range_by_time(clip: Path) -> None:
    frames = list(read_frames(clip, start=0.5, end=1.0))
    expected = [i for i in range(N) if 0.5 <= i / FPS < 1.0]
    assert [f.index for f in frames] == expected
    assert all(0.5 <= f.time < 1.0 for f in frames)
    halves = list(read_frames(clip, start=0.5, end=1.0, every=2))
    assert [f.index for f in halves] == expected[::2]


def test_read_frames_stops_decoding_at_end(tmp_path: Path) -> None:
    """Frames after ``end`` are never decoded: damage there goes unnoticed."""
    path = make_test_clip(tmp_path / "long.mp4", frames=90, faststart=True, audio=False)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    assert len(list(read_frames(path, end=20))) == 20
    with pytest.raises(StylevidError):
        list(read_frames(path))


def test_read_frames_keeps_variable_frame_rate(tmp_path: Path) -> None:
    """Frame intervals alternate 1/20 s and 1/40 s."""
    frames = list(read_frames(make_test_clip(tmp_path / "vfr.mp4", vfr=True)))
    gaps = {round(b.time - a.time, 4) for a, b in zip(frames, frames[1:])}
    assert gaps == {0.05, 0.025}


def test_read_frames_empty_range_is_an_error(clip: Path) -> None:
    with pytest.raises(StylevidError, match="no frames .* adjust --start/--end"):
        list(read_frames(clip, start=5.0))


@pytest.mark.parametrize(
    "kwargs",
    [dict(start=-1), dict(end=0), dict(start=20, end=10), dict(every=0), dict(start="3")],
)
def test_read_frames_rejects_bad_ranges(clip: Path, kwargs: dict) -> None:
    with pytest.raises(StylevidError):
        read_frames(clip, **kwargs)


def test_missing_file_is_reported_at_the_call(tmp_path: Path) -> None:
    with pytest.raises(StylevidError, match="does not exist"):
        read_frames(tmp_path / "nope.mp4")  # raised at the call, before iterating


def test_video_stream_without_frames(tmp_path: Path) -> None:
    path = make_video_without_frames(tmp_path / "empty.mkv")
    with pytest.raises(StylevidError, match="no video frames"):
        list(read_frames(path))


def test_damaged_mp4_keeps_frames_before_the_damage(tmp_path: Path) -> None:
    """Garbage in the middle: FFmpeg fails, the good frames come first, the error says where."""
    path = make_test_clip(tmp_path / "damaged.mp4", frames=120, faststart=True, audio=False)
    data = path.read_bytes()
    size = len(data)
    path.write_bytes(data[: size // 2] + bytes(size // 5) + data[size // 2 + size // 5 :])
    kept = []
    with pytest.raises(StylevidError) as caught:
        for frame in read_frames(path):
            kept.append(frame)
    message = str(caught.value)
    match = re.search(
        r"decoding stopped at frame (\d+) \((\d+\.\d+) s\).*the (\d+) frames before it were kept",
        message,
    )
    assert match, message
    assert 0 < len(kept) < 120
    assert int(match.group(3)) == len(kept) and int(match.group(1)) == kept[-1].index + 1
    assert float(match.group(2)) == pytest.approx(kept[-1].time + float(1 / FPS), abs=0.01)


def test_truncated_mkv_is_detected(tmp_path: Path) -> None:
    """FFmpeg stops silently at the cut; the declared duration gives it away."""
    path = make_test_clip(tmp_path / "cut.mkv", frames=120)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    kept = []
    with pytest.raises(StylevidError, match=r"truncated.*declares 4\.00 s") as caught:
        for frame in read_frames(path):
            kept.append(frame)
    assert 0 < len(kept) < 120
    assert f"the {len(kept)} frames before it were kept" in str(caught.value)
