"""Sync-free L-BFGS for one large tensor (the image, or a batch of images, being optimised).

Drop-in replacement for ``torch.optim.LBFGS(params=[x], lr=lr, max_iter=1,
history_size=m, line_search_fn=None)`` called once per iteration, written so that an
iteration launches a fixed sequence of kernels and never waits for the device: no
``.item()``, no ``bool(tensor)``, no host-side branch on tensor data, no Python loop
over the history pairs.

Design
------
* History lives in one preallocated buffer ``W`` of shape ``(B, 2m, n)`` (B independent
  problems, see :class:`LBFGS`; below, one of them): rows ``[0, m)``
  hold the steps ``s_i`` and rows ``[m, 2m)`` the gradient differences ``y_i``. It is a
  ring buffer of *accepted* pairs, as in ``torch.optim.LBFGS``: the newest pair
  ``(s_k, y_k)`` waits in a separate buffer until ``y_k`` is known; then it is written into
  the slot ``head`` (the oldest pair's, or an empty one) and ``head`` moves on, unless the
  curvature test rejects it, in which case the slot gets its old pair back and ``head``
  stays. ``head`` is a device tensor per item (rejections differ between items and are
  known only on the device).
* ``d = -H g`` uses the compact representation of Byrd, Nocedal & Schnabel (1994)::

      H g = γ g + [S  γY] M [Sᵀg ; γ Yᵀg],
      M   = [[R⁻ᵀ(D + γ YᵀY) R⁻¹, -R⁻ᵀ], [-R⁻¹, 0]]

  with ``R = triu(SᵀY)`` in chronological order, ``D = diag(SᵀY)``, ``γ = sᵀy / yᵀy`` of
  the newest accepted pair (1 before any). This is algebraically the two-loop recursion
  of ``torch.optim.LBFGS`` with ``H0 = γ I``. Per iteration the big buffer is read
  twice: once for ``[y, g] @ Wᵀ`` (the new Gram column plus ``Sᵀg, Yᵀg``) and once for
  ``Wᵀ c``; everything else is O(n) or O(m²). (The two-loop recursion is inherently a
  chain of m dependent dot/axpy pairs — 4 passes over the history plus ~4m launches.)
* ``SᵀY`` and ``YᵀY`` (m×m) are updated incrementally: only the column of the new pair
  (``SᵀY[:, head]``, and row+column of ``YᵀY``) changes. Entries of ``SᵀY`` below the
  chronological diagonal go stale but are never read. Chronological order is obtained by
  gathering the small matrices with a precomputed rotation ``perm[head]`` (the oldest slot
  first).
* The ``ys > 1e-10`` curvature test of torch is done on the device, on ``sᵀy`` as the
  product with the ring computes it (so the test and the algebra see one value). Empty
  slots drop out exactly: their rows/columns in the gathered Gram matrices and in
  ``Sᵀg, Yᵀg`` are set to 0 and ``R`` gets a 1 on their diagonal, so ``R⁻¹`` is
  block-diagonal with an identity 1×1 block there and their coefficients come out exactly
  0. ``γ`` is only updated by accepted pairs.
* The k×k algebra (two triangular solves, one m×m matvec) runs in ``solve_dtype``
  (float64 by default; negligible cost). Measured on fp32 quadratics (n=3000,
  condition 1e2..1e6, m=20/100), the relative error of ``d`` against an fp64 two-loop on
  the same pairs was 1e-7..6e-7 with fp64 solves, up to 2.4e-6 with fp32 solves, and
  1e-7..1.7e-6 for an fp32 two-loop (torch): the compact form was not found fragile.

Differences from ``torch.optim.LBFGS``
--------------------------------------
* No stopping tests (``tolerance_grad`` / ``tolerance_change`` / ``gtd``): they need a
  host sync. The caller decides how many steps to run. (Equivalent to torch with both
  tolerances at -inf.) With a zero gradient the step is exactly zero.
* Only ``line_search_fn=None`` (fixed step: ``t = min(1, 1/|g|₁)·lr`` on the first
  iteration, ``lr`` after), ``max_iter=1`` per ``step`` call.
* ``max_step_rms`` (off by default): each item's step is scaled down, if need be, to that
  root-mean-square change per element. A line search would need the host; this cap does not. On
  style transfer the fixed step can overshoot by orders of magnitude when the first curvature
  pair is accepted (256² Tübingen × Starry Night: a step of RMS 0.33 and up to 4 on pixels that
  live in 0–1, the loss 68× its start), and the run spends the next ~20 iterations recovering.
  The pair stored is the step taken, so the history stays consistent.
* ``first_step_rms`` (off by default): an item's first step, which has no curvature pair to go
  by, moves it along ``-g`` by that root-mean-square change per element instead of
  ``min(1, 1/|g|₁)·lr``. For a start far from the optimum (noise, or the content picture of a
  style transfer) the default is so short that the first pair barely measures the curvature and the
  next steps stay short too: from noise at 128², 40 iterations ended 1.8× higher than with a first
  step of half the step cap (docs/method.md "The first step"). Near the optimum (a warm start)
  the default is the right one: a long first step there overshoots.
* ``step`` sets ``param.grad = None`` before calling the closure; the closure computes
  the loss, calls ``backward()`` and returns the loss.
* History in a narrower type (``history_dtype`` bfloat16 or float16; issue 20 item 3): the ring
  ``W`` is stored in that type, each row with its own fp32 scale (the row divided by its largest
  magnitude, so float16 neither overflows nor loses small gradients to underflow), and all maths
  stays in ``param.dtype``: the products with the ring upcast it a block of columns at a time (a
  fixed number of blocks, so an iteration still launches a fixed sequence of kernels; the
  temporary holds ``2m × block`` elements, about one image's worth). The newest pair is kept in
  full precision until it enters the ring; the products and the curvature test use the pair as
  stored. Half the history's bytes, at a cost in convergence measured in docs/performance.md.
* Precision of the two big products on CUDA: if fp32 matmuls may use TF32
  (``torch.backends.cuda.matmul.fp32_precision == "tf32"`` or legacy equivalents), the
  products are done with ``torch.mv`` (cuBLAS gemv, which does not use tensor cores)
  instead of one 2-column GEMM; this costs one extra read of ``W`` per iteration but
  keeps the inner products in IEEE fp32.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["LBFGS"]

_CURVATURE_EPS = 1e-10  # torch.optim.LBFGS accepts a pair only if s·y > 1e-10
#: dtypes the history may be stored in besides the parameter's own
HISTORY_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
#: a narrow history is upcast in blocks of at least this many columns (and of about n / 2m)
_MIN_BLOCK = 16384


def _reduced_precision_matmul(device: torch.device, dtype: torch.dtype) -> bool:
    """Host-only check: may an fp32 GEMM on ``device`` run with TF32 (or lower)?"""
    if device.type != "cuda" or dtype != torch.float32:
        return False
    try:
        prec = torch.backends.cuda.matmul.fp32_precision
        if prec == "none":  # inherits from the parent settings
            prec = getattr(torch.backends.cuda, "fp32_precision", "none")
        if prec == "none":
            prec = getattr(torch.backends, "fp32_precision", "none")
        if prec in ("ieee", "none"):
            return False
        return True
    except (AttributeError, RuntimeError):  # older torch / mixed legacy+new API: be conservative
        try:
            return bool(torch.backends.cuda.matmul.allow_tf32)
        except (AttributeError, RuntimeError):
            return True


class LBFGS:
    """L-BFGS on a single tensor with no host-device synchronisation per iteration.

    With ``batched=True``, dimension 0 of ``param`` is a batch of independent problems
    (several video frames, say): every item keeps its own history, curvature scale γ and first
    step, so a batch of B items takes exactly the steps B separate optimisers would take on
    their own losses (the loss may still couple them; each item then sees the coupling through
    its gradient). Otherwise, or with B = 1, it is the plain algorithm on the whole tensor.

    Args:
        param: the leaf tensor to optimise (``requires_grad=True``, contiguous,
            floating point). It is updated in place.
        history_size: number of curvature pairs kept (m).
        lr: fixed step length (``torch.optim.LBFGS`` ``lr`` without line search).
        solve_dtype: dtype of the small m×m algebra (default float64).
        batched: dim 0 of ``param`` indexes independent problems, each with its own history.
        history_dtype: the type the m pairs are stored in (default ``param.dtype``); bfloat16 or
            float16 halve them (per-row fp32 scales; maths in ``param.dtype``).
        max_step_rms: if set, each item's step is scaled down to at most this root-mean-square
            change per element (no host sync).
        first_step_rms: if set, each item's first step (and a restarted item's) is ``-g`` scaled to
            this root-mean-square change per element (no host sync); None: ``min(1, 1/|g|₁)·lr``.

    Memory: ``2·m·numel`` elements of ``history_dtype`` and ``2·numel`` of ``param.dtype``
    (m=100, 1×3×512×512 fp32: about 635 MB; bf16: about 320 MB) plus O(B·m²); a step allocates
    about ``6·numel`` more for a moment.
    """

    def __init__(
        self,
        param: torch.Tensor,
        *,
        history_size: int = 100,
        lr: float = 1.0,
        solve_dtype: torch.dtype = torch.float64,
        batched: bool = False,
        history_dtype: torch.dtype | None = None,
        max_step_rms: float | None = None,
        first_step_rms: float | None = None,
    ) -> None:
        if not isinstance(param, torch.Tensor):
            raise TypeError("param must be a torch.Tensor")
        if not param.is_floating_point():
            raise TypeError(f"param must be floating point, got {param.dtype}")
        if not param.is_contiguous():
            raise ValueError("param must be contiguous")
        if not param.requires_grad:
            raise ValueError("param must require grad")
        if param.numel() == 0 or (batched and param.dim() < 1):
            raise ValueError(
                f"param must be non-empty (with a batch dimension if batched), got shape {tuple(param.shape)}"
            )
        if int(history_size) < 1:
            raise ValueError(f"history_size must be >= 1, got {history_size}")
        if max_step_rms is not None and not max_step_rms > 0:
            raise ValueError(f"max_step_rms must be positive (or None), got {max_step_rms}")
        if first_step_rms is not None and not first_step_rms > 0:
            raise ValueError(f"first_step_rms must be positive (or None), got {first_step_rms}")
        if history_dtype is not None and history_dtype not in HISTORY_DTYPES:
            raise ValueError(f"history_dtype must be one of {HISTORY_DTYPES}, got {history_dtype}")
        self.param = param
        self.history_size = m = int(history_size)
        self.lr = float(lr)
        self.max_step_rms = None if max_step_rms is None else float(max_step_rms)
        self.first_step_rms = None if first_step_rms is None else float(first_step_rms)
        self.solve_dtype = solve_dtype
        self.batched = batched
        b = param.shape[0] if batched else 1
        n = param.numel() // b
        dev, dt = param.device, param.dtype
        self._n_iter = 0  # completed iterations (host int, deterministic)
        hd = dt if history_dtype is None else history_dtype
        #: the ring is narrower than the maths: rows stored scaled, upcast a block at a time
        self._narrow = hd != dt
        # ring buffer per item: rows [0, m) = s_i, rows [m, 2m) = y_i (accepted pairs only)
        self._W = torch.zeros(b, 2 * m, n, device=dev, dtype=hd)
        # narrow ring: row r holds (s or y) / _row_scale[:, r]; 1 where unused
        self._row_scale = torch.ones(b, 2 * m, device=dev, dtype=dt)
        block = max(_MIN_BLOCK, -(-n // (2 * m)))
        self._blocks = [(start, min(n, start + block)) for start in range(0, n, block)]
        # the newest pair per item: [:, 0] = s_k, [:, 1] = -g_k until the next step makes it y_k
        self._pair = torch.zeros(b, 2, n, device=dev, dtype=dt)
        self._head = torch.zeros(b, device=dev, dtype=torch.long)  # slot of the next accepted pair
        self._sty = torch.zeros(b, m, m, device=dev, dtype=solve_dtype)  # [., i, j] = s_i·y_j
        self._yty = torch.zeros(b, m, m, device=dev, dtype=solve_dtype)  # [., i, j] = y_i·y_j
        self._valid = torch.zeros(b, m, device=dev, dtype=torch.bool)  # slot holds a pair
        self._gamma = torch.ones(b, device=dev, dtype=solve_dtype)
        # _perm[h] = (h + arange(m)) % m : slots in chronological order when the
        # oldest slot is h. Its inverse is _perm[(m - h) % m].
        ar = torch.arange(m, device=dev)
        self._perm = (ar[:, None] + ar[None, :]) % m
        self._zero = torch.zeros((), device=dev, dtype=solve_dtype)
        self._fresh = torch.zeros(b, device=dev, dtype=torch.bool)  # items whose next step is a first step
        self._any_fresh = False  # host copy of fresh.any(), so the usual step pays nothing
        self._force_mv = False  # tests: force the gemv path

    # ------------------------------------------------------------------ helpers
    def _products(self, vecs: list[torch.Tensor]) -> torch.Tensor:
        """``W_b @ stack(vecs_b).T`` per item -> (B, 2m, len(vecs)), in IEEE precision."""
        W = self._W
        if self._narrow:
            return self._narrow_products(vecs)
        if self._force_mv or _reduced_precision_matmul(W.device, W.dtype):
            return torch.stack([torch.stack([torch.mv(W[i], v[i]) for v in vecs], dim=1) for i in range(W.shape[0])])
        # (B, k, n) @ (B, n, 2m): one pass over W (faster than W @ V.T on CPU/MKL)
        return torch.bmm(torch.stack(vecs, dim=1), W.transpose(1, 2)).transpose(1, 2)

    def _narrow_products(self, vecs: list[torch.Tensor]) -> torch.Tensor:
        """:meth:`_products` of a narrow ring: each block of columns upcast, multiplied, summed in
        a fixed order; then each row's scale."""
        dt = vecs[0].dtype
        V = torch.stack(vecs, dim=1)  # (B, k, n)
        mv = self._force_mv or _reduced_precision_matmul(V.device, dt)
        total: torch.Tensor | None = None
        for start, end in self._blocks:
            block = self._W[:, :, start:end].to(dt)  # (B, 2m, c)
            if mv:
                part = torch.stack(
                    [
                        torch.stack([torch.mv(block[i], V[i, j, start:end]) for j in range(V.shape[1])], dim=1)
                        for i in range(V.shape[0])
                    ]
                )
            else:
                part = torch.bmm(block, V[:, :, start:end].transpose(1, 2))  # (B, 2m, k)
            total = part if total is None else total + part
            del block
        assert total is not None
        return total * self._row_scale[:, :, None]

    def _combine(self, coef: torch.Tensor, out: torch.Tensor) -> None:
        """``out[b] = W_bᵀ coef[b]`` (B, n), as gemv (IEEE fp32 on CUDA, whatever the TF32 setting)."""
        W = self._W
        if not self._narrow:
            for i in range(W.shape[0]):
                torch.mv(W[i].t(), coef[i], out=out[i])
            return
        scaled = coef * self._row_scale  # (B, 2m): the rows' scales folded into the coefficients
        for start, end in self._blocks:
            block = W[:, :, start:end].to(out.dtype)
            for i in range(W.shape[0]):
                torch.mv(block[i].t(), scaled[i], out=out[i, start:end])
            del block

    def _direction_coefs(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Coefficients c (B, 2m, slot order) with  -H g = -γ g + Wᵀ c  per item.

        ``a = Sᵀg``, ``b = Yᵀg`` (B, m) in slot order; ``_head`` is each item's oldest slot.
        """
        m = self.history_size
        sd = self.solve_dtype
        P = self._perm.index_select(0, self._head)  # (B, m): slots, oldest first
        invP = self._perm.index_select(0, (m - self._head) % m)
        rows, cols = P[:, :, None].expand(-1, -1, m), P[:, None, :].expand(-1, m, -1)
        v = self._valid.gather(1, P)  # (B, m)
        vv = v[:, :, None] & v[:, None, :]
        zero = self._zero
        A = torch.where(vv, self._sty.gather(1, rows).gather(2, cols), zero)
        B = torch.where(vv, self._yty.gather(1, rows).gather(2, cols), zero)
        ac = torch.where(v, a.to(sd).gather(1, P), zero)
        bc = torch.where(v, b.to(sd).gather(1, P), zero)
        gamma = self._gamma[:, None, None]
        R = torch.triu(A) + torch.diag_embed((~v).to(sd))  # 1 on masked diagonals
        Dg = torch.diagonal(A, dim1=1, dim2=2)  # 0 on masked entries
        u = torch.linalg.solve_triangular(R, ac[:, :, None], upper=True)  # R⁻¹ Sᵀg
        w = Dg[:, :, None] * u + gamma * (B @ u - bc[:, :, None])
        z = torch.linalg.solve_triangular(R.mT, w, upper=False)  # R⁻ᵀ(...)
        # H g = γ g + S z - γ Y u   =>   -H g = -γ g + S(-z) + Y(γ u)
        return torch.cat([(-z[:, :, 0]).gather(1, invP), (gamma[:, :, 0] * u[:, :, 0]).gather(1, invP)], dim=1)

    # ------------------------------------------------------------------ API
    def step(self, loss_and_grad: Callable[[], torch.Tensor]) -> torch.Tensor:
        """One L-BFGS iteration.

        Clears ``param.grad``, calls ``loss_and_grad()`` once (with grad enabled; it
        must call ``backward()`` and return the loss), then updates ``param`` in place.
        Returns the (detached) loss tensor at the point *before* the update, as torch
        does; no ``.item()`` is taken.
        """
        p = self.param
        p.grad = None
        with torch.enable_grad():
            loss = loss_and_grad()
        if p.grad is None:
            raise RuntimeError("LBFGS.step: the closure did not produce param.grad (call backward())")
        with torch.no_grad():
            self._update(p.grad.reshape(self._W.shape[0], -1))
        return loss.detach() if isinstance(loss, torch.Tensor) else loss

    def _update(self, g: torch.Tensor) -> None:
        W, pair = self._W, self._pair
        if g.dtype != pair.dtype:
            g = g.to(pair.dtype)
        s_new = pair[:, 0]  # (B, n)
        if self._n_iter == 0:
            torch.mul(g, -self._first_step_length(g), out=s_new)  # d = -g
        else:
            pair[:, 1].add_(g)  # y_{k-1} = g_k - g_{k-1}
            y = pair[:, 1]
            coef = (self._direction_coefs(*self._store(y, g)) * self.lr).to(g.dtype)
            self._combine(coef, s_new)  # Wᵀc per item
            # s_k = lr * d_k = lr * (Wᵀc - γ g)
            s_new.addcmul_(g, (self._gamma * self.lr).to(g.dtype)[:, None], value=-1.0)
            if self._any_fresh:  # restarted items: no history, so the first step's rule
                first = g * -self._first_step_length(g)
                s_new.copy_(torch.where(self._fresh[:, None], first, s_new))
        if self._any_fresh:
            self._fresh.zero_()
            self._any_fresh = False
        if self.max_step_rms is not None:  # scaled down where its RMS is above the cap (no sync)
            rms = torch.linalg.vector_norm(s_new, dim=1, keepdim=True) / s_new.shape[1] ** 0.5
            s_new.mul_(torch.clamp(self.max_step_rms / rms.clamp_min(1e-30), max=1.0))
        torch.neg(g, out=pair[:, 1])  # -g_k; becomes y_k = g_{k+1} - g_k next step
        self.param.view(W.shape[0], -1).add_(s_new)
        self._n_iter += 1

    def _first_step_length(self, g: torch.Tensor) -> torch.Tensor:
        """(B, 1): the length t of a first step t·(−g) per item: ``first_step_rms`` / RMS(g), or
        torch's min(1, 1/|g|₁)·lr."""
        if self.first_step_rms is not None:
            rms = torch.linalg.vector_norm(g, dim=1, keepdim=True) / g.shape[1] ** 0.5
            return self.first_step_rms / rms.clamp_min(1e-30)
        return torch.clamp(torch.reciprocal(g.abs().sum(dim=1, keepdim=True)), max=1.0) * self.lr

    def _store(self, y: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Put the newest pair into each item's ring unless it fails the curvature test;
        returns ``Sᵀg, Yᵀg`` (B, m) of the ring as it then is.

        The pair is written into slot ``head`` first, so that one product with the ring gives
        its Gram column, its ``sᵀy`` for the test and ``Sᵀg, Yᵀg``. Where the test fails, the
        slot gets back the pair it held, and that pair's products with ``g``.
        """
        m, W, pair, head = self.history_size, self._W, self._pair, self._head
        sd = self.solve_dtype
        slot = head[:, None]  # (B, 1)
        slot_rows = torch.cat([slot, slot + m], dim=1)  # (B, 2): the slot's s row and y row
        rows = slot_rows[:, :, None].expand(-1, -1, W.shape[2])
        held = W.gather(1, rows)  # (B, 2, n)
        if self._narrow:  # the pair as the ring will hold it: scaled by its rows' largest magnitudes
            held_scale = self._row_scale.gather(1, slot_rows)  # (B, 2)
            pair_scale = pair.abs().amax(dim=2)
            pair_scale = torch.where(pair_scale > 0, pair_scale, torch.ones_like(pair_scale))
            stored = (pair / pair_scale[:, :, None]).to(W.dtype)
            self._row_scale.scatter_(1, slot_rows, pair_scale)
            y = stored[:, 1].to(y.dtype) * pair_scale[:, 1:]  # products and test see the stored y
        else:
            stored = pair
        W.scatter_(1, rows, stored)
        G = self._products([y, g])  # (B, 2m, 2)
        col_sy = G[:, :m, 0].to(sd)  # s_i · y_new
        col_yy = G[:, m:, 0].to(sd)  # y_i · y_new
        ys, yy = col_sy.gather(1, slot)[:, 0], col_yy.gather(1, slot)[:, 0]
        ok = ys > _CURVATURE_EPS
        if self._any_fresh:  # the pair spanning a restart mixes two problems: drop it
            ok = ok & ~self._fresh
        W.scatter_(1, rows, torch.where(ok[:, None, None], stored, held))
        held_dots = (held.to(g.dtype) * g[:, None, :]).sum(dim=2)  # (B, 2): s·g, y·g of the pair held (no TF32)
        if self._narrow:
            held_dots = held_dots * held_scale
            self._row_scale.scatter_(1, slot_rows, torch.where(ok[:, None], pair_scale, held_scale))
        dots = G[:, :, 1].scatter(1, slot_rows, torch.where(ok[:, None], G[:, :, 1].gather(1, slot_rows), held_dots))
        column = slot[:, :, None].expand(-1, m, 1)  # (B, m, 1): column `slot` of an m×m matrix
        row = slot[:, :, None].expand(-1, 1, m)  # (B, 1, m): row `slot`
        self._sty.scatter_(2, column, torch.where(ok[:, None, None], col_sy[:, :, None], self._sty.gather(2, column)))
        self._yty.scatter_(2, column, torch.where(ok[:, None, None], col_yy[:, :, None], self._yty.gather(2, column)))
        self._yty.scatter_(1, row, torch.where(ok[:, None, None], col_yy[:, None, :], self._yty.gather(1, row)))
        self._valid.scatter_(1, slot, self._valid.gather(1, slot) | ok[:, None])
        self._gamma = torch.where(ok, ys / yy, self._gamma)
        self._head = torch.where(ok, (head + 1) % m, head)
        return dots[:, :m], dots[:, m:]

    def restart(self, items: list[int]) -> None:
        """Forget the history of batch items ``items`` (``batched=True``): each starts again as
        a new problem, from whatever ``param`` holds for it at the next step (a new video frame
        put in a batch slot, say), and steps as a fresh optimiser would; the other items go on.
        """
        if not self.batched:
            raise ValueError("restart needs an optimiser made with batched=True")
        index = torch.as_tensor(list(items), device=self._W.device)
        self._valid[index] = False
        self._gamma[index] = 1.0
        self._fresh[index] = True
        self._any_fresh = True

    def lengthen_first_step(self, lengths: torch.Tensor) -> None:
        """Right after the first step: make it ``lengths`` (B,) · (−g) instead of min(1, 1/|g|₁)·lr·(−g),
        moving ``param`` to match (a step length known from a like problem; see
        ``Optimisation._lengthen_first_step``). The next pair is formed with the new step."""
        if self._n_iter != 1:
            raise ValueError("lengthen_first_step only right after the first step")
        pair = self._pair
        wanted = pair[:, 1] * lengths.to(pair.dtype)[:, None]  # pair[:, 1] holds −g after a step
        self.param.view(pair.shape[0], -1).add_(wanted - pair[:, 0])
        pair[:, 0].copy_(wanted)

    def curvature_scales(self) -> list[float | None]:
        """γ = sᵀy / yᵀy of each item's newest accepted pair (None where none was accepted); syncs."""
        accepted = self._valid.any(dim=1).tolist()
        return [float(g) if ok else None for g, ok in zip(self._gamma.tolist(), accepted)]

    @property
    def n_iter(self) -> int:
        return self._n_iter

    def state_dict(self) -> dict[str, Any]:
        """State for bit-exact resume. Tensors are references (like torch.optim):
        save or copy them before stepping again."""
        return {
            "n_iter": self._n_iter,
            "history_size": self.history_size,
            "lr": self.lr,
            "numel": self.param.numel(),
            "W": self._W,
            "row_scale": self._row_scale,
            "pair": self._pair,
            "head": self._head,
            "sty": self._sty,
            "yty": self._yty,
            "valid": self._valid,
            "gamma": self._gamma,
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        if int(d["history_size"]) != self.history_size:
            raise ValueError(f"state has history_size={d['history_size']}, optimiser has {self.history_size}")
        if int(d["numel"]) != self.param.numel() or tuple(d["W"].shape) != tuple(self._W.shape):
            raise ValueError(f"state is for {d['numel']} elements, param has {self.param.numel()}")
        self.lr = float(d["lr"])
        self._n_iter = int(d["n_iter"])
        with torch.no_grad():
            self._W.copy_(d["W"])
            if "row_scale" in d:
                self._row_scale.copy_(d["row_scale"])
            self._pair.copy_(d["pair"])
            self._sty.copy_(d["sty"])
            self._yty.copy_(d["yty"])
            self._valid.copy_(d["valid"])
            self._gamma = d["gamma"].to(device=self._W.device, dtype=self.solve_dtype).clone()
            self._head = d["head"].to(device=self._W.device).clone()
