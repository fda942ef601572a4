"""Prefetching: a producer runs ahead of its consumer on another thread, in order, errors in place."""

from __future__ import annotations

import threading

import pytest

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.video.prefetch import prefetch


def test_prefetch_keeps_order_and_runs_ahead_on_another_thread():
    threads = []

    def produce():
        for i in range(20):
            threads.append(threading.get_ident())
            yield i

    assert list(prefetch(produce(), depth=3)) == list(range(20))
    assert set(threads) != {threading.get_ident()}


def test_prefetch_raises_the_producers_error_after_its_earlier_items():
    def produce():
        yield 1
        yield 2
        raise StylevidError("frame 3 is damaged")

    got = []
    with pytest.raises(StylevidError, match="frame 3 is damaged"):
        for item in prefetch(produce()):
            got.append(item)
    assert got == [1, 2]


def test_closing_prefetch_early_stops_and_closes_the_producer():
    closed = threading.Event()
    produced = []

    def produce():
        try:
            for i in range(10_000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    items = prefetch(produce(), depth=2)
    assert next(items) == 0
    items.close()
    assert closed.wait(5)
    assert len(produced) < 10  # it stopped, a few items ahead at most
    with pytest.raises(ValueError, match="depth"):
        next(prefetch([1], depth=0))
