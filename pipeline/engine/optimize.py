"""The optimisation loop: pixels of an image batch are optimised to minimise a loss function.

It knows nothing of VGG or styles — it takes ``loss(image) -> {"total": (B,), term: (B,) …}``
(an :class:`~.objective.Objective`, or any function) — and never prints: progress goes to an
``on_report`` callback. Loss values stay on the device between reports, so a GPU run syncs with
the host only every ``report_every`` iterations.

:class:`Optimisation` is the one loop: :func:`optimize` runs it over a whole picture or block of
frames, and the rolling batch of video frames steps it, restarting a batch item whenever a new
frame takes its slot.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import torch

from ..errors import StylevidError
from . import lbfgs
from .cuda_graph import GraphedEvaluation
from .terms import LOSS_TERMS

#: --history-dtype names and the storage type of the L-BFGS pairs
HISTORY_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}

TERMS = LOSS_TERMS  # recorded per iteration, in this order (weighted contributions; total = their sum)

LossFn = Callable[[torch.Tensor], Mapping[str, torch.Tensor]]
ReportFn = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class EarlyStop:
    """Stop when the total loss fell by less than ``tolerance`` (relative) over ``window`` iterations."""

    window: int = 20  # iterations between two checks
    tolerance: float = 2e-3  # relative improvement below which the run stops
    min_iters: int = 20  # never stop before this many iterations

    def stalled(self, now: float, before: float) -> bool:
        """True when the loss ``now`` is not ``tolerance`` below the loss ``window`` iterations ``before``."""
        return not (now < before * (1.0 - self.tolerance))


@dataclass(frozen=True)
class OptimiserSettings:
    """How the pixels are stepped."""

    method: str = "lbfgs"  # "lbfgs" or "adam"
    lr: float | None = None  # None: 1 for L-BFGS, 0.02 for Adam
    history_size: int = 100  # L-BFGS curvature pairs
    fast_lbfgs: bool = False  # the sync-free L-BFGS (engine/lbfgs.py) also for a single picture
    cuda_graphs: bool = False  # replay the loss and gradient from a CUDA graph (CUDA images only)
    history_dtype: str = "fp32"  # L-BFGS pairs stored as "fp32", "bf16" or "fp16" (maths in fp32; engine/lbfgs.py)
    # L-BFGS: each step scaled down to at most this RMS change per pixel (0–1 scale); 0 → uncapped,
    # torch.optim.LBFGS's fixed step (engine/lbfgs.py, "max_step_rms")
    max_step: float = 0.0

    def for_iterations(self, iters: int) -> OptimiserSettings:
        """These settings for one optimisation of ``iters`` iterations: it forms fewer than ``iters``
        curvature pairs, so a longer history would never fill (and the engine's L-BFGS allocates
        all of it at the start; pipeline/budget.py counts the same)."""
        return replace(self, history_size=min(self.history_size, iters))


#: A cold start's first L-BFGS step, as a share of the step cap (RMS change per pixel): with no
#: curvature pair yet, L-BFGS's own first step min(1, 1/|g|₁) is so short that the first iterations
#: are lost (docs/method.md "The first step", where this share was measured). 0: L-BFGS's own.
COLD_FIRST_STEP = 0.5


@dataclass
class OptimizeResult:
    image: torch.Tensor  # (B, 3, H, W) final image, 0–1, detached
    history: list[dict[str, float]]  # per iteration (0 = init): loss of the image after that many steps, batch summed
    final_terms: list[dict[str, float]]  # loss terms of the final image, one dict per batch item
    # (iteration, what ``Optimisation.run``'s ``snapshot`` made of the image batch; by default a CPU copy)
    snapshots: list[tuple[int, Any]] = field(default_factory=list)
    iterations: int = 0  # iterations actually run
    stopped_early: bool = False
    replayed: int = 0  # iterations whose loss and gradient were replayed from a CUDA graph
    graph_failure: str | None = None  # why the CUDA graph could not be recorded (the run went on eagerly)
    # per item: L-BFGS's last inverse-curvature estimate γ = sᵀy / yᵀy for the unscaled loss, the
    # step length a later optimisation of a like problem can start with (``first_step``); None
    # when not known (Adam, or fewer than two L-BFGS iterations)
    step_scales: list[float | None] = field(default_factory=list)


class Stepper(Protocol):
    def step(self, closure: Callable[[], torch.Tensor]) -> object: ...


class Optimisation:
    """The pixels of an image batch being optimised, each batch item as if it were alone.

    Every item's loss is divided by its own value at the start (see :meth:`_evaluate`) and, with
    L-BFGS on several items, keeps its own history. :meth:`step` runs one iteration; :meth:`run`
    a whole optimisation. With ``slots`` the items are slots that problems enter and leave (the
    rolling batch of video frames): they start idle, :meth:`restart` puts a new problem in one
    and :meth:`retire` idles it again; an idle item's loss counts nothing.

    With ``settings.cuda_graphs`` (and a CUDA image) the loss and gradient are recorded as a CUDA
    graph after two eager evaluations and replayed from then on (:mod:`.cuda_graph`): ``loss``
    must then read only tensors that keep their storage, and never sync the host.
    """

    def __init__(
        self,
        image: torch.Tensor,
        loss: LossFn,
        settings: OptimiserSettings = OptimiserSettings(),
        *,
        slots: bool = False,
        first_step: float | None = None,
        cold: bool = False,
    ) -> None:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"image must be (B, 3, H, W), got {tuple(image.shape)}")
        x = image.detach().clone(memory_format=torch.contiguous_format).clamp_(0, 1).requires_grad_(True)
        self.image = x  # updated in place
        self.loss = loss
        self._stepper = _make_stepper(x, settings, per_item=slots, cold=cold and first_step is None)
        items, device = x.shape[0], x.device
        self._scale: torch.Tensor | None = None  # 1 / loss at the start, per item (made at the first evaluation)
        self._fresh = torch.full((items,), not slots, dtype=torch.bool, device=device)  # scale due at next evaluation
        self._active = torch.zeros(items, device=device) if slots else None  # 1: a problem is in the slot
        graphs = settings.cuda_graphs and device.type == "cuda"
        self._graphed = GraphedEvaluation(x, _weakly(self._evaluate)) if graphs else None
        # No ``self._evaluate`` kept on self, not even through the GraphedEvaluation: a bound method
        # stored on its own object is a reference cycle, and the cycle kept each optimisation (its
        # objective's Gram targets, the L-BFGS history: ~2 MB a frame at --size 32, 5 GB at 1080p)
        # alive until a full garbage collection, which Python runs rarely. Resident memory of a
        # long video run grew by ~100 kB a frame for it (benchmarks/soak.py, issue 18;
        # docs/performance.md "Long runs"), and on the first GPU run a graphed image left its whole
        # L-BFGS history allocated after it returned (benchmarks/gpu_leftover_memory.py).
        self._settings, self._slots = settings, slots
        self._first_step = _checked_first_step(first_step, settings, slots)
        self._steps = 0  # iterations since the optimiser was made

    # --- one evaluation, one step ----------------------------------------------------------------
    def _evaluate(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(scaled objective, (TERMS, B) loss terms per item) of the image now; gradient in image.grad.

        Reads and writes only buffers updated in place, so that it can be replayed from a CUDA graph.
        """
        # L-BFGS's first step is min(1, 1/|g|₁) and its curvature pairs come from gradient changes:
        # with paper-scale losses (1e10–1e14) that step is so small that the change in gradient is
        # below fp32 resolution and the curvature estimate is noise. Dividing the objective by its
        # value at the start (a positive constant) keeps the optimum and all later iterates'
        # geometry, and makes the first step sane. Records keep the unscaled values. Each item is
        # divided by its own starting value, so that with per-item L-BFGS histories every item
        # steps exactly as it would alone.
        x = self.image
        x.grad = None
        terms = self.loss(x)
        if self._active is not None:
            terms = {name: value * self._active for name, value in terms.items()}
        total = terms["total"]
        if self._scale is None:
            self._scale = torch.ones_like(total.detach())
        self._scale.copy_(torch.where(self._fresh, 1.0 / total.detach().clamp_min(1e-30), self._scale))
        objective = (total * self._scale).sum()
        objective.backward()
        self._fresh.zero_()  # last: an evaluation that raised before here may be repeated
        values = torch.stack([terms[t].detach() if t in terms else torch.zeros_like(total) for t in TERMS])
        return objective.detach(), values

    def step(self, record: torch.Tensor) -> None:
        """One iteration of every item; ``record`` (TERMS, B) receives the loss terms before it."""

        def closure() -> torch.Tensor:
            objective, values = self._graphed() if self._graphed is not None else self._evaluate()
            record.copy_(values)
            return objective

        self._stepper.step(closure)
        self._steps += 1
        if self._steps == 1 and self._first_step is not None:
            self._lengthen_first_step(self._first_step)
        with torch.no_grad():
            self.image.clamp_(0, 1)

    def _lengthen_first_step(self, first_step: float) -> None:
        """Redo L-BFGS's first step as ``first_step`` · (−gradient of the unscaled loss).

        With no curvature pair yet, L-BFGS steps min(1, 1/|g|₁) along −g: a safe but tiny step that
        leaves the loss where it was, so the first iteration of every optimisation is spent
        learning the curvature. A coarse-to-fine stage knows it already (the stage before's γ,
        :attr:`step_scales`; the unscaled loss's curvature per pixel hardly depends on the picture
        size, docs/method.md "Coarse-to-fine"), and its first iteration can count.
        """
        assert self._scale is not None
        lengths = first_step / self._scale  # per item, for the scaled objective being stepped
        stepper = self._stepper
        with torch.no_grad():
            if isinstance(stepper, lbfgs.LBFGS):
                stepper.lengthen_first_step(lengths)
            else:  # torch.optim.LBFGS moved the image by t·d, d = −g; the pair it forms next uses t·d
                state = stepper.state[self.image]  # type: ignore[attr-defined]
                length = float(lengths[0])
                self.image.view(-1).add_(state["d"], alpha=length - float(state["t"]))
                state["t"] = length

    def step_scales(self) -> list[float | None]:
        """Per item, L-BFGS's current γ (sᵀy / yᵀy of the newest accepted pair) for the unscaled loss;
        None where there is none yet (fewer than two iterations, or not L-BFGS)."""
        stepper = self._stepper
        if self._scale is None or self._steps < 2:
            return [None] * self.image.shape[0]
        scale = self._scale.detach().cpu().tolist()
        if isinstance(stepper, lbfgs.LBFGS):
            gammas: list[float | None] = list(stepper.curvature_scales())
        elif isinstance(stepper, torch.optim.LBFGS):
            gamma = stepper.state[self.image].get("H_diag")
            gammas = [float(gamma) if gamma is not None else None]
        else:
            return [None] * self.image.shape[0]
        return [None if g is None else g * s for g, s in zip(gammas, scale)]

    def terms(self) -> dict[str, torch.Tensor]:
        """The loss terms per item of the image now (0 for idle slots); no gradient."""
        with torch.no_grad():
            terms = dict(self.loss(self.image))
        if self._active is not None:
            terms = {name: value * self._active for name, value in terms.items()}
        return terms

    # --- items coming and going ------------------------------------------------------------------
    def restart(self, item: int, start: torch.Tensor) -> None:
        """Put a new problem in batch item ``item``, starting from ``start`` (1, 3, H, W): its L-BFGS
        history is forgotten and its loss normalised afresh; the other items go on undisturbed."""
        if not isinstance(self._stepper, lbfgs.LBFGS) or not self._stepper.batched:
            raise ValueError("restarting one item needs per-item L-BFGS histories (slots=True)")
        with torch.no_grad():
            self.image[item].copy_(start[0].clamp(0, 1))
            self._fresh[item] = True
            if self._active is not None:
                self._active[item] = 1.0
        self._stepper.restart([item])

    def renew(
        self,
        start: torch.Tensor,
        first_step: float | None = None,
        settings: OptimiserSettings | None = None,
        cold: bool = False,
    ) -> None:
        """Start the whole optimisation again from ``start`` (same shape as the image), with a fresh
        optimiser (stepping as ``settings`` say, if given) and loss normalisation, keeping its CUDA
        graph (its targets are the loss's to renew)."""
        with torch.no_grad():
            self.image.copy_(start.clamp(0, 1))
            self._fresh.fill_(True)
        self.image.grad = None
        if settings is not None:
            self._settings = settings
        cold = cold and first_step is None
        self._stepper = _make_stepper(self.image, self._settings, per_item=self._slots, cold=cold)
        self._first_step = _checked_first_step(first_step, self._settings, self._slots)
        self._steps = 0

    def retire(self, item: int) -> None:
        """Idle slot ``item``: its loss counts nothing until :meth:`restart`."""
        if self._active is None:
            raise ValueError("only an optimisation made with slots=True has items that retire")
        self._active[item] = 0.0

    # --- CUDA graph ---------------------------------------------------------------------------------
    @property
    def replayed(self) -> int:
        """Evaluations replayed from the CUDA graph (0 without one)."""
        return self._graphed.replays if self._graphed is not None else 0

    @property
    def recordings(self) -> int:
        """CUDA graphs recorded so far (0 without one)."""
        return self._graphed.recordings if self._graphed is not None else 0

    @property
    def graph_failure(self) -> str | None:
        """Why no CUDA graph could be recorded, if one was asked for."""
        return self._graphed.failure if self._graphed is not None else None

    def release(self) -> None:
        """Free the CUDA graph and its memory (a later step would record it again)."""
        if self._graphed is not None:
            self._graphed.release()

    # --- a whole run --------------------------------------------------------------------------------
    def run(
        self,
        iters: int,
        *,
        snapshot_at: Collection[int] = (),
        on_report: ReportFn | None = None,
        report_every: int = 1,
        early_stop: EarlyStop | None = None,
        keep_graph: bool = False,
        snapshot: Callable[[torch.Tensor], Any] | None = None,
    ) -> OptimizeResult:
        """Up to ``iters`` iterations; snapshot iteration 0 is the image before them. ``snapshot``
        makes what a snapshot keeps of the (detached) image batch; by default a CPU copy of it.

        Reports and the early stop see the batch's summed losses. The CUDA graph is released at the
        end unless ``keep_graph`` (for a :meth:`renew` and run again; the result's image is then a copy).
        """
        if iters < 1:
            raise StylevidError(f"iterations must be positive, got {iters}")
        x = self.image
        records = torch.zeros(iters + 1, len(TERMS), x.shape[0], device=x.device)  # [k]: the loss after k steps
        snapshots: list[tuple[int, Any]] = []
        wanted = set(snapshot_at)
        keep = snapshot if snapshot is not None else _cpu_copy
        if 0 in wanted:
            snapshots.append((0, keep(x.detach())))
        done, replayed_before = 0, self.replayed
        stopped_early = False
        try:
            while done < iters:
                self.step(records[done])
                done += 1
                if done in wanted:
                    snapshots.append((done, keep(x.detach())))
                if on_report is not None and (done % report_every == 0):
                    on_report(done, dict(zip(TERMS, records[done - 1].sum(dim=1).tolist())))
                if early_stop is not None and done % early_stop.window == 0 and done >= early_stop.min_iters:
                    # compare the loss now with `window` steps before
                    now = records[done - 1, 0].sum().item()
                    before = records[max(0, done - 1 - early_stop.window), 0].sum().item()
                    if early_stop.stalled(now, before):
                        stopped_early = True
                        break
        finally:
            if not keep_graph:
                self.release()
        final = self.terms()
        records[done].copy_(torch.stack([final[t] if t in final else torch.zeros_like(final["total"]) for t in TERMS]))
        history_rows = records[: done + 1].sum(dim=2).cpu().tolist()
        history = [{"iteration": i, **dict(zip(TERMS, row))} for i, row in enumerate(history_rows)]
        if on_report is not None:
            on_report(done, dict(zip(TERMS, history_rows[done])))
        final_cpu = records[done].cpu().tolist()  # (TERMS, B)
        final_terms = [{t: final_cpu[row][b] for row, t in enumerate(TERMS)} for b in range(x.shape[0])]
        if done not in {s[0] for s in snapshots} and (done in wanted or stopped_early):
            snapshots.append((done, keep(x.detach())))
        image = x.detach().clone() if keep_graph else x.detach()
        replayed = self.replayed - replayed_before
        return OptimizeResult(
            image,
            history,
            final_terms,
            snapshots,
            done,
            stopped_early,
            replayed,
            self.graph_failure,
            step_scales=self.step_scales(),
        )


