"""The rolling batch: several consecutive video frames in flight, each at its own stage.

One frame at a time, every frame starts from its predecessor's *finished* result, so the
optimisation carries on from frame to frame; a GPU, though, is poorly used by one 854×480
frame. Starting K frames together (a block) fills the GPU but starts all of them from the same
finished frame, so the chain advances K times more slowly and neighbours are tied while all are
unfinished: 8–30% worse at equal iterations (docs/performance.md).

Here the K slots of one batch hold frames at staggered ages. While the batch fills, a frame
enters every ``stage`` ≈ F/K iterations (F: the frame budget); from then on a frame enters as soon
as one leaves — after F iterations, or earlier when its loss stalled — so in the steady state the
oldest frame, F iterations along, leaves every stage and the next frame enters, started from its
predecessor — the newest frame in flight — warped by the optical flow.
Each frame's temporal loss (Ruder et al. 2016) pulls it towards its predecessor as that one is
still being optimised (warped by the flow), or towards the finished picture once it has left.
The batch is one :class:`~..engine.optimize.Optimisation` of one :class:`~..engine.objective.Objective`
with K items: a frame entering a slot sets that item's targets and restarts it, so it keeps its own
L-BFGS history and its own loss normalisation and steps as it would in a run of its own with the
same losses.

A frame may also leave early, when its loss stopped improving (:class:`~.optimize.EarlyStop`),
but never before the frame before it: frames leave in order.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from ..engine.optimize import TERMS, EarlyStop, Optimisation
from ..engine.transfer import StyleTransfer
from ..motion.warp import warp
from .frame_pairs import PreparedFrame, warp_into

StageReport = Callable[
    [list[int], int, dict[str, float]], None
]  # (positions in flight, iterations of the oldest, summed losses)


@dataclass
class RollingSettings:
    slots: int  # K: frames in flight at once
    frame_iters: int  # F: iterations of every frame (rounded up to whole steps)
    temporal_weight: float  # λ_t; 0 → no temporal term
    early_stop: EarlyStop | None  # a frame may leave once its loss stopped improving
    from_previous: bool = True  # start each frame from its predecessor (warped by the flow if warp_init)
    warp_init: bool = True  # "prev-warped" (else "prev": the predecessor as it is)
    init_sampling: str = "bilinear"  # how the warped start is resampled (the temporal target stays bilinear)

    @property
    def step(self) -> int:
        """Iterations between two looks at the batch (who leaves, who enters): a stage, cut into
        equal parts no longer than the early-stop window, so a frame stops about when it would alone."""
        stage = math.ceil(self.frame_iters / self.slots)
        if self.early_stop is None:
            return stage
        return math.ceil(stage / math.ceil(stage / self.early_stop.window))

    @property
    def stage(self) -> int:
        """Iterations between two frames entering while the batch fills: ≈ F/K, whole steps."""
        return self.step * math.ceil(math.ceil(self.frame_iters / self.slots) / self.step)


@dataclass
class Finished:
    prepared: PreparedFrame
    picture: np.ndarray  # H×W×3 uint8 RGB
    final: dict[str, float]  # loss terms of the result (weighted)
    iterations: int
    seconds: float  # its share of the batch's wall time
    stopped_early: bool
    closes_run: bool = False  # the last frame out: nothing was in flight after it
    replayed: int = 0  # of its iterations, those whose evaluation was replayed from the CUDA graph


@dataclass
class _Flight:
    prepared: PreparedFrame
    slot: int
    follows: int | None = None  # slot of its predecessor while that one is in flight (the temporal target moves)
    age: int = 0  # iterations done
    totals: list[float] = field(default_factory=list)  # its total loss before each iteration
    seconds: float = 0.0
    replayed: int = 0  # iterations replayed from the CUDA graph


class RollingBatch:
    """Optimises a stream of consecutive frames with up to ``settings.slots`` in flight."""

    def __init__(self, engine: StyleTransfer, settings: RollingSettings, height: int, width: int) -> None:
        if engine.optimiser.method != "lbfgs":
            raise ValueError("the rolling batch needs the L-BFGS optimiser")
        self.engine, self.settings = engine, settings
        k, dev = settings.slots, engine.device
        # item k of the objective and of the optimisation is slot k; the temporal target of a frame
        # moves with its predecessor while that one is in flight
        self.objective = engine.objective(
            k, height, width, temporal_weight=settings.temporal_weight, moving_targets=True
        )
        # independent frames start cold, as they would alone (engine/lbfgs.py, "first_step_rms")
        cold = not settings.from_previous and engine.starts_cold(None)
        # --cuda-graphs: the evaluation is recorded once per batch (all slots, all frames) and replayed
        self.optimisation = Optimisation(
            torch.zeros(k, 3, height, width, device=dev), self.objective, engine.optimiser, slots=True, cold=cold
        )
        self._content_rgb = torch.zeros(k, 3, height, width, device=dev)
        self._in_flight: list[_Flight] = []  # in frame order, oldest first

    @property
    def replayed(self) -> int:
        """Evaluations replayed from the CUDA graph (0 without --cuda-graphs)."""
        return self.optimisation.replayed

    @property
    def graph_failure(self) -> str | None:
        """Why no CUDA graph could be recorded, if one was asked for."""
        return self.optimisation.graph_failure

    def release(self) -> None:
        """Free the CUDA graph of the objective and its memory (a later step would record it again);
        a graph that could not be recorded turns graphs off for the engine."""
        self.engine.note_graph_failure(self.graph_failure)
        self.optimisation.release()

    # --- frames in and out -----------------------------------------------------------------------
    def admit(self, prepared: PreparedFrame, previous: np.ndarray | None, seed: int) -> None:
        """Put the next frame in a free slot; ``previous`` is the stylised frame before it when that
        one has already left (None: it is in flight, or this is an independent frame)."""
        engine, settings = self.engine, self.settings
        used = {f.slot for f in self._in_flight}
        slot = next(s for s in range(settings.slots) if s not in used)
        newest = self._in_flight[-1] if self._in_flight else None
        content_rgb = engine.set_contents(self.objective, [prepared.content], items=[slot])
        tied = settings.temporal_weight > 0 and settings.from_previous  # a temporal term towards its predecessor
        motion = prepared.motion() if settings.from_previous else None
        with torch.no_grad():
            if motion is None:
                start = engine.initial_image(prepared.content, seed)
            elif newest is not None:  # the predecessor is in flight: start from it as it is now
                start = self.optimisation.image[newest.slot : newest.slot + 1].detach()
                flow = motion[0].to(start.device)  # (restart clamps the start to 0–1)
                start = warp(start, flow, mode=settings.init_sampling) if settings.warp_init else start.clone()
            else:
                assert previous is not None, "a frame that follows another needs the stylised frame before it"
                start = engine.initial_image(
                    prepared.content,
                    seed,
                    init=warp_into(previous, motion[0], settings.init_sampling) if settings.warp_init else previous,
                )
            self._content_rgb[slot].copy_(content_rgb[0])
        if tied:
            assert motion is not None
            if newest is not None:
                self.objective.follow(slot, newest.slot, *motion)
            else:
                assert previous is not None
                self._fix_target(slot, previous, *motion)
        self.optimisation.restart(slot, start)
        follows = newest.slot if tied and newest is not None else None
        self._in_flight.append(_Flight(prepared, slot, follows))

    def _fix_target(
        self, slot: int, picture: np.ndarray, flow: torch.Tensor, reliable: torch.Tensor | None = None
    ) -> None:
        """The frame in ``slot`` follows a finished ``picture``, warped into it by ``flow`` (and now
        compared where ``reliable``, if given)."""
        self.objective.set_temporal_target(slot, self.engine.to_working(warp_into(picture, flow)), reliable)

    @property
    def in_flight(self) -> list[int]:
        """Positions of the frames in flight, oldest first."""
        return [f.prepared.frame.position for f in self._in_flight]

    def run_step(self, report: StageReport | None = None) -> list[Finished]:
        """Optimise every frame in flight for one step; returns the frames that left, in order."""
        if not self._in_flight:
            raise RuntimeError("no frame in flight")
        steps, began, replayed_before = self.settings.step, time.perf_counter(), self.replayed
        log = torch.zeros(steps, len(TERMS), self.settings.slots, device=self.optimisation.image.device)
        for row in range(steps):
            self.optimisation.step(log[row])
        totals = log[:, 0].cpu()  # one wait for the device per step
        seconds = (time.perf_counter() - began) / len(self._in_flight)
        replayed = self.replayed - replayed_before
        for flight in self._in_flight:
            flight.age += steps
            flight.replayed += replayed
            flight.totals.extend(totals[:, flight.slot].tolist())
            flight.seconds += seconds
        if report is not None:
            summed = log[-1].sum(dim=1).tolist()
            report(self.in_flight, self._in_flight[0].age, dict(zip(TERMS, summed)))
        return self._leave()

    def _done(self, flight: _Flight) -> tuple[bool, bool]:
        """(leaves now, stopped early)."""
        if flight.age >= self.settings.frame_iters:
            return True, False
        rule = self.settings.early_stop
        if rule is None or flight.age < max(rule.min_iters, rule.window + 1):
            return False, False
        stalled = rule.stalled(flight.totals[-1], flight.totals[-1 - rule.window])
        return stalled, stalled

    def _leave(self) -> list[Finished]:
        leaving: list[tuple[_Flight, bool]] = []
        for flight in self._in_flight:  # in frame order: a frame never leaves before its predecessor
            done, early = self._done(flight)
            if not done:
                break
            leaving.append((flight, early))
        if not leaving:
            return []
        final = {name: value.float().cpu().tolist() for name, value in self.optimisation.terms().items()}
        finished = []
        for flight, early in leaving:
            slot = flight.slot
            image = self.optimisation.image[slot : slot + 1]
            picture = self.engine.output_picture(image, self._content_rgb[slot : slot + 1])
            terms = {t: final[t][slot] if t in final else 0.0 for t in TERMS}
            finished.append(
                Finished(flight.prepared, picture, terms, flight.age, flight.seconds, early, replayed=flight.replayed)
            )
            self._in_flight.remove(flight)
            self.optimisation.retire(slot)
            for successor in self._in_flight:  # its successor now follows a finished picture
                if successor.follows == slot:
                    self._fix_target(successor.slot, picture, successor.prepared.motion()[0])
                    successor.follows = None
        return finished

    def free_slots(self) -> int:
        return self.settings.slots - len(self._in_flight)


def stylize_rolling(
    batch: RollingBatch,
    frames: Iterator[PreparedFrame],
    previous: np.ndarray | None,
    *,
    seed_of: Callable[[int], int],
    stop_admitting: Callable[[], bool] = lambda: False,
    report: StageReport | None = None,
) -> Iterator[Finished]:
    """Stylise ``frames`` (consecutive, all after the frame whose stylised picture is ``previous``),
    yielding each as it leaves the batch, in order. While the batch fills, one frame enters per
    stage; once it is full, a frame enters whenever one leaves. Once ``stop_admitting()``
    (Ctrl-C), the frames in flight finish and no more enter; the last one out has ``closes_run``."""
    settings = batch.settings
    try:
        upcoming = next(frames, None)
        since_entry, filled = settings.stage, False
        while True:
            while (
                batch.free_slots()
                and upcoming is not None
                and not stop_admitting()
                and (filled or since_entry >= settings.stage or not batch.in_flight)
            ):
                batch.admit(upcoming, None if batch.in_flight else previous, seed_of(upcoming.frame.position))
                upcoming, since_entry = next(frames, None), 0
                filled = filled or not batch.free_slots()
            if not batch.in_flight:
                return
            finished = batch.run_step(report)
            since_entry += settings.step
            if finished and not batch.in_flight and (upcoming is None or stop_admitting()):
                finished[-1].closes_run = True
            for done in finished:
                previous = done.picture
                yield done
    finally:
        batch.release()
