"""The writer thread of a video run: finished frames reach the work folder and the output off the optimiser's path."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from .frame_pairs import PreparedFrame
from .output import VideoOutput
from .workdir import WorkFolder


class FrameWriter:
    """Writes frames on one background thread, in order: new ones into the work folder, all to the output.

    A failed write (a full disk, say) is raised at the next call or at :meth:`flush`; at most
    ``max_pending`` frames wait, so a slow encoder holds the optimiser back instead of filling
    memory. Leaving the ``with`` block waits for every queued write.
    """

    def __init__(self, work: WorkFolder, output: VideoOutput, max_pending: int = 8) -> None:
        self._work, self._output, self._max_pending = work, output, max_pending
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stylevid-write")
        self._pending: list[Future] = []

    def stylised(self, item: PreparedFrame, picture: np.ndarray, stats: dict[str, Any]) -> None:
        """A frame just stylised: save it for resuming, then write it out."""

        def write() -> None:
            self._work.save_frame(item.frame.position, picture, stats)
            self._output.add(item.frame, item.content, picture, stats)

        self._submit(write)

    def saved(self, item: PreparedFrame, picture: np.ndarray, stats: dict[str, Any]) -> None:
        """A frame already in the work folder, its picture still at hand: write it out (no reading back)."""
        self._submit(lambda: self._output.add(item.frame, item.content, picture, stats))

    def finished_earlier(self, item: PreparedFrame) -> None:
        """A frame stylised by an earlier run: load it from the work folder and write it out."""

        def write() -> None:
            stylised, stats = self._work.load_frame(item.frame.position)
            self._output.add(item.frame, item.content, stylised, stats)

        self._submit(write)

    def _submit(self, job: Callable[[], None]) -> None:
        while len(self._pending) >= self._max_pending or (self._pending and self._pending[0].done()):
            self._pending.pop(0).result()  # raises the write's error, if any
        self._pending.append(self._pool.submit(job))

    def flush(self) -> None:
        """Wait for every queued write; raise the first one's error."""
        pending, self._pending = self._pending, []
        for write in pending:
            write.result()

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        try:
            if kind is None:
                self.flush()
        finally:
            self._pool.shutdown(wait=True)  # after an error too: frames already finished reach the disk