def _cpu_copy(image: torch.Tensor) -> torch.Tensor:
    return image.cpu().clone()


def optimize(
    image: torch.Tensor,
    loss_fn: LossFn,
    *,
    iters: int,
    method: str = "lbfgs",
    lr: float | None = None,
    history_size: int = 100,
    fast_lbfgs: bool = False,
    cuda_graphs: bool = False,
    snapshot_at: Collection[int] = (),
    on_report: ReportFn | None = None,
    report_every: int = 1,
    early_stop: EarlyStop | None = None,
) -> OptimizeResult:
    """Minimise ``loss_fn`` over the pixels of ``image`` for up to ``iters`` iterations.

    Pixels are kept in 0–1 (clamped after every step). See :class:`Optimisation`.
    """
    settings = OptimiserSettings(method, lr, history_size, fast_lbfgs, cuda_graphs)
    return Optimisation(image, loss_fn, settings).run(
        iters, snapshot_at=snapshot_at, on_report=on_report, report_every=report_every, early_stop=early_stop
    )


class _Adam:
    def __init__(self, x: torch.Tensor, lr: float) -> None:
        self.optimiser = torch.optim.Adam([x], lr=lr)

    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        loss = closure()
        self.optimiser.step()
        return loss


def _checked_first_step(first_step: float | None, settings: OptimiserSettings, slots: bool) -> float | None:
    """``first_step``: a positive finite step length for L-BFGS's first iteration (None: its own rule)."""
    if first_step is None:
        return None
    if not (first_step > 0 and math.isfinite(first_step)):
        raise ValueError(f"first_step must be a positive finite number, got {first_step}")
    if settings.method != "lbfgs" or slots:
        raise ValueError("first_step is for L-BFGS on a whole batch (not Adam, not slots)")
    return first_step


