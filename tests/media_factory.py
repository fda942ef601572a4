"""Generate tiny, deterministic video clips (real FFmpeg encodes through PyAV) and frame sequences for tests.

Usage from any test module (pytest puts ``tests/`` on ``sys.path``)::

    from media_factory import make_test_clip
    clip = make_test_clip(tmp_path / "clip.mp4")

The picture is a smooth gradient with a fixed texture and a bright square that moves
2 px per frame to the right, so frames differ from each other and motion is visible.
Optional audio is a 440 Hz sine of the same duration as the video.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from stylevid.pipeline.motion.flow import FlowEstimator
from stylevid.pipeline.video.frame_pairs import PreparedFrame
from stylevid.pipeline.video.frames import Frame

AUDIO_RATE = 48000
AUDIO_CHUNK = 1024
SQUARE = 9


def frame_times(frames: int, fps: Fraction, vfr: bool) -> list[Fraction]:
    """Presentation times (seconds) of each frame: constant 1/fps, or alternating 1/20 s and 1/40 s."""
    if not vfr:
        return [i / Fraction(fps) for i in range(frames)]
    times, t = [], Fraction(0)
    for i in range(frames):
        times.append(t)
        t += Fraction(1, 20) if i % 2 == 0 else Fraction(1, 40)
    return times


def clip_duration(frames: int, fps: Fraction, vfr: bool) -> Fraction:
    """Duration (seconds) of a clip made with the same arguments: last time + its frame interval."""
    times = frame_times(frames + 1, fps, vfr)
    return times[frames]


def upright_picture(index: int, width: int, height: int) -> np.ndarray:
    """The display-orientation picture of frame ``index`` (H x W x 3 uint8 RGB)."""
    ys, xs = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(1234)
    texture = rng.integers(-12, 13, size=(height, width), dtype=np.int16)
    red = 30 + 150 * xs / max(width - 1, 1)
    green = 30 + 150 * ys / max(height - 1, 1)
    blue = np.full_like(red, 90.0)
    image = np.stack([red, green, blue], axis=-1) + texture[..., None]
    x0 = (2 * index) % max(width - SQUARE, 1)
    y0 = height // 3
    image[y0 : y0 + SQUARE, x0 : x0 + SQUARE] = (250, 250, 250)
    # A dark marker in the top-left corner makes orientation mistakes obvious.
    image[0:6, 0:6] = (0, 0, 0)
    return np.ascontiguousarray(np.clip(image, 0, 255).astype(np.uint8))


def shifted_frames(count: int, size: int = 40, step: int = 2) -> list[np.ndarray]:
    """A textured picture moving right by ``step`` pixels per frame."""
    rng = np.random.default_rng(5)
    wide = (rng.random((size, size + step * count, 3)) * 255).astype(np.uint8)
    wide = np.asarray(Image.fromarray(wide).resize((size + step * count, size), Image.BILINEAR))
    return [np.ascontiguousarray(wide[:, (count - i) * step : (count - i) * step + size]) for i in range(count)]


def cut_frames(count: int, cut_at: int, size: int = 48, step: int = 2) -> list[np.ndarray]:
    """A hard cut: ``cut_at`` frames of one textured scene panning right, then another panning down."""
    first = shifted_frames(cut_at, size, step)
    rng = np.random.default_rng(11)
    tall = (rng.random((size + step * count, size, 3)) * 255).astype(np.uint8)
    tall = np.asarray(
        Image.fromarray(tall)
        .resize((size // 4, (size + step * count) // 4))
        .resize((size, size + step * count), Image.BICUBIC)
    )
    tall = np.ascontiguousarray(255 - tall // 2)  # brighter, smoother: another place
    second = [np.ascontiguousarray(tall[i * step : i * step + size]) for i in range(count - cut_at)]
    return first + second


def prepared_frames(pictures: list[np.ndarray]) -> list[PreparedFrame]:
    """``pictures`` as the optimiser gets them: at their own size, with DIS flow back to the picture before."""
    flow = FlowEstimator("dis")
    items = []
    for position, picture in enumerate(pictures):
        flow_bw = reliable = None
        if position > 0:
            flow_bw, reliable = flow.reliable_backward(pictures[position - 1], picture)
        items.append(
            PreparedFrame(
                Frame(position, position, position / 25, f"{position}.png", picture), picture, flow_bw, reliable
            )
        )
    return items


def sine_samples(start: int, count: int, channels: int) -> np.ndarray:
    """``count`` samples of a 440 Hz sine from sample ``start``: planar float32, channels x count."""
    n = np.arange(start, start + count, dtype=np.float64)
    wave = (0.3 * np.sin(2 * np.pi * 440.0 * n / AUDIO_RATE)).astype(np.float32)
    return np.ascontiguousarray(np.repeat(wave[None, :], channels, axis=0))


def _video_codec_for(path: Path, width: int, height: int) -> tuple[str, str]:
    """Codec and pixel format for the container; odd sizes use 4:4:4 (4:2:0 needs even sizes)."""
    if path.suffix.lower() == ".webm":
        return "libvpx-vp9", "yuv420p"
    pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    return "libx264", pix_fmt


def make_test_clip(
    path: str | Path,
    *,
    width: int = 65,
    height: int = 47,
    frames: int = 36,
    fps: Fraction = Fraction(30000, 1001),
    audio: bool = True,
    audio_codec: str = "aac",
    vfr: bool = False,
    rotation: int = 0,
    video: bool = True,
    faststart: bool = False,
    channels: int = 2,
) -> Path:
    """Write a short clip to ``path`` (container from the suffix: .mp4, .mov, .mkv, .ts, .webm).

    ``width``/``height`` are the *display* size. With ``rotation`` (clockwise degrees, one
    of 0/90/180/270) the stored picture is turned the other way and a display matrix is
    written, so a correct reader that applies the rotation gets the same upright pictures
    as an unrotated clip. ``vfr=True`` alternates frame intervals of 1/20 s and 1/40 s.
    ``video=False`` makes an audio-only file. ``faststart`` moves the mp4 index to the front.
    ``audio_codec`` is an FFmpeg encoder name ("aac", "libmp3lame", "pcm_s16le", "libopus").
    With ``frames=0`` nothing is written (no file is created).
    """
    path = Path(path)
    fps = Fraction(fps)
    if rotation % 90:
        raise ValueError("rotation must be a multiple of 90")
    options = {"movflags": "faststart"} if faststart else {}
    times = frame_times(frames, fps, vfr)
    duration = clip_duration(frames, fps, vfr)
    with av.open(str(path), "w", options=options) as container:
        events: list[tuple[Fraction, str, int]] = []
        vstream = None
        if video:
            vstream = _add_video_stream(container, path, width, height, fps, vfr, rotation)
        astream = _add_audio_stream(container, audio_codec, channels) if audio else None
        if vstream is not None:
            events += [(t, "v", i) for i, t in enumerate(times)]
        if astream is not None:
            total = int(duration * AUDIO_RATE)
            events += [(Fraction(s, AUDIO_RATE), "a", s) for s in range(0, total, AUDIO_CHUNK)]
        for _, kind, value in sorted(events):
            if kind == "v":
                _encode_video(container, vstream, value, times[value], width, height, rotation)
            else:
                count = min(AUDIO_CHUNK, int(duration * AUDIO_RATE) - value)
                _encode_audio(container, astream, value, count, channels)
        for stream in (vstream, astream):
            if stream is not None:
                container.mux(stream.encode(None))
    return path


def _add_video_stream(
    container: Any, path: Path, width: int, height: int, fps: Fraction, vfr: bool, rotation: int
) -> Any:
    """An H.264 (VP9 for WebM) stream storing pictures turned against ``rotation``."""
    codec, pix_fmt = _video_codec_for(path, width, height)
    stream = container.add_stream(codec, rate=fps)
    stored_w, stored_h = (height, width) if rotation % 180 else (width, height)
    stream.width, stream.height, stream.pix_fmt = stored_w, stored_h, pix_fmt
    stream.codec_context.time_base = Fraction(1, 1000) if vfr else 1 / fps
    stream.codec_context.options = {"preset": "ultrafast"} if codec == "libx264" else {}
    if rotation % 360:
        # PyAV's angle is counter-clockwise; the display rotation we want is clockwise.
        stream.set_display_rotation(-rotation)
    return stream


def _add_audio_stream(container: Any, codec: str, channels: int) -> Any:
    """A 48 kHz mono/stereo audio stream with encoder ``codec``."""
    stream = container.add_stream(codec, rate=AUDIO_RATE)
    stream.layout = "stereo" if channels == 2 else "mono"
    return stream


def _encode_video(
    container: Any, stream: Any, index: int, time: Fraction, width: int, height: int, rotation: int
) -> None:
    picture = upright_picture(index, width, height)
    stored = np.ascontiguousarray(np.rot90(picture, k=(rotation // 90) % 4))
    frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
    frame.time_base = stream.codec_context.time_base
    frame.pts = round(time / frame.time_base)
    container.mux(stream.encode(frame))


def _encode_audio(container: Any, stream: Any, start: int, count: int, channels: int) -> None:
    layout = "stereo" if channels == 2 else "mono"
    samples = sine_samples(start, count, channels)
    frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=layout)
    frame.sample_rate = AUDIO_RATE
    frame.time_base = Fraction(1, AUDIO_RATE)
    frame.pts = start
    container.mux(stream.encode(frame))
