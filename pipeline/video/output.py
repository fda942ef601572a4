"""Where stylised frames go as they are finished: an encoded video or a frame folder.

Frames arrive in order, while later frames are still being optimised, so encoding overlaps
the optimiser instead of following it. The output also keeps what the run record and the
renders need: one row of statistics per frame and small preview pictures.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import StylevidError
from ..io.images import resize, save_image
from ..io.paths import result_name
from ..io.video_write import VideoWriter
from ..motion.warping_error import warping_error_sequence
from .frames import Frame, FrameSource, VideoSource

if TYPE_CHECKING:
    from ..config import VideoConfig

PREVIEW_FRAMES = 600  # frames kept for preview.gif
PREVIEW_SIDE = 320  # long side of a preview frame


class VideoOutput:
    """Writes each stylised frame to the output as it comes; :meth:`close` finishes the file."""

    def __init__(self, source: FrameSource, config: VideoConfig, kind: str, out_dir: Path) -> None:
        self.source, self.config, self.kind, self.out_dir = source, config, kind, out_dir
        self.rows: list[dict[str, Any]] = []  # per frame: its statistics and warping error
        self.preview: list[np.ndarray] = []  # small copies for preview.gif
        self.files: dict[str, Path] = {}  # "video" or "frames" → where they went
        self.processing_shape: tuple[int, int] = (0, 0)  # (height, width) of the stylised frames
        self.frames_dir = out_dir / "frames"
        self._writer: VideoWriter | None = None
        self._first_time: float | None = None
        self._previous: tuple[np.ndarray, np.ndarray] | None = None  # (content, stylised) of the frame before

    @property
    def output(self) -> Path:
        return self.files.get("video") or self.frames_dir

    def add(self, frame: Frame, content: np.ndarray, stylised: np.ndarray, stats: dict[str, Any]) -> None:
        """Write frame ``frame`` (``content``: the original at processing size) stylised as ``stylised``."""
        self.processing_shape = stylised.shape[:2]
        error = stats.get("warping_error")
        opens_shot = stats.get("shot") == frame.position  # no pair to measure across a cut
        if (
            error is None and self._previous is not None and not opens_shot
        ):  # measured while stylising, except by older versions
            previous_content, previous_stylised = self._previous
            error = warping_error_sequence(
                [previous_stylised, stylised], [previous_content, content], self.config.flow_method
            ).values[0]
        self._previous = (content, stylised)
        self.rows.append({**stats, "warping_error": error})
        picture = stylised
        if self.config.output_size == "original":
            picture = resize(stylised, frame.picture.shape[1], frame.picture.shape[0])
        if self._first_time is None:
            self._first_time = frame.time
        if self.kind == "video":
            if self._writer is None:
                self._writer = self._open_writer(picture, frame.time)
                self.files["video"] = self._writer.path
            self._writer.write(picture, frame.time - self._first_time)
        else:
            self.frames_dir.mkdir(exist_ok=True)
            target = self.frames_dir / frame.name  # the folder's own names, or frame_<source index>.png
            if target.resolve().parent != self.frames_dir.resolve():
                raise StylevidError(f"frame name {frame.name!r} would leave the output folder; rename it")
            save_image(target, picture)
            self.files["frames"] = self.frames_dir
        if len(self.preview) < PREVIEW_FRAMES:
            self.preview.append(resize(stylised, *_preview_size(stylised)))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def abort(self) -> None:
        """Drop the unfinished video file (frames already in a frame folder stay)."""
        if self._writer is not None:
            self._writer.abort()

    def _open_writer(self, first: np.ndarray, first_time: float) -> VideoWriter:
        source, config = self.source, self.config
        video = source if isinstance(source, VideoSource) else None
        audio_source = source.path if (config.audio and video is not None and video.info.audio_streams) else None
        # the audio stops at an end given in seconds; else (no end, or a frame index) at the last frame
        audio_end = video.end if video is not None and isinstance(video.end, float) else None
        return VideoWriter(
            self.out_dir / result_name(source.path, source.kind, "video", config.codec),
            fps=source.fps / config.every,
            width=first.shape[1],
            height=first.shape[0],
            codec=config.codec,
            crf=config.crf,
            audio_source=audio_source,
            audio_start=first_time,
            audio_end=audio_end,
        )


def _preview_size(picture: np.ndarray) -> tuple[int, int]:
    h, w = picture.shape[:2]
    scale = min(1.0, PREVIEW_SIDE / max(h, w))
    return max(1, round(w * scale)), max(1, round(h * scale))
