"""What a front end implements to show a video run's progress (no torch: the CLI imports it at start)."""

from __future__ import annotations

from typing import Any


class Progress:
    """Callbacks a front end implements to show progress; every method is optional."""

    def begin(self, total_frames: int | None, done: int) -> None: ...
    def frame_started(self, position: int, iters: int, frames: int = 1) -> None: ...  # frames: the batch's size
    def iteration(self, position: int, iteration: int, losses: dict[str, float]) -> None: ...
    def frame_done(self, position: int, stats: dict[str, Any]) -> None: ...
    # a coarse-to-fine stage of a frame stylised from scratch begins (index from 0 of count, long side size)
    def pyramid_stage(self, position: int, index: int, count: int, size: int, iters: int) -> None: ...
    def stage(self, text: str) -> None: ...
