"""Frame sources: a video file or a folder of images, read the same way.

The optimiser never sees PyAV or file names: it gets :class:`Frame` objects (a picture and its
time) from a :class:`FrameSource`, in order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import StylevidError
from ..io.folder import DEFAULT_FOLDER_FPS, MAX_FRAMES, select_pictures, to_index
from ..io.images import load_image
from ..io.probe import VideoInfo, probe_video
from ..io.video_read import read_frames


@dataclass(frozen=True)
class Frame:
    position: int  # 0, 1, 2 … within the selected frames
    index: int  # index in the source (before --start/--every)
    time: float  # seconds from the source's first frame
    name: str  # file name for frame-folder output (the source's own name for folders)
    picture: np.ndarray  # H×W×3 uint8 RGB


class FrameSource:
    """Base: ``frames()`` yields :class:`Frame` in order; ``fps`` is the nominal rate."""

    fps: Fraction
    path: Path
    kind: str

    def frames(self) -> Iterator[Frame]:  # pragma: no cover - interface
        raise NotImplementedError

    def expected_count(self) -> int | None:  # pragma: no cover - interface
        """How many frames ``frames()`` should yield (None when the source cannot tell)."""
        raise NotImplementedError

    def describe(self) -> dict:
        return {"path": str(self.path), "kind": self.kind, "fps": str(self.fps)}


class VideoSource(FrameSource):
    kind = "video"

    def __init__(self, path: Path, *, start: int | float | None, end: int | float | None, every: int) -> None:
        self.path = path
        self.info: VideoInfo = probe_video(path)
        self.fps = self.info.fps
        self.start, self.end, self.every = start, end, every

    def frames(self) -> Iterator[Frame]:
        for position, decoded in enumerate(read_frames(self.path, self.start, self.end, self.every)):
            if position >= MAX_FRAMES:
                raise StylevidError(f"more than {MAX_FRAMES} frames selected; use --end or --every")
            yield Frame(position, decoded.index, decoded.time, f"frame_{decoded.index:06d}.png", decoded.image)

    def expected_count(self) -> int | None:
        """From the declared frame count (or duration); a damaged file may yield fewer."""
        count = self.info.frame_count
        if count is None and self.info.duration:
            count = round(self.info.duration * float(self.fps))
        if count is None:
            return None
        first = to_index(self.start, self.fps, 0)
        last = min(to_index(self.end, self.fps, count), count)
        return max(0, (last - first + self.every - 1) // self.every)

    def describe(self) -> dict:
        info = self.info
        return {
            **super().describe(),
            "width": info.width,
            "height": info.height,
            "rotation": info.rotation,
            "frame_count": info.frame_count,
            "duration": info.duration,
            "audio_streams": info.audio_streams,
            "codec": info.codec,
            "start": self.start,
            "end": self.end,
            "every": self.every,
        }


class FolderSource(FrameSource):
    kind = "folder"

    def __init__(
        self, path: Path, *, start: int | float | None, end: int | float | None, every: int, fps: Fraction
    ) -> None:
        self.path = path
        self.fps = fps
        selection = select_pictures(path, start=start, end=end, every=every, fps=fps)
        self.files = selection.files
        self.indices = selection.indices

    def frames(self) -> Iterator[Frame]:
        size = None
        for position, (index, file) in enumerate(zip(self.indices, self.files)):
            picture = load_image(file)
            if size is None:
                size = picture.shape[:2]
            elif picture.shape[:2] != size:
                raise StylevidError(
                    f"{file.name} is {picture.shape[1]}×{picture.shape[0]}, the frames before it "
                    f"{size[1]}×{size[0]}; all frames of a folder must have one size"
                )
            yield Frame(position, index, float(index / self.fps), file.name, picture)

    def expected_count(self) -> int:
        return len(self.files)

    def describe(self) -> dict:
        return {**super().describe(), "frames": len(self.files)}


def frames_until_damage(source: FrameSource, damage: list[StylevidError]) -> Iterator[Frame]:
    """The source's frames up to a decoding error, which is noted in ``damage`` (not raised).

    A truncated or corrupt file still yields a video of the frames before the damage; the
    caller reports the error after writing it.
    """
    frames = source.frames()
    yielded = False
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except StylevidError as error:
            if not yielded:
                raise  # nothing decoded at all: the reader's own message says why
            damage.append(error)
            return
        yielded = True
        yield frame


def with_first_frame_checked(frames: Iterator[Frame]) -> Iterator[Frame]:
    """``frames`` unchanged, after decoding the first one now.

    Whether a window (``--start``/``--end`` as indices or times, against the clip's real length)
    holds any frame, and whether anything decodes at all, is only certain once a frame is
    decoded. Doing that before the run opens its work folder or shows progress makes such an
    error one line, before any work.
    """
    first = next(frames, None)  # a StylevidError here says why nothing can be read
    if first is None:
        return iter(())
    return itertools.chain([first], frames)


def open_source(path: Path, *, start=None, end=None, every: int = 1, fps: Fraction | None = None) -> FrameSource:
    """A frame source for a video file or a folder of images."""
    if every < 1:
        raise StylevidError(f"--every must be 1 or more, got {every}")
    if path.is_dir():
        return FolderSource(path, start=start, end=end, every=every, fps=fps or DEFAULT_FOLDER_FPS)
    return VideoSource(path, start=start, end=end, every=every)
