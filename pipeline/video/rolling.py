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
Every frame keeps its own L-BFGS history and its own loss normalisation (``LBFGS.restart`` when a
slot is reused), so a frame steps as it would in a run of its own with the same losses.

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

from ..engine.cuda_graph import GraphedEvaluation
from .frame_pairs import PreparedFrame, warp_into
from ..io.images import to_tensor
from ..engine.lbfgs import LBFGS
from ..engine.losses import temporal_loss
from ..engine.optimize import TERMS, EarlyStop
from ..engine.transfer import StyleTransfer
from ..motion.warp import warp

StageReport = Callable[[list[int], int, dict[str, float]], None]  # (positions in flight, iterations of the oldest, summed losses)


@dataclass
class RollingSettings:
    slots: int  # K: frames in flight at once
    frame_iters: int  # F: iterations of every frame (rounded up to whole steps)
    temporal_weight: float  # λ_t; 0 → no temporal term
    early_stop: EarlyStop | None  # a frame may leave once its loss stopped improving
    from_previous: bool = True  # start each frame from its predecessor (warped by the flow if warp_init)
    warp_init: bool = True  # "prev-warped" (else "prev": the predecessor as it is)

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
        if engine.config.optimizer != "lbfgs":
            raise ValueError("the rolling batch needs the L-BFGS optimiser")
        self.engine, self.settings = engine, settings
        k, dev = settings.slots, engine.device
        self.x = torch.zeros(k, 3, height, width, device=dev, requires_grad=True)
        self.optimiser = LBFGS(self.x, history_size=engine.config.history_size, lr=engine.config.lr or 1.0, batched=True)
        self._content_rgb = torch.zeros(k, 3, height, width, device=dev)
        self._content_target: torch.Tensor | None = None  # (K, C, h, w), made at the first admission
        self._fixed_target = torch.zeros(k, 3, height, width, device=dev)  # finished predecessors, warped
        self._flows = torch.zeros(k, 2, height, width, device=dev)
        self._reliable = torch.zeros(k, 1, height, width, device=dev)
        self._predecessor = torch.arange(k, device=dev)  # slot of the predecessor in flight (own slot if none)
        self._live = torch.zeros(k, 1, 1, 1, dtype=torch.bool, device=dev)  # predecessor still in flight
        self._active = torch.zeros(k, device=dev)
        self._scale = torch.ones(k, device=dev)  # 1 / loss at admission: every frame normalised by its own start
        self._fresh = torch.zeros(k, dtype=torch.bool, device=dev)
        self._beta: float | None = None
        self._in_flight: list[_Flight] = []  # in frame order, oldest first
        # --cuda-graphs: the objective replayed from a graph recorded once per batch (all slots, all frames)
        self._graphed = GraphedEvaluation(self.x, self._evaluate) if engine.cuda_graphs else None

    # --- the objective -----------------------------------------------------------------------------
    def _terms(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        assert self._content_target is not None and self._beta is not None
        terms = self.engine.paper_terms(image, self._content_target, self._beta)
        if self.settings.temporal_weight > 0:
            moving = warp(image[self._predecessor], self._flows)
            target = torch.where(self._live, moving, self._fixed_target)
            terms["temporal"] = self.settings.temporal_weight * temporal_loss(image, target, self._reliable)
        terms = {name: value * self._active for name, value in terms.items()}
        terms["total"] = sum(terms.values())
        return terms

    def _evaluate(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(scaled objective, (TERMS, K) loss terms per slot) of the batch now; gradient in x.grad.

        Reads and writes only buffers updated in place, so that it can be replayed from a CUDA graph."""
        terms = self._terms(self.x)
        total = terms["total"]
        self._scale.copy_(torch.where(self._fresh, 1.0 / total.detach().clamp_min(1e-30), self._scale))
        self._fresh.zero_()
        objective = (total * self._scale).sum()
        objective.backward()
        values = torch.stack([terms[t].detach() if t in terms else torch.zeros_like(total) for t in TERMS])
        return objective.detach(), values

    def _objective(self, log: torch.Tensor, row: int) -> torch.Tensor:
        objective, values = self._graphed() if self._graphed is not None else self._evaluate()
        log[row].copy_(values)
        return objective

    @property
    def replayed(self) -> int:
        """Evaluations replayed from the CUDA graph (0 without --cuda-graphs)."""
        return self._graphed.replays if self._graphed is not None else 0

    @property
    def graph_failure(self) -> str | None:
        """Why no CUDA graph could be recorded, if one was asked for."""
        return self._graphed.failure if self._graphed is not None else None

    def release(self) -> None:
        """Free the CUDA graph of the objective and its memory (a later step would record it again)."""
        if self._graphed is not None:
            self._graphed.release()

    # --- frames in and out -----------------------------------------------------------------------
    def admit(self, prepared: PreparedFrame, previous: np.ndarray | None, seed: int) -> None:
        """Put the next frame in a free slot; ``previous`` is the stylised frame before it when that
        one has already left (None: it is in flight, or this is an independent frame)."""
        engine, settings = self.engine, self.settings
        used = {f.slot for f in self._in_flight}
        slot = next(s for s in range(settings.slots) if s not in used)
        newest = self._in_flight[-1] if self._in_flight else None
        content_rgb, content_target = engine.content_targets([prepared.content])
        if self._content_target is None:
            self._content_target = torch.zeros(settings.slots, *content_target.shape[1:], device=engine.device)
            self._beta = engine.style_weight_for(prepared.content)
        flow = prepared.flow_bw
        tied = settings.temporal_weight > 0 and settings.from_previous  # a temporal term towards its predecessor
        with torch.no_grad():
            if not settings.from_previous:
                start = engine.initial_image(engine.config.init, prepared.content, seed)
            elif newest is not None:  # the predecessor is in flight: start from it as it is now
                start = self.x[newest.slot : newest.slot + 1].detach()
                start = warp(start, flow.to(start.device)) if settings.warp_init else start.clone()
            else:
                assert previous is not None, "a frame that follows another needs the stylised frame before it"
                start = engine.initial_image(warp_into(previous, flow) if settings.warp_init else previous, prepared.content, seed)
            self.x[slot].copy_(start[0].clamp(0, 1))
            self._content_rgb[slot].copy_(content_rgb[0])
            self._content_target[slot].copy_(content_target[0])
            if tied:
                self._flows[slot].copy_(flow[0])
                self._reliable[slot].copy_(prepared.reliable[0])
                if newest is not None:
                    self._predecessor[slot] = newest.slot
                    self._live[slot] = True
                else:
                    self._fix_target(slot, previous, flow)
            self._active[slot] = 1.0
            self._fresh[slot] = True
        self.optimiser.restart([slot])
        follows = newest.slot if tied and newest is not None else None
        self._in_flight.append(_Flight(prepared, slot, follows))

    def _fix_target(self, slot: int, picture: np.ndarray, flow: torch.Tensor) -> None:
        fixed = to_tensor(warp_into(picture, flow), self.engine.device)
        self._fixed_target[slot].copy_(self.engine.working_image(fixed)[0])
        self._live[slot] = False
        self._predecessor[slot] = slot

    @property
    def in_flight(self) -> list[int]:
        """Positions of the frames in flight, oldest first."""
        return [f.prepared.frame.position for f in self._in_flight]

    def run_step(self, report: StageReport | None = None) -> list[Finished]:
        """Optimise every frame in flight for one step; returns the frames that left, in order."""
        if not self._in_flight:
            raise RuntimeError("no frame in flight")
        steps, began, replayed_before = self.settings.step, time.perf_counter(), self.replayed
        log = torch.zeros(steps, len(TERMS), self.settings.slots, device=self.x.device)
        for row in range(steps):
            self.optimiser.step(lambda row=row: self._objective(log, row))
            with torch.no_grad():
                self.x.clamp_(0, 1)
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
        with torch.no_grad():
            final = {name: value.float().cpu().tolist() for name, value in self._terms(self.x).items()}
        finished = []
        for flight, early in leaving:
            slot = flight.slot
            picture = self.engine.output_picture(self.x[slot : slot + 1], self._content_rgb[slot : slot + 1])
            terms = {t: final[t][slot] if t in final else 0.0 for t in TERMS}
            finished.append(Finished(flight.prepared, picture, terms, flight.age, flight.seconds, early,
                                     replayed=flight.replayed))
            self._in_flight.remove(flight)
            with torch.no_grad():
                self._active[slot] = 0.0
                for successor in self._in_flight:  # its successor now follows a finished picture
                    if successor.follows == slot:
                        self._fix_target(successor.slot, picture, successor.prepared.flow_bw)
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
            while (batch.free_slots() and upcoming is not None and not stop_admitting()
                   and (filled or since_entry >= settings.stage or not batch.in_flight)):
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
