"""Decoding a window of a video into upright RGB frames, with damage and truncation checks.

Frames are ``H x W x 3`` ``uint8`` RGB numpy arrays carrying their source timestamps.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from ..checks import check_window
from ..errors import StylevidError
from ._ffmpeg import container_duration, ffmpeg_message, open_input, video_duration, video_stream
from .probe import VideoInfo, probe_video

__all__ = ["DecodedFrame", "read_frames"]


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded picture, upright, with its timing in the source."""

    index: int  # 0-based index in the source, counting every decoded frame
    pts: int | None  # presentation timestamp in the source's time_base units
    time: float  # seconds since the first frame of the source
    image: np.ndarray  # H x W x 3 uint8 RGB, contiguous, rotation applied


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
    check_window(start, end, every)
    window = _Window(start, end, every)
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
) -> Generator[tuple[int, float, av.VideoFrame], None, None]:
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


def _rotate_upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn ``image`` clockwise by ``rotation`` degrees and make it contiguous."""
    if rotation % 360:
        image = np.rot90(image, k=-(rotation // 90))
    return np.ascontiguousarray(image)


def _decode_frames(path: Path, info: VideoInfo, window: _Window) -> Iterator[DecodedFrame]:
    """Generator behind :func:`read_frames` (see there)."""
    interval = 1.0 / float(info.fps)
    index, time = -1, -interval  # the last decoded frame
    yielded = in_range = 0
    stopped_early = False
    with open_input(path) as container:
        stream = video_stream(container, path)
        stream.thread_type = "AUTO"
        declared = video_duration(stream)
        if declared is None and len(container.streams) == 1:
            declared = container_duration(container)
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
    message = ffmpeg_message(error)
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
        raise StylevidError(f"{path} has no video frames that FFmpeg can decode; the file is damaged or empty")
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
