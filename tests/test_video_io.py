"""Tests for stylevid.pipeline.io.video_io against real FFmpeg encodes (PyAV, no mocks)."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media_factory import AUDIO_RATE, make_test_clip, sine_samples, upright_picture

from stylevid.pipeline.io import video_io
from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io.video_io import (
    VideoWriter,
    is_video_file,
    parse_time_or_index,
    probe_video,
    read_frames,
)

FPS = Fraction(30000, 1001)
W, H, N = 65, 47, 36


# ---------------------------------------------------------------------------------------
# Shared clips (made once per module; tests must not modify them)
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def clip(media: Path) -> Path:
    """65x47, 36 frames at 30000/1001 fps, H.264 + AAC in MP4."""
    return make_test_clip(media / "clip.mp4")


@pytest.fixture(scope="module")
def vfr_clip(media: Path) -> Path:
    """Frame intervals alternate 1/20 s and 1/40 s."""
    return make_test_clip(media / "vfr.mp4", vfr=True)


@pytest.fixture(scope="module")
def pcm_clip(media: Path) -> Path:
    """Audio in pcm_s16le, which stylevid does not copy into MP4."""
    return make_test_clip(media / "pcm.mkv", audio_codec="pcm_s16le")


@pytest.fixture(scope="module")
def ts_clip(media: Path) -> Path:
    """MPEG-TS: video and audio timestamps start at different non-zero values."""
    return make_test_clip(media / "clip.ts")


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def source_video_pts(path: Path) -> list[int]:
    """Presentation timestamps straight from PyAV, for comparison."""
    with av.open(str(path)) as container:
        return [frame.pts for frame in container.decode(video=0)]


def audio_info(path: Path) -> tuple[str, float, list[bytes]]:
    """Codec name, decoded duration (seconds) and the first packets' bytes of audio stream 0."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        codec = stream.codec_context.codec.canonical_name
        packets = [bytes(p) for p, _ in zip(container.demux(stream), range(5)) if p.size]
    with av.open(str(path)) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
    return codec, samples / stream.codec_context.sample_rate, packets


def copy_video(source: Path, target: Path, start=None, end=None, **writer_args) -> list:
    """Read ``source`` (optionally a sub-range) and write it back out with its audio."""
    info = probe_video(source)
    frames = list(read_frames(source, start=start, end=end))
    t0 = frames[0].time
    t1 = frames[-1].time + float(1 / info.fps)
    with VideoWriter(
        target,
        fps=info.fps,
        width=info.width,
        height=info.height,
        time_base=info.time_base,
        audio_source=source,
        audio_start=t0,
        audio_end=t1,
        **writer_args,
    ) as writer:
        for frame in frames:
            writer.write(frame.image, frame.time - t0)
    return frames


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


# ---------------------------------------------------------------------------------------
# probe_video
# ---------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------
# read_frames
# ---------------------------------------------------------------------------------------


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


def test_read_frames_keeps_variable_frame_rate(vfr_clip: Path) -> None:
    frames = list(read_frames(vfr_clip))
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


# ---------------------------------------------------------------------------------------
# Errors on bad input
# ---------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StylevidError, match="does not exist"):
        probe_video(tmp_path / "nope.mp4")
    with pytest.raises(StylevidError, match="does not exist"):
        read_frames(tmp_path / "nope.mp4")  # raised at the call, before iterating


def test_text_file_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n")
    with pytest.raises(StylevidError, match="is not a video FFmpeg can read"):
        probe_video(path)


def test_audio_only_file(tmp_path: Path) -> None:
    path = make_test_clip(tmp_path / "song.m4a", video=False)
    with pytest.raises(StylevidError, match="only audio"):
        probe_video(path)


def test_video_stream_without_frames(tmp_path: Path) -> None:
    path = make_video_without_frames(tmp_path / "empty.mkv")
    with pytest.raises(StylevidError, match="no video frames"):
        list(read_frames(path))


def test_huge_dimensions_are_refused(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video_io, "MAX_PIXELS", 64 * 32)
    with pytest.raises(StylevidError, match=f"{W}x{H}.*scale the video down"):
        read_frames(clip)


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


# ---------------------------------------------------------------------------------------
# VideoWriter
# ---------------------------------------------------------------------------------------


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


def test_vfr_timestamps_survive_the_writer(vfr_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "vfr_out.mp4"
    frames = copy_video(vfr_clip, out)
    info = probe_video(out)
    back = list(read_frames(out))
    assert len(back) == len(frames) == N
    tick = float(probe_video(vfr_clip).time_base)
    assert max(abs(a.time - b.time) for a, b in zip(frames, back)) <= tick + 1e-9
    assert info.frame_count == N


def test_writer_reencodes_audio_mp4_cannot_take(pcm_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "from_pcm.mp4"
    copy_video(pcm_clip, out)
    codec, seconds, _ = audio_info(out)
    assert audio_info(pcm_clip)[0] == "pcm_s16le"
    assert codec == "aac"
    assert seconds == pytest.approx(float(N / FPS), abs=0.1)


@pytest.mark.parametrize("fixture", ["clip", "pcm_clip", "ts_clip"])
def test_writer_trims_audio_to_the_written_range(
    fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
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


@pytest.mark.parametrize(
    "suffix, codec", [(".mkv", "libx265"), (".mkv", "mpeg4"), (".webm", "libvpx-vp9")]
)
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


def test_writer_rejects_codec_the_container_cannot_hold(tmp_path: Path) -> None:
    with pytest.raises(StylevidError, match="cannot hold libx264"):
        VideoWriter(tmp_path / "x.webm", fps=FPS, width=W, height=H, codec="libx264")
    assert list(tmp_path.iterdir()) == []


def test_writer_needs_increasing_times(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not after"):
        with VideoWriter(tmp_path / "x.mp4", fps=Fraction(25), width=8, height=8) as writer:
            writer.write(np.zeros((8, 8, 3), np.uint8), 0.04)
            writer.write(np.zeros((8, 8, 3), np.uint8), 0.04)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------
# is_video_file / parse_time_or_index
# ---------------------------------------------------------------------------------------


def test_is_video_file(clip: Path, tmp_path: Path) -> None:
    from PIL import Image

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


@pytest.mark.parametrize(
    "text, value",
    [
        ("16", 16),
        ("0", 0),
        ("1.5s", 1.5),
        ("2s", 2.0),
        ("250ms", 0.25),
        (" 3 s ", 3.0),
        ("1:30", 90.0),
        ("0:01:02.5", 62.5),
    ],
)
def test_parse_time_or_index(text: str, value) -> None:
    parsed = parse_time_or_index(text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("text", ["", "abc", "-3", "-1.5s", "1.5", "12 frames", "1e3"])
def test_parse_time_or_index_rejects(text: str) -> None:
    with pytest.raises(StylevidError):
        parse_time_or_index(text)
