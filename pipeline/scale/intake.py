"""The driver's reading thread: decode the input once, while the workers work.

Each frame is decoded (in one thread), then resized to processing size, put in Ray's object store
and scored for a scene cut (the detector of :mod:`..motion.cuts`, one frame at a time) in another; the
driver's main thread takes what has arrived without waiting (:meth:`FrameIntake.take`) and plans
and hands out work from it. Nothing here knows of the plan.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import StylevidError
from ..io.images import resize_long_side
from ..video.frames import Frame, FrameSource, frames_until_damage
from ..video.prefetch import prefetch


@dataclass
class Arrival:
    """One frame read: its metadata (the picture dropped), its object ref at processing size, what the cuts are now."""

    meta: Frame
    content: Any  # object ref (or the picture itself when put is the identity)
    cuts: list[int] = field(default_factory=list)  # cuts decided with this frame
    decided_until: int | None = None  # every cut before this position is decided (None: no detector)


@dataclass
class _End:
    cuts: list[int]  # the cuts decided at the end of the clip


@dataclass
class _Failed:
    error: BaseException


class CutDetector:
    """The scene-cut detector of the in-process runner (:mod:`..motion.cuts`), fed one frame at a time."""

    def __init__(self) -> None:
        from ..motion.cuts import CutFinder, flow_estimator

        self.finder, self.dis = CutFinder(), flow_estimator()
        self.previous: np.ndarray | None = None

    def add(self, content: np.ndarray) -> list[int]:
        """Take the next frame; the cuts decided now."""
        from ..motion.cuts import change_score, shrink

        small = shrink(content)
        cuts: list[int] = []
        if self.previous is not None:
            # frames of another size (a folder of mixed pictures) cannot continue a shot
            same = small.shape == self.previous.shape
            cuts = self.finder.add(change_score(self.previous, small, self.dis) if same else 255.0)
        self.previous = small
        return cuts

    @property
    def decided_until(self) -> int:
        """Every cut at a position before this one is decided (a cut at p is the pair p − 1, p)."""
        return self.finder.decided + 1

    def finish(self) -> list[int]:
        return self.finder.finish()


class FrameIntake:
    """Reads ``source`` in a background thread (see the module doc); :meth:`take` hands over what arrived."""

    def __init__(self, source: FrameSource, size: int, put: Callable[[np.ndarray], Any], *, detect_cuts: bool) -> None:
        self.source, self.size, self.put = source, size, put
        self.detector = CutDetector() if detect_cuts else None
        self.damage: list[StylevidError] = []
        self.seconds = 0.0  # spent reading, resizing, scoring and putting (this thread's wall time)
        self.final_cuts: list[int] = []
        self.done = False
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="stylevid-intake", daemon=True)

    def __enter__(self) -> FrameIntake:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _read(self) -> None:
        began = time.perf_counter()
        try:
            # decoding runs one thread ahead of the resizing and scoring (both let go of the GIL)
            with closing(prefetch(frames_until_damage(self.source, self.damage), depth=4)) as frames:
                for frame in frames:
                    if self._stop.is_set():
                        return
                    self._queue.put(self._arrival(frame))
                    self.seconds = time.perf_counter() - began
            self._queue.put(_End(self.detector.finish() if self.detector is not None else []))
        except BaseException as error:  # noqa: BLE001 - raised in the driver's thread by take()
            self._queue.put(_Failed(error))
        self.seconds = time.perf_counter() - began

    def _arrival(self, frame: Frame) -> Arrival:
        content = resize_long_side(frame.picture, self.size)
        meta = Frame(frame.position, frame.index, frame.time, frame.name, np.empty((0, 0, 3), np.uint8))
        arrival = Arrival(meta, self.put(content))
        if self.detector is not None:
            arrival.cuts = self.detector.add(content)
            arrival.decided_until = self.detector.decided_until
        return arrival

    def take(self, wait: float = 0.0) -> list[Arrival]:
        """Every frame that arrived since the last call, waiting up to ``wait`` seconds for a first one."""
        arrivals: list[Arrival] = []
        block = wait > 0 and not self.done
        while not self.done:
            try:
                item = self._queue.get(block=block, timeout=wait if block else None)
            except queue.Empty:
                break
            block = False
            if isinstance(item, _Failed):
                self.done = True
                raise item.error
            if isinstance(item, _End):
                self.final_cuts, self.done = item.cuts, True
                break
            arrivals.append(item)
        return arrivals
