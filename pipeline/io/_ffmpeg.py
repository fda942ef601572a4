"""PyAV helpers shared by probing, reading and audio: opening inputs, finding the video stream,
declared durations and readable FFmpeg messages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import av

from ..errors import StylevidError


def ffmpeg_message(error: BaseException) -> str:
    """The readable part of a PyAV/FFmpeg exception."""
    text = getattr(error, "strerror", None) or str(error)
    return " ".join(str(text).split())


def _check_readable(path: Path) -> None:
    """Raise StylevidError when ``path`` is missing or not a regular file."""
    if not path.exists():
        raise StylevidError(f"{path} does not exist; check the path")
    if path.is_dir():
        raise StylevidError(f"{path} is a folder, not a video file")


def open_input(path: Path) -> av.container.InputContainer:
    """Open ``path`` with PyAV, turning failures into StylevidError."""
    _check_readable(path)
    try:
        return av.open(str(path), "r")
    except PermissionError as error:
        raise StylevidError(f"cannot read {path}: permission denied") from error
    except (av.FFmpegError, OSError, ValueError) as error:
        raise StylevidError(
            f"{path} is not a video FFmpeg can read ({ffmpeg_message(error)}); "
            "it may be corrupt, truncated or not a video at all"
        ) from error


def real_video_streams(container: av.container.InputContainer) -> list[Any]:
    """Video streams that are moving pictures (cover art / attached pictures excluded)."""
    return [s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)]


def video_stream(container: av.container.InputContainer, path: Path) -> Any:
    """The first real video stream, or a StylevidError explaining why there is none."""
    streams = real_video_streams(container)
    if streams:
        return streams[0]
    if container.streams.audio:
        raise StylevidError(f"{path} contains only audio (no video stream); give a video file")
    raise StylevidError(f"{path} has no video stream; give a video file")


def _parse_clock(text: str) -> float | None:
    """Seconds from ``HH:MM:SS.fff`` (Matroska DURATION tags), or None."""
    match = re.fullmatch(r"(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)", text.strip())
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def video_duration(stream: Any) -> float | None:
    """Duration of the video stream itself in seconds, when the container declares it."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    for key in ("DURATION", "duration"):
        if key in stream.metadata:
            return _parse_clock(stream.metadata[key])
    return None


def container_duration(container: av.container.InputContainer) -> float | None:
    """Duration of the whole file in seconds (may include longer audio)."""
    if container.duration is None or container.duration <= 0:
        return None
    return container.duration / av.time_base
