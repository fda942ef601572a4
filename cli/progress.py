"""Rich progress displays for the CLI, fed by the pipeline's callbacks."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from stylevid.pipeline.progress import Progress as VideoCallbacks


def console_for(quiet: bool) -> Console:
    return Console(stderr=True, quiet=quiet, highlight=False)


def _losses(losses: dict[str, float]) -> str:
    """Compact enough for an 80-column terminal: loss 1.1e+11 (c 7.6e+10 s 3.7e+10)."""
    shown = [f"{k[0]} {v:.2g}" for k, v in losses.items() if k != "total" and v]
    return f"loss {losses.get('total', 0):.2g} ({' '.join(shown)})"


def _bar(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
        disable=console.quiet,
    )


def _stop(progress: Progress, interrupted: bool) -> None:
    """End the bar. Into a log (no terminal) Rich prints the bar's last state when it stops; after an
    interruption that line would stand above the one-line reason, so the bar then goes quietly."""
    if interrupted and not progress.console.is_terminal:
        progress.live.transient = True
    progress.stop()


class ImageProgress:
    """Iterations done / total, with the current losses and an ETA."""

    def __init__(self, console: Console, iters: int) -> None:
        self._progress = _bar(console)
        self._iters = iters
        self._description = "optimising"

    def __enter__(self) -> ImageProgress:
        # the bar appears with the first iteration, after inputs and weights loaded
        self._task: TaskID | None = None
        return self

    def update(self, iteration: int, losses: dict[str, float]) -> None:
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(self._description, total=self._iters, info="")
        self._progress.update(self._task, completed=iteration, info=_losses(losses))

    def stage(self, index: int, count: int, stage: Any) -> None:
        """A coarse-to-fine stage begins: the bar counts its iterations ("stage 2/3, 1024 px")."""
        self._iters = stage.iters
        self._description = f"stage {index + 1}/{count}, {stage.size} px" if count > 1 else "optimising"
        if self._task is not None:
            self._progress.reset(self._task, total=self._iters, description=self._description, info="")

    def __exit__(self, *exc: Any) -> None:
        if self._task is not None:
            _stop(self._progress, interrupted=exc[0] is not None)


class VideoProgress(VideoCallbacks):
    """Frames done / total with an ETA, and the current frame's iterations and loss."""

    unit = "frame"  # what the bar counts

    def __init__(self, console: Console) -> None:
        self._progress = _bar(console)
        self._console = console

    def __enter__(self) -> VideoProgress:
        self._task: TaskID | None = None  # the bar appears once the source is open and the weights loaded
        return self

    def begin(self, total_frames: int | None, done: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task(f"{self.unit}s", total=total_frames, completed=done, info="")
        if done:
            self._console.print(f"resuming: {done} {self.unit}(s) already done")

    def frame_started(self, position: int, iters: int, frames: int = 1) -> None:
        self._iters = iters
        self._frames = (
            f"{self.unit} {position + 1}" if frames == 1 else f"{self.unit}s {position + 1}–{position + frames}"
        )
        self._show(info=f"{self._frames}: starting")

    def pyramid_stage(self, position: int, index: int, count: int, size: int, iters: int) -> None:
        self._iters = iters
        self._frames = f"{self.unit} {position + 1}, stage {index + 1}/{count}, {size} px"
        self._show(info=f"{self._frames}: starting")

    def iteration(self, position: int, iteration: int, losses: dict[str, float]) -> None:
        self._show(info=f"{self._frames} it {iteration}/{self._iters} {_losses(losses)}")

    def frame_done(self, position: int, stats: dict[str, Any]) -> None:
        if stats.get("pass", 1) > 1:  # passes 2, 4 … run backwards: count frames, not positions
            self._show(advance=1)
        else:
            self._show(completed=position + 1)

    def stage(self, text: str) -> None:
        self._show(info=text)

    def pass_started(self, number: int, passes: int, total_frames: int | None, done: int) -> None:
        self._show(description=f"pass {number}/{passes} {self.unit}s", total=total_frames, completed=done, info="")

    def _show(self, **fields: Any) -> None:
        assert self._task is not None, "begin() opens the bar"
        self._progress.update(self._task, **fields)

    def __exit__(self, *exc: Any) -> None:
        if self._task is not None:
            _stop(self._progress, interrupted=exc[0] is not None)


class StyleProgress(VideoProgress):
    """--each-style on an image: styles done / total, and the current style's iterations."""

    unit = "style"

    def frame_done(self, position: int, stats: dict[str, Any]) -> None:
        assert self._task is not None, "begin() opens the bar"
        self._progress.advance(self._task)


class PhotoProgress(VideoProgress):
    """Photos of a batch done / total; photos done by an earlier run may lie anywhere in the order."""

    unit = "photo"

    def frame_done(self, position: int, stats: dict[str, Any]) -> None:
        assert self._task is not None, "begin() opens the bar"
        self._progress.advance(self._task)
