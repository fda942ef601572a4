"""The one optimisation loop: items scaled and stepped as if alone, slots restarted and retired one by one."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch
from conftest import CONTENT_FILE, STYLE_FILE, load_picture

from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine import lbfgs
from stylevid.pipeline.engine.optimize import TERMS, Optimisation, OptimiserSettings, optimize
from stylevid.pipeline.engine.transfer import StyleTransfer
from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.video.frame_pairs import PreparedFrame
from stylevid.pipeline.video.frames import Frame
from stylevid.pipeline.video.rolling import RollingBatch, RollingSettings, stylize_rolling

FAST = OptimiserSettings(fast_lbfgs=True)


def rand(*shape: int, seed: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def quadratic(target: torch.Tensor, scale: torch.Tensor):
    """Σ w·(x − target)² per item, with pixel weights 1…100 (curvature for L-BFGS) times ``scale`` per item."""
    weights = (1 + 99 * rand(1, *target.shape[1:], seed=9)).to(target.device)

    def loss(image: torch.Tensor) -> dict[str, torch.Tensor]:
        total = (weights * (image - target).pow(2)).flatten(1).sum(dim=1) * scale
        return {"content": total, "total": total}

    return loss


def steps(optimisation: Optimisation, count: int) -> torch.Tensor:
    """``count`` iterations; their records (count, TERMS, B)."""
    records = torch.zeros(count, len(TERMS), optimisation.image.shape[0])
    for row in range(count):
        optimisation.step(records[row])
    return records


TARGETS = rand(2, 3, 8, 8, seed=1)
SCALES = torch.tensor([1e12, 1.0])  # paper-scale and unit losses side by side


def _freed_without_the_cycle_collector(held: list) -> bool:
    """Drop ``held``'s one object, its last reference, with the cycle collector off: is it gone at once?"""
    gone = weakref.ref(held[0])
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        held.clear()
        return gone() is None
    finally:
        if was_enabled:
            gc.enable()


@pytest.mark.parametrize("fast_lbfgs", [True, False])
def test_a_finished_optimisation_is_freed_without_the_cycle_collector(fast_lbfgs):
    # issue 18: a reference cycle kept every frame's optimisation (objective, targets, L-BFGS
    # history) alive until Python's rare full collection, and a long video's memory grew
    optimisation = Optimisation(
        rand(1, 3, 8, 8, seed=2), quadratic(TARGETS[:1], SCALES[1:]), OptimiserSettings(fast_lbfgs=fast_lbfgs)
    )
    steps(optimisation, 3)
    held = [optimisation]
    del optimisation
    assert _freed_without_the_cycle_collector(held)


@pytest.mark.gpu
def test_gpu_a_graphed_optimisation_is_freed_without_the_cycle_collector():
    # the first GPU run: the CUDA graph's evaluation held the optimisation by a bound method, and a
    # graphed image left its whole L-BFGS history allocated after it returned
    device = torch.device("cuda", torch.cuda.current_device())
    targets, scales = TARGETS[:1].to(device), SCALES[1:].to(device)
    settings = OptimiserSettings(fast_lbfgs=True, cuda_graphs=True)
    optimisation = Optimisation(rand(1, 3, 8, 8, seed=2).to(device), quadratic(targets, scales), settings)
    optimisation.run(6)
    assert optimisation.replayed > 0
    held = [optimisation]
    del optimisation
    assert _freed_without_the_cycle_collector(held)


def test_each_item_is_scaled_and_stepped_as_if_alone():
    start = rand(2, 3, 8, 8, seed=2)
    together = optimize(start, quadratic(TARGETS, SCALES), iters=8, fast_lbfgs=True)
    for item in range(2):
        alone = optimize(
            start[item : item + 1],
            quadratic(TARGETS[item : item + 1], SCALES[item : item + 1]),
            iters=8,
            fast_lbfgs=True,
        )
        torch.testing.assert_close(together.image[item : item + 1], alone.image, rtol=0, atol=1e-6)
        assert together.final_terms[item]["total"] == pytest.approx(alone.final_terms[0]["total"], rel=1e-5)
        assert alone.history[-1]["total"] < 1e-2 * alone.history[0]["total"]
    # the history is the batch's sum
    assert together.history[0]["total"] == pytest.approx(float(quadratic(TARGETS, SCALES)(start)["total"].sum()))


def test_records_hold_every_items_terms_before_the_step():
    optimisation = Optimisation(rand(2, 3, 8, 8, seed=2), quadratic(TARGETS, SCALES), FAST)
    before = optimisation.terms()["total"]
    records = steps(optimisation, 3)
    assert records[0, TERMS.index("total")].tolist() == before.tolist()
    assert records[0, TERMS.index("content")].tolist() == before.tolist()
    assert not records[0, TERMS.index("style")].any()  # a term the loss lacks is recorded as 0
    totals = records[:, TERMS.index("total")]
    assert (totals[1:] < totals[:-1]).all()


def test_restarting_one_slot_leaves_the_others_alone():
    loss = quadratic(TARGETS, SCALES)
    first, second, replacement = rand(1, 3, 8, 8, seed=3), rand(1, 3, 8, 8, seed=4), rand(1, 3, 8, 8, seed=5)
    undisturbed = Optimisation(torch.zeros(2, 3, 8, 8), loss, FAST, slots=True)
    restarted = Optimisation(torch.zeros(2, 3, 8, 8), loss, FAST, slots=True)
    for optimisation in (undisturbed, restarted):
        optimisation.restart(0, first)
        optimisation.restart(1, second)
        steps(optimisation, 5)
    restarted.restart(1, replacement)
    assert torch.equal(restarted.image[1], replacement[0])
    steps(undisturbed, 5)
    records = steps(restarted, 5)
    assert torch.equal(restarted.image[0], undisturbed.image[0])  # item 0 never noticed

    # item 1 starts again as a problem of its own: its own scale, a fresh L-BFGS history
    alone = Optimisation(torch.zeros(2, 3, 8, 8), loss, FAST, slots=True)
    alone.restart(1, replacement)
    alone_records = steps(alone, 5)
    torch.testing.assert_close(restarted.image[1], alone.image[1], rtol=0, atol=1e-6)
    torch.testing.assert_close(records[:, :, 1], alone_records[:, :, 1], rtol=1e-5, atol=0)


