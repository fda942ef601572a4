"""Tests for stylevid.pipeline.io.audio: source audio carried into written videos (real FFmpeg, no mocks)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from clip_tools import FPS, H, N, W, audio_info, copy_video
from media_factory import AUDIO_RATE, make_test_clip, sine_samples

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io.audio import AudioCarrier, clock_origin
from stylevid.pipeline.io.probe import probe_video
from stylevid.pipeline.io.video_read import read_frames
from stylevid.pipeline.io.video_write import VideoWriter


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def clip(media: Path) -> Path:
    """65x47, 36 frames at 30000/1001 fps, H.264 + AAC in MP4 (tests must not modify it)."""
    return make_test_clip(media / "clip.mp4")


@pytest.fixture(scope="module")
def pcm_clip(media: Path) -> Path:
    """Audio in pcm_s16le, which stylevid does not copy into MP4."""
    return make_test_clip(media / "pcm.mkv", audio_codec="pcm_s16le")


@pytest.fixture(scope="module")
def ts_clip(media: Path) -> Path:
    """MPEG-TS: video and audio timestamps start at different non-zero values."""
    return make_test_clip(media / "clip.ts")


def test_writer_audio_stops_with_the_video(clip: Path, tmp_path: Path) -> None:
    """Without audio_end the audio still ends with the last frame, not the source."""
    out = tmp_path / "short.mp4"
    with VideoWriter(out, fps=FPS, width=W, height=H, audio_source=clip) as writer:
        for frame in read_frames(clip, end=10):
            writer.write(frame.image, frame.time)
    assert audio_info(out)[1] == pytest.approx(float(10 / FPS), abs=0.05)


def test_writer_with_a_silent_source(tmp_path: Path) -> None:
    source = make_test_clip(tmp_path / "silent.mp4", frames=4, audio=False)
    out = tmp_path / "out.mp4"
    copy_video(source, out)
    info = probe_video(out)
    assert info.audio_streams == 0 and info.frame_count == 4


def test_writer_reencodes_audio_mp4_cannot_take(pcm_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "from_pcm.mp4"
    copy_video(pcm_clip, out)
    codec, seconds, _ = audio_info(out)
    assert audio_info(pcm_clip)[0] == "pcm_s16le"
    assert codec == "aac"
    assert seconds == pytest.approx(float(N / FPS), abs=0.1)


@pytest.mark.parametrize("fixture", ["clip", "pcm_clip", "ts_clip"])
def test_writer_trims_audio_to_the_written_range(fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """AAC in MP4 is copied, PCM re-encoded; MPEG-TS timestamps do not start at 0."""
    source = request.getfixturevalue(fixture)
    out = tmp_path / "part.mp4"
    frames = copy_video(source, out, start=12, end=30)
    t0 = frames[0].time  # 0.4004 s: the 440 Hz sine is 63 degrees out of phase there
    video = probe_video(out)
    codec, seconds, _ = audio_info(out)
    assert seconds == pytest.approx(video.duration, abs=0.1)
    # The output's audio at time t must be the source's audio at t0 + t.
    with av.open(str(out)) as container:
        for frame in container.decode(audio=0):
            if frame.time >= 0.2:
                break
    got = frame.to_ndarray()[0, :512].astype(np.float64)
    n0 = round((t0 + frame.time) * AUDIO_RATE)
    expected = sine_samples(n0, 512, 1)[0]
    correlation = np.dot(got, expected) / (np.linalg.norm(got) * np.linalg.norm(expected))
    assert correlation > 0.95


def test_clock_origin_is_the_first_video_frame(ts_clip: Path, tmp_path: Path) -> None:
    """Zero of DecodedFrame.time: the first video frame's absolute time (not 0 in MPEG-TS)."""
    with av.open(str(ts_clip)) as container:
        stream = container.streams.video[0]
        first = next(container.decode(stream))
        expected = float(first.pts * stream.time_base)
    assert expected > 0
    assert clock_origin(ts_clip) == pytest.approx(expected)
    song = make_test_clip(tmp_path / "song.m4a", video=False)
    with av.open(str(song)) as container:
        start = (container.start_time or 0) / av.time_base
    assert clock_origin(song) == pytest.approx(start)  # no video: the container's start


@pytest.mark.parametrize("start, end", [(-0.5, None), (1.0, 1.0), (1.0, 0.5)])
def test_carrier_refuses_an_empty_range(clip: Path, tmp_path: Path, start: float, end) -> None:
    with av.open(str(tmp_path / "x.mkv"), "w") as output:
        with pytest.raises(StylevidError, match="is empty or negative"):
            AudioCarrier(clip, output, start, end)


def test_webm_carries_audio_as_opus(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "clip.webm"
    with VideoWriter(out, fps=FPS, width=W, height=H, codec="libvpx-vp9", audio_source=clip) as writer:
        for frame in read_frames(clip, end=6):
            writer.write(frame.image, frame.time)
    codec, seconds, _ = audio_info(out)
    assert codec == "opus"
    assert seconds == pytest.approx(float(6 / FPS), abs=0.05)
