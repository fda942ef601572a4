"""Run a producer ahead of its consumer in a background thread.

Video frames need CPU work (decoding, resizing, optical flow, occlusion masks) that does not
depend on the stylised result, so it can run while the GPU optimises the frame before. On a
2-core CPU it merely shares the cores; on a GPU machine it takes that work off the critical path.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable
from typing import TypeVar

T = TypeVar("T")

_DONE = object()  # end of the items


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(items: Iterable[T], depth: int = 2) -> Generator[T, None, None]:
    """Yield ``items`` in order, produced by a background thread up to ``depth`` items ahead.

    An exception raised by the producer is raised here, at the point where its item would have
    come, after every item produced before it. Closing this generator early (a ``break``, an
    exception in the consumer) stops the producer and closes ``items`` if it is a generator.
    """
    if depth < 1:
        raise ValueError(f"depth must be 1 or more, got {depth}")
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        """Put ``item`` unless the consumer has gone; False when it has."""
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            offer(_Failed(error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="stylevid-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join()
