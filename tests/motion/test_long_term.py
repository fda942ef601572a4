"""Long-term weights (Ruder et al. 2016, sec. 3.2): closest first, c_long = max(c − Σ closer c, 0)."""

from __future__ import annotations

import pytest
import torch

from stylevid.pipeline.engine.losses import temporal_loss
from stylevid.pipeline.motion.long_term import combined_target, long_term_weights


def masks(*rows: list[float]) -> list[torch.Tensor]:
    """One (1, 1, 1, W) mask per row."""
    return [torch.tensor(row, dtype=torch.float32).view(1, 1, 1, -1) for row in rows]


def test_each_pixel_is_held_to_the_nearest_frame_that_saw_it():
    # pixels:        seen by t−1 only, t−1 and t−2, t−2 only, t−4 only, t−2 and t−4, nobody, all three
    c1, c2, c4 = masks(
        [1, 1, 0, 0, 0, 0, 1],
        [0, 1, 1, 0, 1, 0, 1],
        [0, 0, 0, 1, 1, 0, 1],
    )
    w1, w2, w4 = long_term_weights([c1, c2, c4])
    assert w1.flatten().tolist() == [1, 1, 0, 0, 0, 0, 1]
    assert w2.flatten().tolist() == [0, 0, 1, 0, 1, 0, 0]
    assert w4.flatten().tolist() == [0, 0, 0, 1, 0, 0, 0]


def test_fractional_weights_follow_the_formula():
    c1, c2, c4 = masks([0.5, 0.25, 0.0], [1.0, 0.5, 0.5], [1.0, 1.0, 0.75])
    w1, w2, w4 = long_term_weights([c1, c2, c4])
    assert w1.flatten().tolist() == [0.5, 0.25, 0.0]
    assert w2.flatten().tolist() == [0.5, 0.25, 0.5]  # max(c2 − c1, 0)
    assert w4.flatten().tolist() == [0.0, 0.25, 0.25]  # max(c4 − c1 − c2, 0)


def test_one_gap_is_the_short_term_mask():
    (c1,) = masks([1, 0, 1])
    (w1,) = long_term_weights([c1])
    assert torch.equal(w1, c1)


def test_the_combined_term_equals_the_sum_of_the_terms():
    """With binary masks one temporal term against the combined target is the paper's sum, value and gradient."""
    generator = torch.Generator().manual_seed(0)
    shape = (1, 3, 4, 5)
    image = torch.rand(shape, generator=generator, requires_grad=True)
    warped = [torch.rand(shape, generator=generator) for _ in range(3)]
    reliable = [(torch.rand(1, 1, 4, 5, generator=generator) > 0.4).float() for _ in range(3)]
    weights = long_term_weights(reliable)
    summed = sum(temporal_loss(image, w, c) for w, c in zip(warped, weights))
    (grad_sum,) = torch.autograd.grad(summed, image)
    target, mask = combined_target(warped, weights)
    single = temporal_loss(image, target, mask)
    (grad_single,) = torch.autograd.grad(single, image)
    assert float(single) == pytest.approx(float(summed), rel=1e-6)
    assert torch.allclose(grad_single, grad_sum, atol=1e-7)
    assert float(mask.max()) <= 1.0  # disjoint: every pixel held to one frame at most


def test_uncovered_pixels_fall_back_to_the_frame_before():
    warped = [torch.full((1, 3, 1, 2), 0.2), torch.full((1, 3, 1, 2), 0.9)]
    target, mask = combined_target(warped, masks([0, 0], [1, 0]))
    assert mask.flatten().tolist() == [1, 0]
    assert target[0, :, 0, 0].tolist() == pytest.approx([0.9] * 3)  # held to t−2 there
    assert target[0, :, 0, 1].tolist() == pytest.approx([0.2] * 3)  # weight 0: the frame before, unused


def test_masks_must_match():
    with pytest.raises(ValueError):
        long_term_weights([torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 3)])
    with pytest.raises(ValueError):
        long_term_weights([])
