"""Describing video files: size, display rotation, frame rate, duration and audio streams.

Nothing here decodes more than one frame; :mod:`.video_read` decodes, :mod:`.video_write` encodes.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ..errors import StylevidError
from ._ffmpeg import container_duration, open_input, real_video_streams, video_duration, video_stream

__all__ = ["MAX_FRAME_PIXELS", "VideoInfo", "is_video_file", "probe_video"]

#: Refuse to decode video frames larger than this many pixels (guards against absurd headers).
MAX_FRAME_PIXELS = 8192 * 8192

#: Container formats PyAV can open that are still pictures, not videos.
_IMAGE_FORMATS = ("image2",)
_IMAGE_FORMAT_SUFFIX = "_pipe"


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


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Describe the video at ``path``; raise StylevidError when it is not a usable video.

    Decodes the first frame to learn the display rotation (FFmpeg 6+ exposes the
    display matrix only on decoded frames) unless a legacy ``rotate`` tag says it.
    """
    path = Path(path)
    with open_input(path) as container:
        stream = video_stream(container, path)
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
            duration=video_duration(stream) or container_duration(container),
            audio_streams=len(container.streams.audio),
            codec=stream.codec_context.codec.canonical_name,
        )


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
            return not _is_image_format(container) and bool(real_video_streams(container))
    except (av.FFmpegError, OSError, ValueError):
        return False


def _first_frame(container: av.container.InputContainer, stream: Any) -> av.VideoFrame | None:
    """Decode the first frame of ``stream``, or None if that fails (read_frames reports it)."""
    try:
        return next(container.decode(stream), None)
    except av.FFmpegError:
        return None


def _check_pixels(path: Path, width: int, height: int) -> None:
    """Refuse frames larger than MAX_FRAME_PIXELS before decoding anything."""
    if width * height > MAX_FRAME_PIXELS:
        raise StylevidError(
            f"{path} declares {width}x{height} pictures, more than stylevid handles "
            f"({MAX_FRAME_PIXELS} pixels); scale the video down first"
        )


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
    duration = video_duration(stream)
    if stream.frames and duration:
        return Fraction(stream.frames / duration).limit_denominator(1001)
    return None


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
