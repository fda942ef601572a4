"""Video input and output through PyAV (FFmpeg). All PyAV code of stylevid lives here.

* :func:`probe_video` describes a file (display size, rotation, rate, audio streams).
* :func:`read_frames` decodes upright RGB frames, keeping the source timestamps.
* :class:`VideoWriter` encodes RGB frames at the times it is given and carries the
  source audio over (packet copy when the output container can take the codec,
  otherwise re-encoded), writing to a temporary file renamed into place on success.
* :func:`is_video_file` and :func:`parse_time_or_index` help the CLI.

Nothing here knows about torch; images are ``H x W x 3`` ``uint8`` RGB numpy arrays.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from ..checks import check_window
from ..config import MAX_CRF, VIDEO_CODECS
from ..errors import StylevidError

__all__ = [
    "MAX_PIXELS",
    "VIDEO_CODECS",
    "DecodedFrame",
    "VideoInfo",
    "VideoWriter",
    "is_video_file",
    "parse_time_or_index",
    "probe_video",
    "read_frames",
]

#: Refuse to decode pictures larger than this many pixels (guards against absurd headers).
MAX_PIXELS = 8192 * 8192

#: Audio codecs copied packet-for-packet into these output formats (others are re-encoded).
#: MP4 technically accepts more (PCM, Vorbis, MP2), but few players handle those in MP4.
_MP4_COPY = frozenset({"aac", "mp3", "ac3", "eac3", "alac", "flac", "opus"})
_COPYABLE_AUDIO: dict[str, frozenset[str] | None] = {
    "mp4": _MP4_COPY,
    "mov": _MP4_COPY | {"pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be", "pcm_f32le", "pcm_f32be"},
    "webm": frozenset({"opus", "vorbis"}),
    "matroska": None,  # anything the muxer accepts
}

#: Container formats PyAV can open that are still pictures, not videos.
_IMAGE_FORMATS = ("image2",)
_IMAGE_FORMAT_SUFFIX = "_pipe"

_TIME_TICKS = 90000  # MPEG clock; default time base is 1/lcm(90000, fps numerator)


# --------------------------------------------------------------------------------------
# Data types
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` found out about a video file."""

    path: Path
    width: int  # display width, after rotation metadata is applied
    height: int  # display height
    rotation: int  # clockwise degrees (0/90/180/270) to turn decoded pictures upright
    fps: Fraction  # average frame rate (stream.average_rate, or guessed_rate)
    time_base: Fraction  # video stream time base
    frame_count: int | None  # declared frame count, if the container says
    duration: float | None  # seconds (of the video stream when known)
    audio_streams: int  # number of audio streams
    codec: str  # video codec name


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded picture, upright, with its timing in the source."""

    index: int  # 0-based index in the source, counting every decoded frame
    pts: int | None  # presentation timestamp in the source's time_base units
    time: float  # seconds since the first frame of the source
    image: np.ndarray  # H x W x 3 uint8 RGB, contiguous, rotation applied


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _ffmpeg_message(error: BaseException) -> str:
    """The readable part of a PyAV/FFmpeg exception."""
    text = getattr(error, "strerror", None) or str(error)
    return " ".join(str(text).split())


def _check_readable(path: Path) -> None:
    """Raise StylevidError when ``path`` is missing or not a regular file."""
    if not path.exists():
        raise StylevidError(f"{path} does not exist; check the path")
    if path.is_dir():
        raise StylevidError(f"{path} is a folder, not a video file")


def _open_input(path: Path) -> av.container.InputContainer:
    """Open ``path`` with PyAV, turning failures into StylevidError."""
    _check_readable(path)
    try:
        return av.open(str(path), "r")
    except PermissionError as error:
        raise StylevidError(f"cannot read {path}: permission denied") from error
    except (av.FFmpegError, OSError, ValueError) as error:
        raise StylevidError(
            f"{path} is not a video FFmpeg can read ({_ffmpeg_message(error)}); "
            "it may be corrupt, truncated or not a video at all"
        ) from error


def _real_video_streams(container: av.container.InputContainer) -> list[Any]:
    """Video streams that are moving pictures (cover art / attached pictures excluded)."""
    return [
        s
        for s in container.streams.video
        if not (s.disposition & av.stream.Disposition.attached_pic)
    ]


def _video_stream(container: av.container.InputContainer, path: Path) -> Any:
    """The first real video stream, or a StylevidError explaining why there is none."""
    streams = _real_video_streams(container)
    if streams:
        return streams[0]
    if container.streams.audio:
        raise StylevidError(f"{path} contains only audio (no video stream); give a video file")
    raise StylevidError(f"{path} has no video stream; give a video file")


def _is_image_format(container: av.container.InputContainer) -> bool:
    """True for FFmpeg's still-image demuxers (png_pipe, jpeg_pipe, image2, ...)."""
    names = container.format.name.split(",")
    return any(n in _IMAGE_FORMATS or n.endswith(_IMAGE_FORMAT_SUFFIX) for n in names)


