"""Encoding RGB frames to a video file, at the times given, through a partial file renamed on success.

:func:`check_encoder` validates ``--codec`` and ``--crf`` against the local FFmpeg before any work.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import numpy as np

from ..checks import check_picture
from ..config import MAX_CRF, VIDEO_CODECS
from ..errors import StylevidError
from ._ffmpeg import ffmpeg_message
from .audio import AudioCarrier

__all__ = ["VideoWriter", "check_encoder"]

_TIME_TICKS = 90000  # MPEG clock; default time base is 1/lcm(90000, fps numerator)


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
                AudioCarrier(Path(audio_source), self._container, audio_start, audio_end)
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
                f"cannot write video files named {self.path.name!r} ({ffmpeg_message(error)}); "
                "use a .mp4, .mkv, .mov or .webm path"
            ) from error

    def _add_video_stream(self, codec: str, crf: int, time_base: Fraction | None) -> Any:
        time_base = Fraction(time_base) if time_base else _default_time_base(self.fps)
        if codec == "mpeg4" and time_base.denominator > 65535:  # MPEG-4 part 2 limit
            exact = 1 / self.fps
            time_base = exact if exact.denominator <= 65535 else time_base.limit_denominator(65535)
        try:
            options = _encoder_options(codec, crf)
            # a video codec's name gives a video stream (the stubs cannot tell from a str)
            stream = cast(av.VideoStream, self._container.add_stream(codec, rate=self.fps, options=options))
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
            raise StylevidError(f"writing {self.path} failed: {ffmpeg_message(error)}") from error
        self._last_pts, self._last_time = pts, float(time)
        self._frames += 1

    def _check_image(self, image: np.ndarray) -> None:
        check_picture("image", image)
        expected = (self.height, self.width, 3)
        if image.shape != expected:
            raise ValueError(f"expected a {expected} uint8 RGB array, got {image.shape} {image.dtype}")

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
            raise StylevidError(f"writing {self.path} failed: {ffmpeg_message(error)}") from error
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
