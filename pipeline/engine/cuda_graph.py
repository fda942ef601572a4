"""One loss-and-gradient evaluation, recorded once as a CUDA graph and replayed.

An iteration on a 512² image launches several hundred small kernels (VGG forward and backward,
Grams, losses). Launched one by one from Python, the GPU spends much of the iteration waiting for
the host; replayed from a graph they cost one launch. Only the evaluation is recorded, not the
optimiser's update, whose kernels take host-side arguments (ring-buffer slots) that change from
step to step.

What the evaluation must be, for its replays to be right:

* fixed shapes, and it reads only tensors that keep their storage between calls — the image
  being optimised (updated in place by the optimiser), targets, buffers updated with ``copy_``;
* no host synchronisation and no host-side branch on tensor values (after the eager calls);
* it leaves ``x.grad`` as ``None`` on entry and produces it with ``backward()``.

The first ``eager_calls`` evaluations run as usual: they fix whatever is decided once (the loss
scale, cuDNN's algorithm choice for these shapes, the allocator's blocks). The next one is
recorded. If recording fails, the evaluation stays eager for the rest of the run and
:attr:`GraphedEvaluation.failure` says why: a graph is a speed-up, never a reason to stop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import torch

Outputs = TypeVar("Outputs", bound=tuple)


class GraphedEvaluation(Generic[Outputs]):
    """Calls ``evaluate()`` eagerly ``eager_calls`` times, then replays it from a CUDA graph.

    ``evaluate`` returns a tuple of tensors and leaves the gradient in ``x.grad``; every call of
    this object returns the same and does the same. Replayed outputs live in the graph's memory:
    they are overwritten by the next call, so copy what must be kept.
    """

    def __init__(self, x: torch.Tensor, evaluate: Callable[[], Outputs], *, eager_calls: int = 2) -> None:
        if x.device.type != "cuda":
            raise ValueError(f"CUDA graphs need a CUDA tensor, got one on {x.device}")
        if eager_calls < 1:
            raise ValueError("at least one eager call is needed before recording (the first decides the loss scale)")
        self.x = x
        self.evaluate = evaluate
        self.eager_calls = eager_calls
        self.calls = 0  # evaluations so far
        self.replays = 0  # of which replayed from the graph
        self.failure: str | None = None  # why recording failed (then every call is eager)
        self._graph: torch.cuda.CUDAGraph | None = None
        self._outputs: Outputs | None = None
        self._grad: torch.Tensor | None = None

    def __call__(self) -> Outputs:
        self.calls += 1
        if self.failure is not None or self.calls <= self.eager_calls:
            return self.evaluate()
        if self._graph is None:
            self._record()
            if self._graph is None:
                return self.evaluate()
        assert self._outputs is not None and self._grad is not None
        self._graph.replay()
        self.x.grad = self._grad
        self.replays += 1
        return self._outputs

    def _record(self) -> None:
        # Driven by hand rather than with torch.cuda.graph(), whose exit skips restoring the
        # current stream when ending a failed capture raises: a failure must leave the run as it was.
        x = self.x
        x.grad = None
        # The graph gets a memory pool of its own: hand the eager iterations' cached blocks back
        # first, so that eager and graph memory are not both held (a 1080p frame on a 24 GB card).
        torch.cuda.synchronize(x.device)
        torch.cuda.empty_cache()
        current = torch.cuda.current_stream(x.device)
        side = torch.cuda.Stream(x.device)  # capture needs a stream other than the default one
        side.wait_stream(current)
        graph = torch.cuda.CUDAGraph()
        error: BaseException | None = None
        outputs = None
        with torch.cuda.stream(side):
            # "thread_local": the prefetch and writer threads of a video run may use CUDA meanwhile
            graph.capture_begin(capture_error_mode="thread_local")
            try:
                outputs = self.evaluate()
            except Exception as failure:  # noqa: BLE001 - the capture must be ended whatever happened
                error = failure
            try:
                graph.capture_end()
            except RuntimeError as failure:
                error = error or failure
        current.wait_stream(side)
        if error is None and x.grad is None:
            error = RuntimeError("the evaluation did not produce x.grad")
        if error is not None:
            x.grad = None
            if not isinstance(error, RuntimeError):  # a bug in the evaluation, not a capture limit
                raise error
            text = str(error).strip()
            self.failure = text.splitlines()[0] if text else type(error).__name__
            torch.cuda.synchronize(x.device)
            return
        self._graph, self._outputs, self._grad = graph, outputs, x.grad
        x.grad = None  # recording ran nothing: the replay that follows computes it

    def release(self) -> None:
        """Free the graph and its memory (the outputs and gradient of the last call go with it)."""
        if self._grad is not None and self.x.grad is self._grad:
            self.x.grad = None
        self._graph, self._outputs, self._grad = None, None, None