def _frame_rate(stream: Any) -> Fraction | None:
    """Average frame rate, falling back to FFmpeg's guess and the base rate."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return Fraction(rate)
    return None


def _rate_from_count(stream: Any) -> Fraction | None:
    """Frames per second from the declared frame count and duration, if both are known."""
    duration = _video_duration(stream)
    if stream.frames and duration:
        return Fraction(stream.frames / duration).limit_denominator(1001)
    return None


def _parse_clock(text: str) -> float | None:
    """Seconds from ``HH:MM:SS.fff`` (Matroska DURATION tags), or None."""
    match = re.fullmatch(r"(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)", text.strip())
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _video_duration(stream: Any) -> float | None:
    """Duration of the video stream itself in seconds, when the container declares it."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    for key in ("DURATION", "duration"):
        if key in stream.metadata:
            return _parse_clock(stream.metadata[key])
    return None


def _container_duration(container: av.container.InputContainer) -> float | None:
    """Duration of the whole file in seconds (may include longer audio)."""
    if container.duration is None or container.duration <= 0:
        return None
    return container.duration / av.time_base


def _rotation_from_metadata(stream: Any) -> int | None:
    """Clockwise rotation from the legacy ``rotate`` stream tag (older FFmpeg), if present."""
    value = stream.metadata.get("rotate")
    if value is None:
        return None
    try:
        return _normalise_rotation(float(value))
    except ValueError:
        return None


def _normalise_rotation(clockwise_degrees: float) -> int:
    """Round to a multiple of 90 in 0..270 (odd angles from display matrices are rare)."""
    return int(round(clockwise_degrees / 90.0)) * 90 % 360


def _frame_rotation(frame: av.VideoFrame) -> int:
    """Clockwise rotation a decoded frame's DISPLAYMATRIX side data asks for.

    PyAV's ``frame.rotation`` is FFmpeg's ``av_display_rotation_get``: the angle the
    matrix turns the picture *counter-clockwise*; ffmpeg's own autorotate uses its negation.
    """
    angle = getattr(frame, "rotation", 0) or 0  # 0 when there is no display matrix
    return 0 if math.isnan(angle) else _normalise_rotation(-angle)


def _rotate_upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn ``image`` clockwise by ``rotation`` degrees and make it contiguous."""
    if rotation % 360:
        image = np.rot90(image, k=-(rotation // 90))
    return np.ascontiguousarray(image)


def _check_pixels(path: Path, width: int, height: int) -> None:
    """Refuse pictures larger than MAX_PIXELS before decoding anything."""
    if width * height > MAX_PIXELS:
        raise StylevidError(
            f"{path} declares {width}x{height} pictures, more than stylevid handles "
            f"({MAX_PIXELS} pixels); scale the video down first"
        )


# --------------------------------------------------------------------------------------
# Probing
# --------------------------------------------------------------------------------------


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Describe the video at ``path``; raise StylevidError when it is not a usable video.

    Decodes the first frame to learn the display rotation (FFmpeg 6+ exposes the
    display matrix only on decoded frames) unless a legacy ``rotate`` tag says it.
    """
    path = Path(path)
    with _open_input(path) as container:
        stream = _video_stream(container, path)
        stored_w, stored_h = stream.codec_context.width, stream.codec_context.height
        _check_pixels(path, stored_w, stored_h)
        rotation = _rotation_from_metadata(stream)
        first = _first_frame(container, stream)
        if first is not None:
            stored_w, stored_h = first.width, first.height
            if rotation is None:
                rotation = _frame_rotation(first)
        rotation = rotation or 0
        width, height = (stored_h, stored_w) if rotation % 180 else (stored_w, stored_h)
        return VideoInfo(
            path=path,
            width=width,
            height=height,
            rotation=rotation,
            fps=_frame_rate(stream) or _rate_from_count(stream) or Fraction(25),
            time_base=Fraction(stream.time_base or 0),
            frame_count=stream.frames or None,
            duration=_video_duration(stream) or _container_duration(container),
            audio_streams=len(container.streams.audio),
            codec=stream.codec_context.codec.canonical_name,
        )


