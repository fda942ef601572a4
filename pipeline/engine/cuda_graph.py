"""One loss-and-gradient evaluation, recorded once as a CUDA graph and replayed.

An iteration on a 512² image launches several hundred small kernels (VGG forward and backward,
Grams, losses). Launched one by one from Python, the GPU spends much of the iteration waiting for
the host; replayed from a graph they cost one launch. Only the evaluation is recorded, not the
optimiser's update: the update (engine/lbfgs.py) keeps its state in device tensors too, but it is
cheap next to the evaluation, and leaving it out keeps the graph independent of the optimiser.

What the evaluation must be, for its replays to be right:

* fixed shapes, and it reads only tensors that keep their storage between calls — the image
  being optimised (updated in place by the optimiser), targets, buffers updated with ``copy_``;
* no host synchronisation and no host-side branch on tensor values (after the eager calls);
* it leaves ``x.grad`` as ``None`` on entry and produces it with ``backward()``;
* if it raises, it has changed nothing that the next call reads (a call may be repeated).

The first ``eager_calls`` evaluations run as usual: they fix whatever is decided once (cuDNN's
algorithm choice for these shapes, the allocator's blocks). The last of them runs with
``torch.cuda.set_sync_debug_mode("error")``: an evaluation that syncs with the host would fail
to record, so it is never recorded. The next call is recorded. Eager calls and the recording run
on one capture stream per device, kept for the process (the pattern of PyTorch's whole-network
capture example): libraries that cache per stream (cuBLAS's workspace) set up once on it, not
inside each graph's memory pool. If checking or recording fails, the evaluation stays eager for
the rest of the run and :attr:`GraphedEvaluation.failure` says why: a graph is a speed-up, never
a reason to stop. After a failed recording, torch ≤ 2.11's caching allocator may still believe a
capture is under way, so the engine records no further graph in that process
(``StyleTransfer.graph_failure``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import torch

Outputs = TypeVar("Outputs", bound=tuple)

_capture_streams: dict[int, torch.cuda.Stream] = {}  # device index → the stream of every capture there


def capture_stream(device: torch.device) -> torch.cuda.Stream:
    """The stream on which ``device``'s graphs are recorded and their eager calls run (one per device).

    Capture needs a stream other than the default one. A new stream per capture would give cuBLAS a
    new (handle, stream) pair each time, whose workspace (≈32 MiB on Hopper) is made at the first
    matmul on it: inside the capture, in the graph's private pool."""
    index = device.index if device.index is not None else torch.cuda.current_device()
    if index not in _capture_streams:
        _capture_streams[index] = torch.cuda.Stream(index)
    return _capture_streams[index]


def clear_cublas_workspaces() -> None:
    """Drop cuBLAS's cached workspaces, where torch offers it (``torch._C._cuda_clearCublasWorkspaces``).

    Done right before and right after a recording, and when a graph is released: a workspace that
    cuBLAS makes during a recording lives in the graph's pool and must not stay cached for eager
    calls (which would share the graph's memory) nor outlive the graph; and no graph uses a
    workspace made outside its recording, which may then be dropped at any time."""
    clear = getattr(torch._C, "_cuda_clearCublasWorkspaces", None)
    if clear is not None:
        clear()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


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
            raise ValueError("at least one eager call is needed before recording (it checks for host syncs)")
        self.x = x
        self.evaluate = evaluate
        self.eager_calls = eager_calls
        self.calls = 0  # evaluations so far
        self.replays = 0  # of which replayed from the graph
        self.recordings = 0  # graphs recorded (one, unless released and recorded again)
        self.failure: str | None = None  # why no graph was recorded (then every call is eager)
        self._graph: torch.cuda.CUDAGraph | None = None
        self._outputs: Outputs | None = None
        self._grad: torch.Tensor | None = None

    def __call__(self) -> Outputs:
        self.calls += 1
        if self.failure is not None:
            return self.evaluate()
        if self.calls < self.eager_calls:
            return self._on_capture_stream()
        if self.calls == self.eager_calls:
            return self._checked_call()
        if self._graph is None:
            self._record()
            if self._graph is None:
                return self.evaluate()
        assert self._outputs is not None and self._grad is not None
        self._graph.replay()
        self.x.grad = self._grad
        self.replays += 1
        return self._outputs

    def _on_capture_stream(self) -> Outputs:
        """One eager evaluation on the capture stream, ordered after and before the current stream's work."""
        current = torch.cuda.current_stream(self.x.device)
        side = capture_stream(self.x.device)
        side.wait_stream(current)
        with torch.cuda.stream(side):
            outputs = self.evaluate()
        current.wait_stream(side)
        return outputs

    def _checked_call(self) -> Outputs:
        """An eager evaluation that fails on any host sync (then: no recording, and the call is repeated)."""
        # The mode is process-wide; a video run's other threads (prefetch, writer) work on the CPU.
        previous = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode("error")
        try:
            return self._on_capture_stream()
        except torch.cuda.OutOfMemoryError:
            raise
        except RuntimeError as error:  # "called a synchronizing CUDA operation", or a real error raised again below
            self.failure = f"the evaluation syncs with the host: {_first_line(error)}"
        finally:
            torch.cuda.set_sync_debug_mode(previous)
        self.x.grad = None
        return self.evaluate()

    def _record(self) -> None:
        # Driven by hand rather than with torch.cuda.graph(), whose exit skips restoring the
        # current stream when ending a failed capture raises: a failure must leave the run as it was.
        x = self.x
        x.grad = None
        # The graph gets a memory pool of its own: hand the eager iterations' cached blocks back
        # first, so that eager and graph memory are not both held (a 1080p frame on a 24 GB card).
        torch.cuda.synchronize(x.device)
        torch.cuda.empty_cache()
        clear_cublas_workspaces()
        current = torch.cuda.current_stream(x.device)
        side = capture_stream(x.device)
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
        clear_cublas_workspaces()
        if error is None and x.grad is None:
            error = RuntimeError("the evaluation did not produce x.grad")
        if error is not None:
            x.grad = None
            if not isinstance(error, RuntimeError):  # a bug in the evaluation, not a capture limit
                raise error
            self.failure = _first_line(error)
            torch.cuda.synchronize(x.device)
            return
        self._graph, self._outputs, self._grad = graph, outputs, x.grad
        self.recordings += 1
        x.grad = None  # recording ran nothing: the replay that follows computes it

    def release(self) -> None:
        """Free the graph and its memory (the outputs and gradient of the last call go with it)."""
        if self._grad is not None and self.x.grad is self._grad:
            self.x.grad = None
        had_graph = self._graph is not None
        self._graph, self._outputs, self._grad = None, None, None
        if had_graph:
            clear_cublas_workspaces()
