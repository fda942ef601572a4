"""Ctrl-C during a video run: finish and save the frame in flight, then stop (a second Ctrl-C stops at once)."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def finish_frame_on_ctrl_c() -> Iterator[Callable[[], bool]]:
    """Yield a function telling whether Ctrl-C was pressed; a second Ctrl-C raises KeyboardInterrupt.

    Outside the main thread, where no handler can be installed, Ctrl-C is left alone.
    """
    requested = {"stop": False}
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):  # noqa: ARG001
        if requested["stop"]:
            raise KeyboardInterrupt
        requested["stop"] = True

    try:
        signal.signal(signal.SIGINT, handler)
        installed = True
    except ValueError:  # not the main thread: leave Ctrl-C alone
        installed = False
    try:
        yield lambda: requested["stop"]
    finally:
        if installed:
            signal.signal(signal.SIGINT, previous)