def _first_frame(container: av.container.InputContainer, stream: Any) -> av.VideoFrame | None:
    """Decode the first frame of ``stream``, or None if that fails (read_frames reports it)."""
    try:
        return next(container.decode(stream), None)
    except av.FFmpegError:
        return None


def is_video_file(path: str | os.PathLike[str]) -> bool:
    """True when PyAV opens ``path`` and finds a moving-picture video stream.

    Folders, still images (png/jpeg/... demuxers), audio-only files and unreadable
    files are not videos. Only the header is read; nothing is decoded.
    """
    path = Path(path)
    if not path.is_file():
        return False
    try:
        with av.open(str(path), "r") as container:
            return not _is_image_format(container) and bool(_real_video_streams(container))
    except (av.FFmpegError, OSError, ValueError):
        return False


# --------------------------------------------------------------------------------------
# Reading frames
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    """Which decoded frames to keep: [start, end) by index (int) or time (float), every N-th."""

    start: int | float | None
    end: int | float | None
    every: int

    def before_start(self, index: int, time: float) -> bool:
        if self.start is None:
            return False
        return index < self.start if isinstance(self.start, int) else time < self.start

    def past_end(self, index: int, time: float) -> bool:
        if self.end is None:
            return False
        return index >= self.end if isinstance(self.end, int) else time >= self.end

    def describe(self) -> str:
        def fmt(value: int | float | None, default: str) -> str:
            if value is None:
                return default
            return f"frame {value}" if isinstance(value, int) else f"{value:g} s"

        return f"from {fmt(self.start, 'the start')} to {fmt(self.end, 'the end')}"


def _validate_window(start: Any, end: Any, every: Any) -> _Window:
    """Check read_frames' range arguments (they usually come from the command line)."""
    check_window(start, end, every)
    return _Window(start, end, every)


def read_frames(
    path: str | os.PathLike[str],
    start: int | float | None = None,
    end: int | float | None = None,
    every: int = 1,
) -> Iterator[DecodedFrame]:
    """Decode upright RGB frames of ``path`` within [start, end), keeping every N-th.

    An ``int`` bound is a frame index (``end=16`` keeps frames 0..15), a ``float`` a time
    in seconds since the first frame. Source timestamps are kept as they are (variable
    frame rate survives). Decoding stops once past ``end``. Frames are decoded from the
    start of the file (indices count every decoded frame), so a late ``start`` costs
    decoding time but no memory.

    The file is checked before this returns (missing, unreadable, no video, too large).
    While iterating, StylevidError is raised when no frame decodes, when the range holds
    no frame, or when the file is damaged or truncated -- in that last case after the
    frames decoded before the damage have been yielded.
    """
    path = Path(path)
    window = _validate_window(start, end, every)
    info = probe_video(path)
    return _decode_frames(path, info, window)


def _raw_frames(container: av.container.InputContainer, stream: Any) -> Iterator[av.VideoFrame]:
    """Decoded frames of ``stream``; on an FFmpeg error, drain the decoder, then re-raise."""
    try:
        for packet in container.demux(stream):
            yield from stream.decode(packet)
    except av.FFmpegError:
        try:
            drained = stream.decode(None)
        except av.FFmpegError:
            drained = []
        yield from drained
        raise


def _timed_frames(
    container: av.container.InputContainer, stream: Any, interval: float
) -> Iterator[tuple[int, float, av.VideoFrame]]:
    """``(index, seconds since the first frame, frame)`` for every decoded frame."""
    time_base = stream.time_base or Fraction(1, 90000)
    first_pts: int | None = None
    time = -interval
    for index, frame in enumerate(_raw_frames(container, stream)):
        if frame.pts is None:  # rare (raw streams): assume the nominal rate
            time += interval
        else:
            if first_pts is None:
                first_pts = frame.pts - round(max(time + interval, 0.0) / time_base)
            time = float((frame.pts - first_pts) * time_base)
        yield index, time, frame


