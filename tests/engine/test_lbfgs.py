"""Tests for stylevid.pipeline.engine.lbfgs (sync-free compact-form L-BFGS)."""

from __future__ import annotations

import copy
import io

import pytest
import torch

from stylevid.pipeline.engine.lbfgs import LBFGS

F64 = torch.float64


@pytest.fixture(autouse=True)
def _single_thread():
    """Tiny tensors: intra-op threading only adds overhead on a shared 2-core box."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ----------------------------------------------------------------------------- helpers
def _run_torch(f, x0, m, lr, iters):
    x = x0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS(
        [x],
        lr=lr,
        max_iter=1,
        history_size=m,
        line_search_fn=None,
        tolerance_grad=-float("inf"),
        tolerance_change=-float("inf"),
    )

    def closure():
        opt.zero_grad()
        loss = f(x)
        loss.backward()
        return loss

    xs = []
    for _ in range(iters):
        opt.step(closure)
        xs.append(x.detach().clone())
    return xs, len(opt.state[x]["old_dirs"])


def _run_ours(f, x0, m, lr, iters, **kw):
    x = x0.clone().requires_grad_(True)
    opt = LBFGS(x, history_size=m, lr=lr, **kw)

    def closure():
        loss = f(x)
        loss.backward()
        return loss

    xs = []
    for _ in range(iters):
        opt.step(closure)
        xs.append(x.detach().clone())
    return xs, opt


def _max_rel(xs_a, xs_b):
    return max(((a - b).norm() / a.norm()).item() for a, b in zip(xs_a, xs_b))


def _two_loop(pairs, g, gamma):
    """Textbook L-BFGS two-loop recursion: returns -H g (pairs oldest first)."""
    q = -g.clone()
    alphas = []
    for s, y in reversed(pairs):
        a = (s @ q) / (y @ s)
        alphas.append(a)
        q -= a * y
    r = q * gamma
    for (s, y), a in zip(pairs, reversed(alphas)):
        b = (y @ r) / (y @ s)
        r += (a - b) * s
    return r


def _run_two_loop_reference(f, x0, m, lr, iters):
    """Reference for the documented semantics (torch's): the last m *accepted* pairs are kept,
    a pair with s·y <= 1e-10 never enters the memory, γ from the newest accepted pair."""
    x = x0.clone()
    pairs, gamma, prev_g, prev_s, xs, n_rejected = [], 1.0, None, None, [], 0
    for k in range(iters):
        xx = x.clone().requires_grad_(True)
        f(xx).backward()
        g = xx.grad
        if k == 0:
            d = -g
            t = min(1.0, 1.0 / g.abs().sum().item()) * lr
        else:
            y = g - prev_g
            ys = (y @ prev_s).item()
            if ys > 1e-10:
                pairs = (pairs + [(prev_s, y)])[-m:]
                gamma = ys / (y @ y).item()
            else:
                n_rejected += 1
            d = _two_loop(pairs, g, gamma)
            t = lr
        prev_s, prev_g = d * t, g
        x = x + prev_s
        xs.append(x.clone())
    return xs, n_rejected


def _spd_problem(n=200, seed=0):
    gen = torch.Generator().manual_seed(seed)
    Q = torch.randn(n, n, generator=gen, dtype=F64)
    A = Q @ Q.T / n + 0.1 * torch.eye(n, dtype=F64)
    b = torch.randn(n, generator=gen, dtype=F64)
    x0 = torch.randn(n, generator=gen, dtype=F64)
    return (lambda x: 0.5 * x @ A @ x - b @ x), x0


def _rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum() / 100


# ----------------------------------------------------------------------------- vs torch
@pytest.mark.parametrize("m", [1, 5, 10])
def test_matches_torch_on_quadratic(m):
    f, x0 = _spd_problem()
    ref, n_hist = _run_torch(f, x0, m, 1.0, 30)
    ours, _ = _run_ours(f, x0, m, 1.0, 30)
    assert n_hist == m  # ring wrapped, nothing rejected
    assert _max_rel(ref, ours) < 1e-9


@pytest.mark.parametrize("m", [5, 10])
def test_matches_torch_on_rosenbrock(m):
    gen = torch.Generator().manual_seed(1)
    x0 = 0.1 * torch.randn(100, generator=gen, dtype=F64)
    ref, n_hist = _run_torch(_rosenbrock, x0, m, 0.5, 30)
    ours, _ = _run_ours(_rosenbrock, x0, m, 0.5, 30)
    assert n_hist == m
    assert _max_rel(ref, ours) < 1e-9


@pytest.mark.parametrize("m", [5, 10])
def test_matches_torch_on_logistic(m):
    gen = torch.Generator().manual_seed(2)
    n = 100
    X = torch.randn(300, n, generator=gen, dtype=F64)
    lab = torch.randint(0, 2, (300,), generator=gen).to(F64) * 2 - 1
    x0 = torch.randn(n, generator=gen, dtype=F64)

    def f(x):  # logistic loss + a nonconvex penalty
        return (
            torch.nn.functional.softplus(-lab * (X @ x)).mean() + 0.05 * (x * x).sum() + 0.05 * torch.log1p(x * x).sum()
        )

    ref, n_hist = _run_torch(f, x0, m, 1.0, 15)
    ours, _ = _run_ours(f, x0, m, 1.0, 15)
    assert n_hist == m
    assert _max_rel(ref, ours) < 1e-9
    assert f(ours[-1]) < 0.1 * f(x0)


@pytest.mark.parametrize("m", [4, 6])
def test_rejected_pairs_stay_out_of_the_ring_like_torch(m):
    """A nonconvex function (quadratic + cosine ripple) produces negative-curvature
    pairs, and the ring wraps: compare with a plain two-loop implementation that keeps the
    last m accepted pairs, and with torch.optim.LBFGS, which does the same."""
    fq, x0 = _spd_problem(n=60, seed=0)

    def f(x):
        return fq(x) + 0.5 * torch.cos(3 * x).sum()

    ref, n_rejected = _run_two_loop_reference(f, x0, m, 0.5, 40)
    ours, opt = _run_ours(f, x0, m, 0.5, 40)
    by_torch, n_hist = _run_torch(f, x0, m, 0.5, 40)
    assert n_rejected >= 3 and 39 - n_rejected > m  # rejections, and the ring wrapped
    assert n_hist == m and int(opt._valid.sum()) == m
    assert _max_rel(ref, ours) < 1e-9
    assert _max_rel(by_torch, ours) < 1e-9
    assert all(torch.isfinite(x).all() for x in ours)
    assert f(ours[-1]) < f(x0) - 50


def test_a_rejected_pair_leaves_its_items_ring_unchanged_and_the_others_go_on():
    """Batch of 2, ring full: item 0 gets a gradient change with s·y < 0, item 1 a good one.
    Item 0's history (pairs, Gram matrices, γ, next slot) is exactly as before; item 1's moves on."""
    gen = torch.Generator().manual_seed(12)
    n, m = 20, 3
    hessian = (lambda a: a @ a.T / n + torch.eye(n, dtype=F64))(torch.randn(n, n, generator=gen, dtype=F64))
    x = torch.randn(2, n, generator=gen, dtype=F64).requires_grad_(True)
    opt = LBFGS(x, history_size=m, lr=0.5, batched=True)
    gradients = []

    def step(gradient):
        gradients.append(gradient.detach().clone())
        opt.step(lambda: (lambda loss: (loss.backward(), loss)[1])((x * gradient).sum()))  # ∂/∂x = gradient

    for _ in range(m + 3):  # past a full ring
        before = x.detach().clone()
        step(x.detach() @ hessian)
    assert bool(opt._valid.all())
    last_step = x.detach() - before
    state = {k: v.clone() for k, v in opt.state_dict().items() if isinstance(v, torch.Tensor)}
    bad = torch.stack([gradients[-1][0] - last_step[0], x.detach()[1] @ hessian])  # item 0: y = -s
    step(bad)
    after = opt.state_dict()
    for key in ("W", "sty", "yty", "valid", "gamma", "head"):
        assert torch.equal(after[key][0], state[key][0]), key
    assert int(after["head"][1]) == (int(state["head"][1]) + 1) % m
    assert not torch.equal(after["W"][1], state["W"][1]) and not torch.equal(after["gamma"][1], state["gamma"][1])
    assert torch.isfinite(x).all()


def test_masked_slots_contribute_exactly_zero():
    m, n = 6, 50
    x = torch.zeros(n, dtype=F64, requires_grad=True)
    opt = LBFGS(x, history_size=m)
    gen = torch.Generator().manual_seed(3)
    S = torch.randn(m, n, generator=gen, dtype=F64)
    Y = S + 0.1 * torch.randn(m, n, generator=gen, dtype=F64)
    opt._W[0, :m], opt._W[0, m:] = S, Y
    opt._sty[0].copy_(S @ Y.T)
    opt._yty[0].copy_(Y @ Y.T)
    valid = torch.tensor([True, False, True, True, False, True])
    opt._valid[0].copy_(valid)
    # garbage (huge / non-finite) in the masked rows and columns must not leak
    for j in (1, 4):
        opt._sty[0, j, :] = float("inf")
        opt._sty[0, :, j] = float("nan")
        opt._yty[0, j, :] = 1e300
        opt._yty[0, :, j] = float("nan")
    q = 3  # newest slot -> chronological order 4, 5, 0, 1, 2, 3
    opt._head = torch.tensor([q + 1])
    opt._gamma = ((S[q] @ Y[q]) / (Y[q] @ Y[q]))[None]
    g = torch.randn(n, generator=gen, dtype=F64)
    coef = opt._direction_coefs((S @ g)[None], (Y @ g)[None])[0]
    assert torch.isfinite(coef).all()
    assert (coef[[1, 4]] == 0).all() and (coef[[m + 1, m + 4]] == 0).all()
    d = opt._W[0].T @ coef - opt._gamma * g
    order = [s for s in (4, 5, 0, 1, 2, 3) if valid[s]]
    expected = _two_loop([(S[s], Y[s]) for s in order], g, opt._gamma)
    torch.testing.assert_close(d, expected, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- masked pair
def test_zero_step_pair_is_masked_and_falls_back_to_scaled_gradient():
    n = 20
    c = torch.linspace(-1, 1, n, dtype=F64)
    coeffs = [torch.zeros(n, dtype=F64), c]  # gradient 0, then c: first step is zero
    x = torch.randn(n, dtype=F64).requires_grad_(True)
    x_start = x.detach().clone()
    opt = LBFGS(x, history_size=4, lr=0.7)
    for k in range(2):
        opt.step(lambda: (lambda loss: (loss.backward(), loss)[1])(coeffs[k] @ x))
    assert not bool(opt._valid[0, 0]) and int(opt._head[0]) == 0  # s = 0  ->  s·y = 0 <= 1e-10: not stored
    assert float(opt._gamma) == 1.0
    torch.testing.assert_close(x.detach(), x_start - 0.7 * c, rtol=0, atol=1e-15)


def test_negative_curvature_pair_is_masked_like_torch():
    n = 30
    gen = torch.Generator().manual_seed(4)
    c = torch.randn(n, generator=gen, dtype=F64)
    x0 = torch.randn(n, generator=gen, dtype=F64)

    def f(x):  # concave: every pair has s·y < 0
        return -0.5 * (x * x).sum() + c @ x

    ref, n_hist = _run_torch(f, x0, 3, 0.5, 6)
    ours, opt = _run_ours(f, x0, 3, 0.5, 6)
    assert n_hist == 0 and not bool(opt._valid.any())
    assert all(torch.isfinite(x).all() for x in ours)
    assert _max_rel(ref, ours) < 1e-12


# ----------------------------------------------------------------------------- real-ish problem
def test_loss_decreases_on_small_conv_net_fp32():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, padding=1, stride=2),
        torch.nn.ReLU(),
    ).requires_grad_(False)
    target = net(torch.rand(1, 3, 24, 24))
    img = torch.rand(1, 3, 24, 24, requires_grad=True)
    opt = LBFGS(img, history_size=10)

    def closure():
        loss = torch.nn.functional.mse_loss(net(img), target, reduction="sum")
        loss.backward()
        return loss

    losses = [float(opt.step(closure)) for _ in range(40)]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.1 * losses[0]
    assert img.shape == (1, 3, 24, 24) and img.is_contiguous()


# ----------------------------------------------------------------------------- paths, state
def test_gemv_path_matches_gemm_path():
    f, x0 = _spd_problem(n=80, seed=5)
    xs_a, _ = _run_ours(f, x0, 4, 1.0, 12)
    x = x0.clone().requires_grad_(True)
    opt = LBFGS(x, history_size=4)
    opt._force_mv = True
    xs_b = []
    for _ in range(12):
        opt.step(lambda: (lambda loss: (loss.backward(), loss)[1])(f(x)))
        xs_b.append(x.detach().clone())
    assert _max_rel(xs_a, xs_b) < 1e-12


def _conv_closure_factory():
    torch.manual_seed(0)
    w = torch.randn(4, 3, 3, 3)
    target = torch.randn(2, 4, 8, 8)

    def make(img):
        def closure():
            out = torch.nn.functional.conv2d(img, w, padding=1)
            loss = ((out - target) ** 2).sum() + 0.1 * (img**4).sum()
            loss.backward()
            return loss

        return closure

    return make


def test_state_dict_resume_is_bit_exact():
    make = _conv_closure_factory()
    img = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(6)).requires_grad_(True)
    opt = LBFGS(img, history_size=4, lr=0.5)
    for _ in range(10):
        opt.step(make(img))
    buf = io.BytesIO()
    torch.save({"opt": opt.state_dict(), "img": img.detach()}, buf)
    saved_img = img.detach().clone()
    for _ in range(10):
        opt.step(make(img))

    buf.seek(0)
    ckpt = torch.load(buf)
    img2 = ckpt["img"].clone().requires_grad_(True)
    assert torch.equal(img2, saved_img)
    opt2 = LBFGS(img2, history_size=4, lr=0.5)
    opt2.load_state_dict(copy.deepcopy(ckpt["opt"]))
    for _ in range(10):
        opt2.step(make(img2))
    assert torch.equal(img2.detach(), img.detach())
    assert opt2.n_iter == opt.n_iter == 20


def test_rejects_bad_params():
    with pytest.raises(ValueError):
        LBFGS(torch.zeros(4, 4).t().requires_grad_(True))
    with pytest.raises(ValueError):
        LBFGS(torch.zeros(4))
    with pytest.raises(ValueError):
        LBFGS(torch.zeros(4, requires_grad=True), history_size=0)
    x = torch.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError):
        LBFGS(x).step(lambda: x.sum().detach())


# ----------------------------------------------------------------------------- no syncs
@pytest.mark.parametrize(("history_dtype", "max_step_rms"), [(None, None), (torch.bfloat16, None), (None, 0.01)])
def test_no_host_sync_constructs_in_steady_state(monkeypatch, history_dtype, max_step_rms):
    make = _conv_closure_factory()
    img = torch.randn(2, 3, 8, 8).requires_grad_(True)
    opt = LBFGS(img, history_size=3, history_dtype=history_dtype, max_step_rms=max_step_rms)
    for _ in range(3):
        opt.step(make(img))

    def forbidden(name):
        def raiser(*args, **kwargs):
            raise AssertionError(f"host sync: Tensor.{name} called during LBFGS.step")

        return raiser

    for name in ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__"):
        monkeypatch.setattr(torch.Tensor, name, forbidden(name))
    losses = [opt.step(make(img)) for _ in range(8)]  # wraps the ring twice
    monkeypatch.undo()
    assert all(isinstance(loss, torch.Tensor) for loss in losses)
    assert torch.isfinite(img).all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize(
    ("force_mv", "history_dtype", "max_step_rms"),
    [(False, None, None), (True, None, None), (False, torch.bfloat16, None), (False, None, 0.01)],
)
def test_cuda_steps_do_not_synchronise(force_mv, history_dtype, max_step_rms):
    gen = torch.Generator().manual_seed(7)
    img = torch.randn(2, 3, 16, 16, generator=gen).cuda().requires_grad_(True)
    w = torch.randn(4, 3, 3, 3, generator=gen).cuda()
    target = torch.randn(2, 4, 16, 16, generator=gen).cuda()

    def closure():
        out = torch.nn.functional.conv2d(img, w, padding=1)
        loss = ((out - target) ** 2).sum() + 0.1 * (img**4).sum()
        loss.backward()
        return loss

    opt = LBFGS(img, history_size=3, history_dtype=history_dtype, max_step_rms=max_step_rms)
    opt._force_mv = force_mv
    first = opt.step(closure)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(8):
            last = opt.step(closure)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(img).all()
    assert float(last) < float(first)


# ----------------------------------------------------------------------------- batches
def test_a_batch_takes_the_steps_of_separate_optimisers():
    """batched=True: every item has its own history (here m=4 wraps round), γ and first step."""
    gen = torch.Generator().manual_seed(7)
    items, n, m = 3, 40, 4
    scales = [1.0, 30.0, 0.01]  # very different curvatures: a shared history would mix them
    mats = [s * (torch.randn(n, n, generator=gen, dtype=F64) / n**0.5) for s in scales]
    hessians = [a @ a.T + s * torch.eye(n, dtype=F64) for a, s in zip(mats, scales)]
    targets = torch.randn(items, n, generator=gen, dtype=F64)

    def loss_of(x, i):
        d = x - targets[i]
        return 0.5 * d @ hessians[i] @ d

    start = torch.randn(items, n, generator=gen, dtype=F64)
    together = start.clone().requires_grad_(True)
    opt = LBFGS(together, history_size=m, lr=0.8, batched=True)
    for _ in range(25):
        opt.step(lambda: (lambda loss: (loss.backward(), loss)[1])(sum(loss_of(together[i], i) for i in range(items))))
    for i in range(items):
        alone = start[i].clone().requires_grad_(True)
        single = LBFGS(alone, history_size=m, lr=0.8)
        for _ in range(25):
            single.step(lambda: (lambda loss: (loss.backward(), loss)[1])(loss_of(alone, i)))
        torch.testing.assert_close(together[i].detach(), alone.detach(), rtol=1e-10, atol=1e-12)


def test_a_restarted_item_steps_like_a_new_optimiser_and_the_others_go_on():
    """restart([i]): item i forgets its history (a new frame in a batch slot); item j is untouched."""
    gen = torch.Generator().manual_seed(11)
    n, m = 30, 5
    hessians = [
        (lambda a: a @ a.T + s * torch.eye(n, dtype=F64))(s * torch.randn(n, n, generator=gen, dtype=F64) / n**0.5)
        for s in (1.0, 5.0)
    ]
    targets = torch.randn(2, n, generator=gen, dtype=F64)

    def loss_of(x, i):
        d = x - targets[i]
        return 0.5 * d @ hessians[i] @ d

    def run(x, opt, items, steps):
        for _ in range(steps):
            opt.step(
                lambda: (lambda loss: (loss.backward(), loss)[1])(sum(loss_of(x[k], i) for k, i in enumerate(items)))
            )

    start = torch.randn(2, n, generator=gen, dtype=F64)
    new_start = torch.randn(n, generator=gen, dtype=F64)
    together = start.clone().requires_grad_(True)
    opt = LBFGS(together, history_size=m, lr=0.9, batched=True)
    run(together, opt, [0, 1], 7)  # past a full ring of history
    with torch.no_grad():
        together[1].copy_(new_start)
    opt.restart([1])
    run(together, opt, [0, 1], 9)

    untouched = start[:1].clone().requires_grad_(True)
    run(untouched, LBFGS(untouched, history_size=m, lr=0.9, batched=True), [0], 16)
    fresh = new_start[None].clone().requires_grad_(True)
    run(fresh, LBFGS(fresh, history_size=m, lr=0.9, batched=True), [1], 9)
    torch.testing.assert_close(together[0].detach(), untouched[0].detach(), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(together[1].detach(), fresh[0].detach(), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="batched"):
        LBFGS(torch.zeros(3, requires_grad=True)).restart([0])


# ----------------------------------------------------------------------------- the step cap
def test_capped_steps_never_exceed_the_cap_per_item_and_still_converge():
    """max_step_rms: every item's step is scaled down to at most the cap, by itself; the
    quadratic is still solved (the stored pair is the step taken, so the curvature stays right)."""
    gen = torch.Generator().manual_seed(3)
    items, n, cap = 2, 50, 0.05
    curvature = torch.rand(n, generator=gen, dtype=F64) * 9 + 1
    targets = torch.stack([torch.full((n,), 5.0, dtype=F64), torch.full((n,), 0.01, dtype=F64)])
    x = torch.zeros(items, n, dtype=F64, requires_grad=True)
    opt = LBFGS(x, history_size=10, batched=True, max_step_rms=cap)
    uncapped = torch.zeros(items, n, dtype=F64, requires_grad=True)
    free = LBFGS(uncapped, history_size=10, batched=True)

    def loss_of(v):
        return lambda: (lambda loss: (loss.backward(), loss)[1])((curvature * (v - targets) ** 2).sum())

    largest_free = 0.0
    for _ in range(400):
        before = x.detach().clone()
        opt.step(loss_of(x))
        rms = (x.detach() - before).pow(2).mean(dim=1).sqrt()
        assert (rms <= cap * (1 + 1e-9)).all(), rms
        before_free = uncapped.detach().clone()
        free.step(loss_of(uncapped))
        largest_free = max(largest_free, (uncapped.detach() - before_free).pow(2).mean(dim=1).sqrt().max().item())
    assert largest_free > 4 * cap  # without the cap the far item takes big steps
    torch.testing.assert_close(x.detach(), targets, rtol=0, atol=1e-6)
    # the near item never needed the cap: its steps are those of an uncapped optimiser
    torch.testing.assert_close(x.detach()[1], uncapped.detach()[1], rtol=0, atol=1e-9)


def test_a_step_cap_must_be_positive():
    x = torch.zeros(4, requires_grad=True)
    with pytest.raises(ValueError, match="max_step_rms"):
        LBFGS(x, max_step_rms=0.0)


# ----------------------------------------------------------------------------- the first step
def test_a_first_step_of_given_rms_moves_every_item_by_it_and_a_restarted_item_too(monkeypatch):
    """first_step_rms: an item's first step is −g scaled to that RMS change, whatever the size of its
    gradient (items 10⁶ apart here), on the device; a restarted item's first step too; the
    quadratic is then solved as before."""
    gen = torch.Generator().manual_seed(5)
    n, first = 40, 0.03
    curvature = torch.rand(n, generator=gen, dtype=F64) * 4 + 1
    targets = torch.stack([torch.full((n,), 2.0, dtype=F64), torch.full((n,), 2e-6, dtype=F64)])
    x = torch.zeros(2, n, dtype=F64, requires_grad=True)
    opt = LBFGS(x, history_size=8, batched=True, first_step_rms=first)

    def closure():
        loss = (curvature * (x - targets) ** 2).sum()
        loss.backward()
        return loss

    def forbidden(*args, **kwargs):
        raise AssertionError("host sync during the first step")

    for name in ("item", "tolist", "cpu", "numpy", "__bool__", "__float__"):
        monkeypatch.setattr(torch.Tensor, name, forbidden)
    opt.step(closure)
    monkeypatch.undo()
    rms = x.detach().pow(2).mean(dim=1).sqrt()
    torch.testing.assert_close(rms, torch.full((2,), first, dtype=F64), rtol=1e-12, atol=0)
    for _ in range(60):
        opt.step(closure)
    torch.testing.assert_close(x.detach()[0], targets[0], rtol=0, atol=1e-8)
    with torch.no_grad():
        x[1].zero_()
    opt.restart([1])
    before = x.detach().clone()
    opt.step(closure)
    moved = (x.detach() - before).pow(2).mean(dim=1).sqrt()
    assert moved[1].item() == pytest.approx(first, rel=1e-12)
    assert moved[0].item() < 1e-6  # the solved item stays put


def test_without_first_step_rms_the_first_step_is_torchs():
    x0 = torch.full((6,), 3.0, dtype=F64)
    x = x0.clone().requires_grad_(True)
    opt = LBFGS(x, history_size=4)
    opt.step(lambda: (lambda loss: (loss.backward(), loss)[1])((x**2).sum()))
    g = 2 * x0
    torch.testing.assert_close(x.detach(), x0 - g * min(1.0, 1 / g.abs().sum().item()))
    with pytest.raises(ValueError, match="first_step_rms"):
        LBFGS(torch.zeros(4, requires_grad=True), first_step_rms=-1.0)
