"""Independent pictures fanned out over the Ray workers: a batch of unrelated photos, and the styles
of ``--each-style`` (one image in each style, or every photo × style pair of a batch).

The driver reads each picture (and alone writes the outputs); a worker gets the decoded picture
through the object store and runs the task's method of :class:`.worker.StyleWorker` (``photo``:
:func:`..batch.photo.stylise_photo`; ``image``: :func:`..image_job.stylise_picture`) with its own
engine, which does no I/O; a task may name the style it is for (its targets are the worker's, built
on first use). Results come back in any order; the caller saves each as it arrives, so a rerun
skips every photo finished before a kill. A worker that dies is restarted by Ray and the photo it
held is made again (a pure function of the picture and the settings: the same result); one that
does not come back is dropped and the others go on. A photo that cannot be stylised (too thin at
this size, say) is reported as that photo's failure and the batch goes on, as in one process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from ..config import VideoConfig
from ..engine.weights import load_state_dict, resolve_weights
from ..errors import StylevidError
from .cluster import MAX_RESTARTS, Workers, check_ray_installed, connect, start_workers, wait_for_restart
from .worker import WorkerSetup

T = TypeVar("T")

#: Seconds to wait for a killed worker to come back.
RESTART_WAIT = 300.0
#: Calls queued on each worker, so that it never waits for the driver between two pictures.
DEPTH = 2


@dataclass(frozen=True)
class Task:
    """One call on a worker: a :class:`.worker.StyleWorker` method and its arguments (pictures,
    numpy arrays, go through the object store)."""

    method: str  # "photo" or "image"
    arguments: tuple[Any, ...]


@dataclass
class FannedOut:
    """What came back for one item: the worker's result or the error that stopped it."""

    key: Any  # the caller's key for the item
    loaded: Any  # what ``load`` returned for it (the picture and whatever the caller needs to save it)
    result: Any = None
    error: StylevidError | None = None
    worker: int = 0
    seconds: float = 0.0  # from hand-out to return


@dataclass
class WorkerPool:
    """The Ray workers of a fan-out run and what each did (run.json's ``scale_out.workers``)."""

    workers: Workers
    address: str
    described: list[dict[str, Any]] = field(default_factory=list)
    items: list[int] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)
    restarts: list[int] = field(default_factory=list)
    alive: list[bool] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        return [
            {
                "worker": i,
                **{k: d.get(k) for k in ("device", "device_name", "host", "threads", "precision")},
                "items": self.items[i],
                "busy_seconds": self.busy[i],
                "items_per_second": self.items[i] / self.busy[i] if self.busy[i] else None,
                "restarts": self.restarts[i],
                "lost": not self.alive[i],
            }
            for i, d in enumerate(self.described)
        ]


def start_pool(config: VideoConfig, styles: list[np.ndarray]) -> WorkerPool:
    """Start (or join) Ray and one worker per device with the engine of ``config`` and ``styles``."""
    check_ray_installed()
    import ray

    address, resources = connect(config.cluster)
    spec = resolve_weights(config.style.weights, config.style.weights_format)
    state = load_state_dict(spec)
    workers = start_workers(WorkerSetup(config, styles, state, spec.convention), config, resources, address)
    pool = WorkerPool(workers, address)
    pool.described = [ray.get(actor.describe.remote()) for actor in workers.actors]
    count = len(workers.actors)
    pool.items, pool.busy, pool.restarts, pool.alive = [0] * count, [0.0] * count, [0] * count, [True] * count
    return pool


def fan_out(
    pool: WorkerPool,
    keys: Sequence[T],
    load: Callable[[T], Any],
    task_of: Callable[[Any], Task],
    stop_requested: Callable[[], bool],
) -> Iterator[FannedOut]:
    """Run ``task_of(load(key))`` for every key on the pool's workers; yields each as it comes back.
    ``load`` runs in the driver just before its item is handed out; a StylevidError it raises is that
    item's failure. Once ``stop_requested()``, nothing more is handed out and the items in flight are
    finished."""
    import ray
    from ray.exceptions import RayActorError, RayTaskError

    actors = pool.workers.actors
    waiting = list(keys)
    waiting.reverse()  # popped from the end: in order
    again: list[FannedOut] = []  # lost with a worker: handed out again first
    in_flight: dict[Any, tuple[int, FannedOut, float]] = {}
    attempts: dict[int, int] = {}

    def load_next() -> FannedOut | None:
        while again or waiting:
            if again:
                return again.pop()
            key = waiting.pop()
            try:
                return FannedOut(key, load(key))
            except StylevidError as error:
                failed.append(FannedOut(key, None, error=error))
        return None

    failed: list[FannedOut] = []
    while True:
        if not stop_requested():
            # round by round, one more to each worker: a few items (the styles of one image) go one to a worker
            for depth in range(1, DEPTH + 1):
                for index, actor in enumerate(actors):
                    if not pool.alive[index] or sum(1 for w, _, _ in in_flight.values() if w == index) >= depth:
                        continue
                    item = load_next()
                    if item is None:
                        break
                    task = task_of(item.loaded)
                    arguments = [ray.put(a) if isinstance(a, np.ndarray) else a for a in task.arguments]
                    ref = getattr(actor, task.method).remote(*arguments)
                    in_flight[ref] = (index, item, time.perf_counter())
        while failed:
            yield failed.pop(0)
        if not in_flight:
            return
        ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)
        for ref in ready:
            index, item, sent = in_flight.pop(ref)
            try:
                done = ray.get(ref)
            except RayActorError as error:
                attempts[id(item)] = attempts.get(id(item), 0) + 1
                if pool.alive[index]:
                    before = pool.described[index].get("pid")
                    described = wait_for_restart(actors[index], RESTART_WAIT)
                    if described is None:
                        pool.alive[index] = False
                    else:
                        pool.described[index] = described
                        pool.restarts[index] += described.get("pid") != before  # one restart, calls lost
                if not any(pool.alive) or attempts[id(item)] > MAX_RESTARTS:
                    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                    raise StylevidError(
                        f"worker {index + 1} died for good ({reason}); every finished picture is kept — run the "
                        "same command again to resume"
                    ) from None
                again.append(item)
                continue
            except RayTaskError as error:
                cause = getattr(error, "cause", None)
                if isinstance(cause, StylevidError):
                    item.error, item.worker = cause, index
                    yield item
                    continue
                raise
            item.result, item.worker = done, index
            item.seconds = time.perf_counter() - sent
            pool.items[index] += 1
            pool.busy[index] += float(done.stats.get("seconds", 0.0))
            yield item


def stop_pool(pool: WorkerPool) -> None:
    import ray

    for actor in pool.workers.actors:
        ray.kill(actor)