def _weakly(method: Callable[[], Any]) -> Callable[[], Any]:
    """``method`` (bound) called through a weak reference to its object: no reference cycle."""
    reference = weakref.WeakMethod(method)

    def call() -> Any:
        bound = reference()
        if bound is None:
            raise RuntimeError("the optimisation this evaluation belonged to is gone")
        return bound()

    return call


def _make_stepper(x: torch.Tensor, settings: OptimiserSettings, *, per_item: bool, cold: bool = False) -> Stepper:
    """The optimiser of ``x``; ``per_item``: L-BFGS with one history per batch item, even for one;
    ``cold``: ``x`` starts far from the optimum, so with the step cap L-BFGS's first step is
    COLD_FIRST_STEP of the cap (engine/lbfgs.py, "first_step_rms")."""
    if settings.method == "lbfgs":
        own = settings.fast_lbfgs or settings.history_dtype != "fp32" or settings.max_step > 0
        first_step = settings.max_step * COLD_FIRST_STEP if cold else 0.0  # RMS per pixel; 0: L-BFGS's own
        if per_item or own or x.shape[0] > 1:
            # Several pictures: each batch item gets its own L-BFGS history, as if optimised alone
            # (torch.optim.LBFGS would mix their curvature into one history and converge slower).
            # A narrower history and the step cap are the engine's own L-BFGS's too.
            return lbfgs.LBFGS(
                x,
                history_size=settings.history_size,
                lr=settings.lr or 1.0,
                batched=True,
                history_dtype=HISTORY_DTYPES[settings.history_dtype],
                max_step_rms=settings.max_step or None,
                first_step_rms=first_step or None,
            )
        return torch.optim.LBFGS(
            [x],
            lr=settings.lr or 1.0,
            max_iter=1,
            history_size=settings.history_size,
            tolerance_grad=0.0,
            tolerance_change=0.0,
        )
    if settings.method == "adam":
        if per_item:
            raise StylevidError("items that restart need the L-BFGS optimiser")
        return _Adam(x, settings.lr or 0.02)
    raise StylevidError(f"optimizer must be lbfgs or adam, got {settings.method!r}")
