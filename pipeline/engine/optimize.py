"""The optimisation loop: pixels of an image batch are optimised to minimise a loss function.

It knows nothing of VGG or styles — it takes ``loss_fn(image) -> {"total": (B,), term: (B,) …}``
— and never prints: progress goes to an ``on_report`` callback. Loss values stay on the device
between reports, so a GPU run syncs with the host only every ``report_every`` iterations.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

import torch

from .cuda_graph import GraphedEvaluation
from ..errors import StylevidError

#: Loss terms the loop records, in this order (weighted contributions; total = their sum).
TERMS = ("total", "content", "style", "tv", "temporal")

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


@dataclass
class OptimizeResult:
    image: torch.Tensor  # (B, 3, H, W) final image, 0–1, detached
    history: list[dict[str, float]]  # per iteration (0 = init): loss of the image after that many steps, batch summed
    final_terms: list[dict[str, float]]  # loss terms of the final image, one dict per batch item
    snapshots: list[tuple[int, torch.Tensor]] = field(default_factory=list)  # (iteration, CPU image copy)
    iterations: int = 0  # iterations actually run
    stopped_early: bool = False
    replayed: int = 0  # iterations whose loss and gradient were replayed from a CUDA graph
    graph_failure: str | None = None  # why the CUDA graph could not be recorded (the run went on eagerly)


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

    Pixels are kept in 0–1 (clamped after every step). Snapshot iteration 0 is the initial image.
    With ``cuda_graphs`` (and ``image`` on a CUDA device), the loss and gradient are recorded as
    a CUDA graph after two eager iterations and replayed from then on (:mod:`.cuda_graph`):
    ``loss_fn`` must then read only tensors that keep their storage, and never sync the host.
    """
    if image.dim() != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be (B, 3, H, W), got {tuple(image.shape)}")
    if iters < 1:
        raise StylevidError(f"iterations must be positive, got {iters}")
    x = image.detach().clone(memory_format=torch.contiguous_format).clamp_(0, 1).requires_grad_(True)
    step = _make_stepper(x, method, lr, history_size, fast_lbfgs)
    records = torch.zeros(iters + 1, len(TERMS), device=x.device)
    snapshots: list[tuple[int, torch.Tensor]] = []
    wanted = set(snapshot_at)
    if 0 in wanted:
        snapshots.append((0, x.detach().cpu().clone()))

    # L-BFGS's first step is min(1, 1/|g|₁) and its curvature pairs come from gradient changes:
    # with paper-scale losses (1e10–1e14) that step is so small that the change in gradient is
    # below fp32 resolution and the curvature estimate is noise. Dividing the objective by its
    # value at the start (a positive constant) keeps the optimum and all later iterates'
    # geometry, and makes the first step sane. Records keep the unscaled values.
    # In a batch each item is divided by its own starting value, so that with the per-item
    # L-BFGS histories every item steps exactly as it would alone.
    scale: list[torch.Tensor] = []

    def loss_and_grad() -> tuple[torch.Tensor, torch.Tensor]:
        """(scaled objective, row of TERMS) of the image now; leaves the gradient in x.grad."""
        x.grad = None
        terms = loss_fn(x)
        per_item = terms["total"]
        if not scale:
            scale.append(1.0 / per_item.detach().clamp_min(1e-30))
        objective = (per_item * scale[0]).sum()
        objective.backward()
        total = per_item.detach().sum()
        row = torch.stack([terms[t].detach().sum() if t in terms else total.new_zeros(()) for t in TERMS])
        return objective.detach(), row

    graphed = GraphedEvaluation(x, loss_and_grad) if cuda_graphs and x.device.type == "cuda" else None
    evaluation = graphed if graphed is not None else loss_and_grad

    def closure() -> torch.Tensor:
        objective, row = evaluation()
        records[done].copy_(row)  # the loss of the image after `done` steps
        return objective

    done = 0
    stopped_early = False
    try:
        while done < iters:
            step(closure)
            with torch.no_grad():
                x.clamp_(0, 1)
            done += 1
            if done in wanted:
                snapshots.append((done, x.detach().cpu().clone()))
            if on_report is not None and (done % report_every == 0):
                on_report(done, _row(records[done - 1]))
            if early_stop is not None and done % early_stop.window == 0 and done >= early_stop.min_iters:
                # records[k] is the loss after k steps: compare now with `window` steps before.
                now, before = records[done - 1, 0].item(), records[max(0, done - 1 - early_stop.window), 0].item()
                if early_stop.stalled(now, before):
                    stopped_early = True
                    break
    finally:
        if graphed is not None:
            graphed.release()
    with torch.no_grad():
        final = loss_fn(x)
    records[done].copy_(torch.stack([final[t].sum() if t in final else final["total"].new_zeros(()) for t in TERMS]))
    history_rows = records[: done + 1].cpu().tolist()
    history = [{"iteration": i, **dict(zip(TERMS, row))} for i, row in enumerate(history_rows)]
    if on_report is not None:
        on_report(done, dict(zip(TERMS, history_rows[done])))
    batch = x.shape[0]
    final_cpu = {t: final[t].detach().float().cpu().tolist() for t in TERMS if t in final}
    final_terms = [{t: final_cpu.get(t, [0.0] * batch)[b] for t in TERMS} for b in range(batch)]
    if done not in {s[0] for s in snapshots} and (done in wanted or stopped_early):
        snapshots.append((done, x.detach().cpu().clone()))
    replayed, failure = (graphed.replays, graphed.failure) if graphed is not None else (0, None)
    return OptimizeResult(x.detach(), history, final_terms, snapshots, done, stopped_early, replayed, failure)


def _row(values: torch.Tensor) -> dict[str, float]:
    return dict(zip(TERMS, values.tolist()))


def _make_stepper(x: torch.Tensor, method: str, lr: float | None, history_size: int, fast_lbfgs: bool):
    if method == "lbfgs":
        if fast_lbfgs or x.shape[0] > 1:
            # Several pictures: each batch item gets its own L-BFGS history, as if optimised alone
            # (torch.optim.LBFGS would mix their curvature into one history and converge slower).
            from .lbfgs import LBFGS

            fast = LBFGS(x, history_size=history_size, lr=lr or 1.0, batched=True)
            return fast.step
        reference = torch.optim.LBFGS([x], lr=lr or 1.0, max_iter=1, history_size=history_size,
                                      tolerance_grad=0.0, tolerance_change=0.0)
        return reference.step
    if method == "adam":
        adam = torch.optim.Adam([x], lr=lr or 0.02)

        def adam_step(closure: Callable[[], torch.Tensor]) -> torch.Tensor:
            loss = closure()
            adam.step()
            return loss

        return adam_step
    raise StylevidError(f"optimizer must be lbfgs or adam, got {method!r}")
