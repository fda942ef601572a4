"""Stop requests: Ctrl-C (SIGINT), SIGTERM and SIGHUP end a run cleanly, with exit code 128 + signal.

Job schedulers, ``docker stop``, systemd and Ray stop work with SIGTERM; a closed terminal sends
SIGHUP. During a video run's frame loop (:func:`finish_frame_on_signals`) the first of these
only asks the run to stop: the frame (or rolling segment) in flight is finished and saved, then
the run ends. A second one stops at once. Outside that loop — loading weights, an image run,
encoding — :func:`stop_at_once_on_signals` (installed by the command line) turns each of them
into :class:`Stopped`, as Python already does for Ctrl-C, so that the run unwinds (removing
partial files) and the CLI prints one line.

Handlers can only be installed in the main thread; elsewhere the signals are left alone.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: The signals that stop a run (SIGHUP does not exist on Windows).
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def exit_code_for(signum: int) -> int:
    """The shell's convention: 128 + the signal number (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP)."""
    return 128 + int(signum)


def signal_name(signum: int) -> str:
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


class Stopped(KeyboardInterrupt):
    """A stop signal that ends the run at once; ``exit_code`` is 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = int(signum)
        self.exit_code = exit_code_for(signum)


def _raise_stopped(signum: int, frame: Any) -> None:  # noqa: ARG001
    raise Stopped(signum)


class StopRequest:
    """Callable: whether a stop signal arrived; ``signum`` is the first one (None while none has)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self) -> bool:
        return self.signum is not None

    def handler(self, signum: int, frame: Any) -> None:  # noqa: ARG002
        if self.signum is not None:
            raise Stopped(signum)  # the second signal: stop at once
        self.signum = int(signum)


@contextmanager
def _handling(handler: Any) -> Iterator[None]:
    """Install ``handler`` for every stop signal, restoring the previous handlers afterwards."""
    previous: dict[signal.Signals, Any] = {}
    try:
        for number in STOP_SIGNALS:
            previous[number] = signal.signal(number, handler)
    except ValueError:  # not the main thread: leave the signals alone
        pass
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, signal.SIG_DFL if old is None else old)


@contextmanager
def finish_frame_on_signals() -> Iterator[StopRequest]:
    """Yield a :class:`StopRequest`: the first stop signal sets it, a second raises :class:`Stopped`."""
    request = StopRequest()
    with _handling(request.handler):
        yield request


@contextmanager
def stop_at_once_on_signals() -> Iterator[None]:
    """Every stop signal raises :class:`Stopped` (a KeyboardInterrupt) where the program is."""
    with _handling(_raise_stopped):
        yield
