"""The progress display of a scaled-out run: the whole video, and a row per Ray worker with its frames/s and ETA."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from stylevid.pipeline.progress import Progress as VideoCallbacks


class ScaledProgress(VideoCallbacks):
    """Frames done / total with an ETA; under it one row per worker: frames made, frames/s, the frame it
    last made, and the time until it finishes its segment (its frames left ÷ its frames/s; "…" while
    the segment's end is not known yet, its frames still being read)."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._progress = Progress(
            TextColumn("[bold]{task.description:>9}"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=console,
            disable=console.quiet,
        )
        self._video: TaskID | None = None
        self._workers: dict[int, TaskID] = {}
        self._seconds: dict[int, float] = {}

    def __enter__(self) -> ScaledProgress:
        return self

    def begin(self, total_frames: int | None, done: int) -> None:
        self._progress.start()
        self._video = self._progress.add_task("video", total=total_frames, completed=done, info="")
        if done:
            self._console.print(f"resuming: {done} frame(s) already done")

    def frame_done(self, position: int, stats: dict[str, Any]) -> None:
        assert self._video is not None, "begin() opens the display"
        self._progress.advance(self._video)
        worker = stats.get("worker")
        if worker is None:
            return
        if worker not in self._workers:
            self._workers[worker] = self._progress.add_task(f"worker {worker + 1}", total=None, info="")
        self._seconds[worker] = self._seconds.get(worker, 0.0) + float(stats.get("worker_seconds") or 0.0)
        task = self._workers[worker]
        self._progress.advance(task)
        made = self._progress.tasks[task].completed
        rate = made / self._seconds[worker] if self._seconds[worker] else 0.0
        left = stats.get("worker_frames_left")
        if left is None:
            eta = "…"
        elif left == 0:
            eta = "segment done"
        else:
            eta = f"{left} left, eta {_clock(left / rate) if rate else '?'}"
        self._progress.update(task, info=f"{rate:.2f} frames/s, last frame {position + 1}, {eta}")

    def stage(self, text: str) -> None:
        if self._video is not None:
            self._progress.update(self._video, info=text)

    def __exit__(self, *exc: Any) -> None:
        self._progress.stop()


def _clock(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