def test_an_idle_slot_counts_nothing_and_stays_put():
    optimisation = Optimisation(torch.full((2, 3, 8, 8), 0.5), quadratic(TARGETS, SCALES), FAST, slots=True)
    optimisation.restart(0, rand(1, 3, 8, 8, seed=3))
    records = steps(optimisation, 3)
    assert not records[:, :, 1].any() and (records[:, TERMS.index("total"), 0] > 0).all()
    assert torch.equal(optimisation.image[1], torch.full((3, 8, 8), 0.5))
    optimisation.retire(0)
    left = optimisation.image[0].clone()
    steps(optimisation, 2)
    assert torch.equal(optimisation.image[0], left)
    assert not optimisation.terms()["total"].any()


def test_restart_and_retire_need_slots_with_their_own_histories():
    with pytest.raises(ValueError, match="per-item L-BFGS"):
        Optimisation(torch.zeros(1, 3, 8, 8), quadratic(TARGETS[:1], SCALES[:1])).restart(0, torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="slots=True"):
        Optimisation(torch.zeros(1, 3, 8, 8), quadratic(TARGETS[:1], SCALES[:1]), FAST).retire(0)
    with pytest.raises(StylevidError, match="L-BFGS"):
        Optimisation(torch.zeros(2, 3, 8, 8), quadratic(TARGETS, SCALES), OptimiserSettings("adam"), slots=True)


def test_a_frame_alone_in_a_rolling_batch_ends_where_stylize_ends(extractor):
    """The rolling batch and stylize() drive the same loop with the same objective: one frame in a
    one-slot batch (bf16: the sync-free L-BFGS on both sides) is the stand-alone run, bit for bit."""
    config = StyleConfig(size=24, iters=4, device="cpu", precision="bf16", init="noise", tv_weight=1.0)
    engine = StyleTransfer(config, [load_picture(STYLE_FILE, 24)], extractor=extractor)
    content = engine.prepare_content(load_picture(CONTENT_FILE, 24))
    frame = PreparedFrame(Frame(7, 7, 0.0, "7.png", content), content, None, None)
    batch = RollingBatch(
        engine,
        RollingSettings(slots=1, frame_iters=4, temporal_weight=0.0, early_stop=None, from_previous=False),
        *content.shape[:2],
    )
    (finished,) = stylize_rolling(batch, iter([frame]), None, seed_of=lambda position: position)
    alone = engine.stylize(content, seed=7)
    assert finished.iterations == alone.iterations == 4
    assert finished.final == alone.final
    assert np.array_equal(finished.picture, alone.picture)


@pytest.mark.parametrize("fast_lbfgs", [False, True], ids=["torch-lbfgs", "own-lbfgs"])
def test_a_given_first_step_lands_where_the_curvature_says(fast_lbfgs):
    # f = 3·Σ(x − t)²: curvature 6, so a first step of 1/6 along −∇f lands on t; γ for f is 1/6 after it
    target = torch.rand(1, 3, 4, 4) * 0.5 + 0.25

    def loss(x):
        total = 3 * (x - target).pow(2).flatten(1).sum(dim=1)
        return {"total": total}

    record = torch.zeros(len(TERMS), 1)
    settings = OptimiserSettings(fast_lbfgs=fast_lbfgs, history_size=5)
    given = Optimisation(torch.full((1, 3, 4, 4), 0.5), loss, settings, first_step=1 / 6)
    given.step(record)
    assert torch.allclose(given.image, target, atol=1e-5)
    own = Optimisation(torch.full((1, 3, 4, 4), 0.5), loss, settings)
    own.step(record)
    with torch.no_grad():  # L-BFGS's own first step (min(1, 1/|g|₁) along −g) stops far short of it
        assert float(loss(own.image)["total"]) > 0.3 * float(loss(torch.full((1, 3, 4, 4), 0.5))["total"])
    own.step(record)
    assert own.step_scales()[0] == pytest.approx(1 / 6, rel=1e-3)


def test_a_first_step_is_for_lbfgs_and_positive():
    with pytest.raises(ValueError, match="positive"):
        Optimisation(torch.zeros(1, 3, 4, 4), lambda x: {"total": x.sum()}, first_step=0.0)
    with pytest.raises(ValueError, match="L-BFGS"):
        Optimisation(torch.zeros(1, 3, 4, 4), lambda x: {"total": x.sum()}, OptimiserSettings("adam"), first_step=1.0)


def test_the_step_cap_takes_the_engines_lbfgs_and_zero_keeps_torchs():
    start = rand(1, 3, 8, 8, seed=2)
    loss = quadratic(TARGETS[:1], SCALES[1:])
    capped = Optimisation(start, loss, OptimiserSettings(max_step=0.01))
    plain = Optimisation(start, loss, OptimiserSettings(max_step=0.0))
    assert isinstance(capped._stepper, lbfgs.LBFGS) and capped._stepper.max_step_rms == 0.01
    assert isinstance(plain._stepper, torch.optim.LBFGS)
    before = capped.image.detach().clone()
    steps(capped, 6)
    assert (capped.image.detach() - before).pow(2).mean().sqrt() <= 6 * 0.01 * (1 + 1e-6)