def _decode_frames(path: Path, info: VideoInfo, window: _Window) -> Iterator[DecodedFrame]:
    """Generator behind :func:`read_frames` (see there)."""
    interval = 1.0 / float(info.fps)
    index, time = -1, -interval  # the last decoded frame
    yielded = in_range = 0
    stopped_early = False
    with _open_input(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        declared = _video_duration(stream)
        if declared is None and len(container.streams) == 1:
            declared = _container_duration(container)
        try:
            with closing(_timed_frames(container, stream, interval)) as frames:
                for index, time, frame in frames:
                    if window.past_end(index, time):
                        stopped_early = True
                        break
                    if window.before_start(index, time):
                        continue
                    if in_range % window.every == 0:
                        image = _rotate_upright(frame.to_ndarray(format="rgb24"), info.rotation)
                        yield DecodedFrame(index=index, pts=frame.pts, time=time, image=image)
                        yielded += 1
                    in_range += 1
        except av.FFmpegError as error:
            raise _damage_error(path, index, time, interval, yielded, error) from error
    if not stopped_early:
        _check_complete(path, info, index, time, interval, yielded, declared)
    if yielded == 0:
        raise StylevidError(
            f"no frames of {path} lie {window.describe()} (the video has "
            f"{'at least ' if stopped_early else ''}{index + 1} frames, {time + interval:.2f} s); "
            "adjust --start/--end"
        )


def _damage_error(
    path: Path, index: int, time: float, interval: float, yielded: int, error: BaseException
) -> StylevidError:
    """StylevidError for an FFmpeg failure after ``index + 1`` decoded frames."""
    message = _ffmpeg_message(error)
    if index < 0:
        return StylevidError(f"{path} has no decodable video frames ({message}); the file is damaged")
    where = max(time + interval, 0.0)
    return StylevidError(
        f"{path}: decoding stopped at frame {index + 1} ({where:.2f} s): {message}; "
        f"the {yielded} frames before it were kept"
    )


def _check_complete(
    path: Path,
    info: VideoInfo,
    index: int,
    time: float,
    interval: float,
    yielded: int,
    declared: float | None,
) -> None:
    """After decoding to the natural end: complain about an empty or truncated file.

    FFmpeg often stops silently at the end of a truncated file, so compare with what
    the container declares: the last frame must come within two frame intervals of the
    declared video duration, unless the declared frame count was reached anyway (a
    variable-rate clip may end with one long frame).
    """
    decoded = index + 1
    if decoded == 0:
        raise StylevidError(
            f"{path} has no video frames that FFmpeg can decode; the file is damaged or empty"
        )
    truncated = (
        declared is not None
        and time < declared - 2 * interval
        and (info.frame_count is None or decoded < info.frame_count)
    )
    if truncated:
        raise StylevidError(
            f"{path} looks truncated or damaged: decoding stopped at frame {decoded} "
            f"({time + interval:.2f} s) but the file declares {declared:.2f} s; "
            f"the {yielded} frames before it were kept"
        )


# --------------------------------------------------------------------------------------
# Parsing --start / --end
# --------------------------------------------------------------------------------------

_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"


def parse_time_or_index(text: str) -> int | float:
    """Parse a ``--start``/``--end`` value.

    ``"16"`` is frame index 16 (int); ``"1.5s"`` is 1.5 seconds and ``"250ms"`` 0.25
    seconds (float); ``"1:30"`` / ``"0:01:30.5"`` are minutes:seconds / hours:minutes:seconds.
    """
    raw = text
    text = text.strip().lower()
    if text.startswith("-"):
        raise StylevidError(f"{raw!r} is negative; give a frame index or a time of zero or more")
    if re.fullmatch(r"\d+", text):
        return int(text)
    match = re.fullmatch(_NUMBER + r"\s*(s|sec|ms)", text)
    if match:
        value = float(match.group(1))
        return value / 1000.0 if match.group(2) == "ms" else value
    if re.fullmatch(r"(\d+:)?\d+:\d{1,2}(\.\d+)?", text):
        parts = [float(p) for p in text.split(":")]
        return float(sum(p * 60**i for i, p in enumerate(reversed(parts))))
    hint = " (add 's' for seconds, e.g. '1.5s')" if re.fullmatch(_NUMBER, text) else ""
    raise StylevidError(
        f"cannot read {raw!r} as a frame index or time{hint}; use e.g. '16' (frame), "
        "'1.5s', '250ms' or '1:30'"
    )


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def _default_time_base(fps: Fraction) -> Fraction:
    """A fine clock on which every frame of a constant ``fps`` falls exactly (1/90000 or finer)."""
    ticks = math.lcm(_TIME_TICKS, fps.numerator)
    return Fraction(1, ticks) if ticks <= 10_000_000 else Fraction(1, _TIME_TICKS)


def _even(value: int) -> int:
    return value + (value % 2)


def _pad_to_even(image: np.ndarray) -> np.ndarray:
    """Replicate the last row/column so both sides are even (4:2:0 needs even sizes)."""
    pad_h, pad_w = image.shape[0] % 2, image.shape[1] % 2
    if pad_h or pad_w:
        image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return np.ascontiguousarray(image)


def _encoder_options(codec: str, crf: int) -> dict[str, str]:
    """Quality options for ``codec``: CRF where the encoder has it."""
    if codec in ("libx264", "libx265"):
        options = {"crf": str(crf)}
        if codec == "libx265":
            options["x265-params"] = "log-level=error"
        return options
    if codec == "libvpx-vp9":
        return {"crf": str(crf), "b": "0", "row-mt": "1"}
    return {}


def check_encoder(codec: str, crf: int) -> None:
    """StylevidError unless the local FFmpeg has ``codec`` as a video encoder and ``crf`` is in its range.

    Called by the validation pass before any work, and again when a writer opens.
    """
    _check_video_codec(codec)
    _check_crf(codec, crf)


def _check_video_codec(codec: str) -> None:
    """Raise StylevidError unless ``codec`` names a video encoder FFmpeg has."""
    try:
        ok = av.Codec(codec, "w").type == "video"
    except (av.FFmpegError, ValueError, LookupError):
        ok = False
    if not ok:
        available = [c for c in VIDEO_CODECS if c in av.codecs_available]
        raise StylevidError(f"unknown video codec {codec!r}; choose one of: {', '.join(available)}")


def _check_crf(codec: str, crf: int) -> None:
    """Raise StylevidError for a CRF outside the encoder's range (lower = better, bigger)."""
    top = MAX_CRF.get(codec, 51)
    if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= top:
        raise StylevidError(f"--crf must be a whole number from 0 to {top} for {codec}, not {crf!r}")


def _partial_path(path: Path) -> Path:
    """Temporary file next to ``path`` (same suffix so FFmpeg picks the same format)."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


class VideoWriter:
    """Encode RGB frames to a video file, optionally carrying audio over from a source.

    Frames are written at the times given to :meth:`write` (seconds from the start of
    the output), so variable frame rates survive. Odd widths/heights are padded to even
    by repeating the last row/column (4:2:0 chroma needs even sizes): the output is
    then 1 px larger, never cropped or resampled. Pictures are stored as BT.709
    limited-range YUV 4:2:0 and tagged so.

    Audio streams of ``audio_source`` within ``[audio_start, audio_end)`` (source
    seconds) are shifted so ``audio_start`` lands at 0, interleaved with the video as
    it is written, and never run past the last video frame. They are copied packet
    for packet when the output format plays that codec well (MP4: AAC, MP3, AC-3,
    E-AC-3, ALAC, FLAC, Opus; WebM: Opus, Vorbis; MKV: anything), otherwise decoded and
    re-encoded (AAC, or Opus for WebM) with sample-accurate trimming.

    Everything goes to a hidden ``.<name>.partial<suffix>`` file in the same folder,
    renamed onto ``path`` by :meth:`close`; on error (or leaving a ``with`` block by an
    exception) the partial file is deleted and ``path`` is left untouched.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fps: Fraction,
        width: int,
        height: int,
        time_base: Fraction | None = None,
        codec: str = "libx264",
        crf: int = 18,
        audio_source: str | os.PathLike[str] | None = None,
        audio_start: float = 0.0,
        audio_end: float | None = None,
    ) -> None:
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(1_000_000)  # tame float rates like 29.97
        self.width, self.height = int(width), int(height)
        if self.fps <= 0 or self.width <= 0 or self.height <= 0:
            raise ValueError("fps, width and height must be positive")
        if not self.path.parent.is_dir():
            raise StylevidError(f"cannot write {self.path}: folder {self.path.parent} does not exist")
        check_encoder(codec, crf)
        self.codec = codec
        self._partial = _partial_path(self.path)
        self._last_pts: int | None = None
        self._last_time = 0.0
        self._nominal_ticks = 1  # one frame interval in time-base ticks (set with the stream)
        self._frames = 0
        self._closed = False
        self._container = self._open_output()
        try:
            self._stream = self._add_video_stream(codec, crf, time_base)
            self._audio = (
                _AudioCarrier(Path(audio_source), self._container, audio_start, audio_end)
                if audio_source is not None
                else None
            )
        except BaseException:
            self.abort()
            raise

    # -- setup ---------------------------------------------------------------------

    def _open_output(self) -> av.container.OutputContainer:
        suffix = self.path.suffix.lower()
        options = {}
        if suffix in (".mp4", ".mov", ".m4v"):
            # Index at the front (plays while downloading); a fine movie clock so edit
            # lists that delay a trimmed, copied audio track are not rounded to 1 ms.
            options = {"movflags": "+faststart", "movie_timescale": str(_TIME_TICKS)}
        try:
            return av.open(str(self._partial), "w", options=options)
        except PermissionError as error:
            raise StylevidError(f"cannot write {self.path}: permission denied") from error
        except (av.FFmpegError, OSError, ValueError) as error:
            raise StylevidError(
                f"cannot write video files named {self.path.name!r} ({_ffmpeg_message(error)}); "
                "use a .mp4, .mkv, .mov or .webm path"
            ) from error

    def _add_video_stream(self, codec: str, crf: int, time_base: Fraction | None) -> Any:
        time_base = Fraction(time_base) if time_base else _default_time_base(self.fps)
        if codec == "mpeg4" and time_base.denominator > 65535:  # MPEG-4 part 2 limit
            exact = 1 / self.fps
            time_base = exact if exact.denominator <= 65535 else time_base.limit_denominator(65535)
        try:
            options = _encoder_options(codec, crf)
            stream = self._container.add_stream(codec, rate=self.fps, options=options)
        except ValueError as error:
            raise StylevidError(
                f"{self.path.suffix or 'these'} files cannot hold {codec} video; "
                "pick another --codec or write a .mkv file"
            ) from error
        stream.width, stream.height = _even(self.width), _even(self.height)
        stream.pix_fmt = "yuv420p"
        ctx = stream.codec_context
        ctx.time_base = time_base
        self._nominal_ticks = max(1, round(1 / (self.fps * time_base)))
        ctx.colorspace = ctx.color_primaries = ctx.color_trc = 1  # BT.709
        ctx.color_range = 1  # limited ("MPEG") range
        if codec == "mpeg4":
            ctx.qscale = True
            ctx.global_quality = max(2, min(31, round(crf / 6)))
        return stream

    # -- writing -------------------------------------------------------------------

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    @property
    def frames_written(self) -> int:
        """How many frames :meth:`write` has accepted."""
        return self._frames

    def write(self, image: np.ndarray, time: float) -> None:
        """Encode ``image`` (H x W x 3 uint8 RGB, the size given) shown from ``time`` seconds."""
        if self._closed:
            raise ValueError("VideoWriter is closed")
        self._check_image(image)
        if not time >= 0:
            raise ValueError(f"frame time must be zero or positive, got {time}")
        pts = round(time / self._stream.codec_context.time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            raise ValueError(f"frame time {time} is not after the previous frame ({self._last_time})")
        frame = av.VideoFrame.from_ndarray(_pad_to_even(image), format="rgb24")
        frame = frame.reformat(format="yuv420p", dst_colorspace="itu709", dst_color_range=1)
        frame.time_base = self._stream.codec_context.time_base
        frame.pts = pts
        frame.duration = self._nominal_ticks  # only the last frame's duration is not implied
        try:
            self._container.mux(self._stream.encode(frame))
            if self._audio is not None:
                self._audio.pump(until=float(time))
        except av.FFmpegError as error:
            raise StylevidError(f"writing {self.path} failed: {_ffmpeg_message(error)}") from error
        self._last_pts, self._last_time = pts, float(time)
        self._frames += 1

    def _check_image(self, image: np.ndarray) -> None:
        expected = (self.height, self.width, 3)
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.shape != expected:
            got = (
                f"{image.shape} {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
            )
            raise ValueError(f"expected a {expected} uint8 RGB array, got {got}")

    def close(self) -> None:
        """Finish encoding and move the file into place. Raises if no frame was written."""
        if self._closed:
            return
        try:
            if self._frames == 0:
                raise StylevidError(f"nothing to write to {self.path}: no frames were produced")
            self._container.mux(self._stream.encode(None))
            if self._audio is not None:
                self._audio.finish(video_end=self._last_time + float(1 / self.fps))
            self._container.close()
            self._closed = True
            os.replace(self._partial, self.path)
        except av.FFmpegError as error:
            self.abort()
            raise StylevidError(f"writing {self.path} failed: {_ffmpeg_message(error)}") from error
        except OSError as error:
            self.abort()
            raise StylevidError(f"cannot save {self.path}: {error.strerror or error}") from error
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Stop writing and delete the partial file; ``path`` is not touched."""
        self._closed = True
        audio = getattr(self, "_audio", None)
        if audio is not None:
            audio.close()
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - best effort while already failing
            pass
        self._partial.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------
# Audio carried from the source into the output
# --------------------------------------------------------------------------------------


class _AudioTrack:
    """One source audio stream feeding one output stream, by packet copy or re-encode.

    Times are on the source clock of :attr:`DecodedFrame.time` (seconds since the first
    video frame, i.e. absolute timestamp minus ``origin``); output time is that minus
    ``start``. Packets / samples outside ``[start, end)`` are dropped.
    """

    def __init__(
        self, source: Any, output: Any, *, copy: bool, origin: float, start: float, end: float
    ) -> None:
        self.source, self.output, self.copy = source, output, copy
        self.origin, self.start, self.end = origin, start, end
        self.done = False
        self._flushed = False
        self._next_pts: int | None = None  # re-encode: output pts of the next sample

    def packet_time(self, packet: av.Packet) -> float | None:
        """Source-clock time (seconds) of a demuxed packet, None for flush packets."""
        ts = packet.pts if packet.pts is not None else packet.dts
        return None if ts is None else float(ts * self.source.time_base) - self.origin

    def handle(self, packet: av.Packet, container: av.container.OutputContainer) -> None:
        """Mux one demuxed packet: copied, or decoded, trimmed and re-encoded."""
        if not packet.size:
            return  # end-of-stream marker; flush() drains the decoder
        if self.copy:
            self._copy(packet, container)
            return
        try:
            frames = self.source.decode(packet)
        except av.FFmpegError:
            return  # a damaged audio packet: skip it rather than lose the whole video
        for frame in frames:
            self._encode(frame, container)

    def _copy(self, packet: av.Packet, container: av.container.OutputContainer) -> None:
        """Copy whole packets that overlap [start, end), shifted so ``start`` becomes 0.

        A packet straddling ``start`` gets a negative timestamp; MP4 muxes that as an
        edit list that skips the part before 0 (like encoder priming), Matroska shifts
        all streams alike, so sync is kept either way.
        """
        t0 = self.packet_time(packet)
        if t0 is None or t0 >= self.end:
            return
        t1 = t0 + float((packet.duration or 0) * self.source.time_base)
        if t1 <= self.start - 1e-6 or (t1 == t0 and t0 < self.start):
            return
        shift = round((self.origin + self.start) / self.source.time_base)
        if packet.pts is not None:
            packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        packet.stream = self.output
        container.mux(packet)

    def _encode(self, frame: av.AudioFrame, container: av.container.OutputContainer) -> None:
        piece = self._trim(frame)
        if piece is None:
            return
        trimmed, t0 = piece
        rate = trimmed.sample_rate
        if self._next_pts is None:
            self._next_pts = max(0, round((t0 - self.start) * rate))
        trimmed.time_base = Fraction(1, rate)
        trimmed.pts = self._next_pts
        self._next_pts += trimmed.samples
        container.mux(self.output.encode(trimmed))

    def _trim(self, frame: av.AudioFrame) -> tuple[av.AudioFrame, float] | None:
        """Cut ``frame`` to [start, end) sample-accurately; returns the piece and its time."""
        rate, n = frame.sample_rate, frame.samples
        if frame.pts is None or frame.time_base is None:
            t0 = self.start + (self._next_pts or 0) / rate
        else:
            t0 = float(frame.pts * frame.time_base) - self.origin
        first = max(0, round((self.start - t0) * rate))
        last = n if math.isinf(self.end) else min(n, round((self.end - t0) * rate))
        if last <= first:
            return None
        if first == 0 and last == n:
            return frame, t0
        data = frame.to_ndarray()
        if frame.format.is_planar:
            data = data[:, first:last]
        else:
            channels = frame.layout.nb_channels
            data = data[:, first * channels : last * channels]
        piece = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(data), format=frame.format.name, layout=frame.layout.name
        )
        piece.sample_rate = rate
        return piece, t0 + first / rate

    def flush(self, container: av.container.OutputContainer) -> None:
        """Drain decoder and encoder (re-encode only; once)."""
        if self.copy or self._flushed:
            return
        self._flushed = True
        for frame in self.source.decode(None):
            self._encode(frame, container)
        container.mux(self.output.encode(None))


_ENCODER_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}


def _clock_origin(path: Path) -> float:
    """Absolute time (seconds) of the first video frame of ``path``: zero of DecodedFrame.time.

    For a file without video, the container's start time.
    """
    with _open_input(path) as container:
        streams = _real_video_streams(container)
        if streams:
            stream = streams[0]
            try:
                for frame in container.decode(stream):
                    if frame.pts is not None:
                        return float(frame.pts * stream.time_base)
            except av.FFmpegError:
                pass
            if stream.start_time is not None:
                return float(stream.start_time * stream.time_base)
        start = container.start_time
        return start / av.time_base if start else 0.0


class _AudioCarrier:
    """Copies / re-encodes the audio of a source file into an output container, in step
    with the video so the two are interleaved.

    ``start``/``end`` use the source's :attr:`DecodedFrame.time` clock.
    """

    def __init__(
        self, source: Path, output: av.container.OutputContainer, start: float, end: float | None
    ) -> None:
        if start < 0 or (end is not None and end <= start):
            raise StylevidError(f"audio range [{start}, {end}) is empty or negative")
        self.start = float(start)
        self.end = math.inf if end is None else float(end)
        self._output = output
        self._origin = _clock_origin(source)
        self._input: av.container.InputContainer | None = _open_input(source)
        self._packets: Iterator[av.Packet] | None = None
        self._pending: av.Packet | None = None
        try:
            self._tracks = {s.index: self._add_track(s, output) for s in self._input.streams.audio}
            if self._tracks:
                if self.start > 1.0:  # skip most of what lies before the window
                    target = self._origin + self.start - 1.0
                    self._input.seek(int(target * av.time_base), backward=True)
                self._packets = self._input.demux(*[t.source for t in self._tracks.values()])
        except BaseException:
            self.close()
            raise

    def _add_track(self, stream: Any, output: av.container.OutputContainer) -> _AudioTrack:
        """Copy ``stream`` if the output format plays its codec well, else re-encode it."""
        times = dict(origin=self._origin, start=self.start, end=self.end)
        codec = stream.codec_context.codec.canonical_name
        copyable = _COPYABLE_AUDIO.get(output.format.name, frozenset())
        if copyable is None or codec in copyable:
            try:
                out = output.add_stream_from_template(stream)
                return _AudioTrack(stream, out, copy=True, **times)
            except (ValueError, av.FFmpegError):
                pass  # the muxer refuses this codec: re-encode
        return _AudioTrack(stream, self._add_encoder(stream, output), copy=False, **times)

    @staticmethod
    def _add_encoder(stream: Any, output: av.container.OutputContainer) -> Any:
        """An AAC (Opus for WebM) encoder stream with the source's rate and channel count."""
        supported = output.supported_codecs
        name = next((c for c in ("aac", "libopus", "opus") if c in supported), None)
        if name is None:
            raise StylevidError(
                f"{output.format.name} files cannot hold audio; "
                "write a .mp4 or .mkv file or drop the audio"
            )
        rate = stream.codec_context.sample_rate
        if rate not in (av.Codec(name, "w").audio_rates or (rate,)):
            rate = 48000
        options = {"strict": "experimental"} if name == "opus" else {}
        encoder = output.add_stream(name, rate=rate, options=options)
        encoder.layout = _ENCODER_LAYOUTS.get(stream.codec_context.layout.nb_channels, "stereo")
        encoder.codec_context.time_base = Fraction(1, rate)
        return encoder

    def _peek(self) -> av.Packet | None:
        """The next source packet (kept until consumed), or None at the end."""
        if self._pending is None and self._packets is not None:
            try:
                self._pending = next(self._packets)
            except StopIteration:
                self._packets = None
            except av.FFmpegError:
                self._packets = None  # damaged audio: keep what was carried so far
        return self._pending

    def pump(self, until: float) -> None:
        """Mux source audio that starts before ``until`` seconds of output time."""
        while (packet := self._peek()) is not None:
            track = self._tracks[packet.stream.index]
            t0 = track.packet_time(packet)
            if t0 is not None and packet.size and t0 - self.start >= until:
                return
            self._pending = None
            if t0 is not None and t0 >= track.end:
                track.done = True
                if all(t.done for t in self._tracks.values()):
                    self._packets = None  # every stream is past the end: stop reading
                continue
            track.handle(packet, self._output)

    def finish(self, video_end: float) -> None:
        """Mux the remaining audio (never past the video's end) and flush the encoders."""
        end = min(self.end, self.start + video_end)
        for track in self._tracks.values():
            track.end = end
        self.pump(until=math.inf)
        for track in self._tracks.values():
            track.flush(self._output)
        self.close()

    def close(self) -> None:
        """Close the source file (again is harmless)."""
        self._packets = None
        if self._input is not None:
            self._input.close()
            self._input = None
