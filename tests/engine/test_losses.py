"""The loss terms against values computed by hand on tiny tensors (Gatys et al. 2016, Ruder et al. 2016)."""

from __future__ import annotations

import pytest
import torch

from stylevid.pipeline.engine.losses import (
    content_loss,
    equal_layer_weights,
    gram_matrix,
    normalized_gram,
    style_layer_loss,
    style_loss,
    temporal_loss,
    tv_loss,
)


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- Gram matrices


def test_gram_matrix_hand_value():
    # N = 2 channels, M = 1×2 positions: F = [[1, 2], [3, 4]], G = F Fᵀ.
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    assert features.shape == (1, 2, 1, 2)
    expected = torch.tensor([[[1 + 4, 3 + 8], [3 + 8, 9 + 16]]], dtype=torch.float32)
    assert torch.equal(gram_matrix(features), expected)


def test_gram_matrix_is_symmetric_and_positive_semidefinite():
    features = rand(3, 5, 4, 6) - 0.5
    gram = gram_matrix(features)
    assert gram.shape == (3, 5, 5)
    torch.testing.assert_close(gram, gram.transpose(1, 2))
    eigenvalues = torch.linalg.eigvalsh(gram.double())
    assert (eigenvalues >= -1e-9 * eigenvalues.abs().max()).all()
    # each batch item is its own Gram matrix
    torch.testing.assert_close(gram[1], gram_matrix(features[1:2])[0])


def test_gram_matrix_is_fp32_for_half_input():
    features = rand(1, 2, 3, 3).half()
    assert gram_matrix(features).dtype == torch.float32


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_gram_gradient_is_that_of_f_times_f_transposed(layout):
    features = (rand(2, 3, 4, 5).double() - 0.5).contiguous(memory_format=layout).requires_grad_(True)
    assert torch.autograd.gradcheck(gram_matrix, (features,))
    weights = rand(2, 3, 3, seed=7).double()
    (gram_matrix(features) * weights).sum().backward()
    flat = features.detach().reshape(2, 3, 20).requires_grad_(True)
    (torch.bmm(flat, flat.transpose(1, 2)) * weights).sum().backward()
    torch.testing.assert_close(features.grad.reshape(2, 3, 20), flat.grad)


def test_gram_of_channels_last_features_equals_the_contiguous_one():
    features = rand(2, 6, 5, 7) - 0.5
    channels_last = features.contiguous(memory_format=torch.channels_last)
    assert not channels_last.is_contiguous()
    torch.testing.assert_close(gram_matrix(channels_last), gram_matrix(features))


def test_gram_of_bf16_features_is_fp32_and_its_gradient_bf16():
    """The fast path's features are bf16: the Gram is exact products summed in fp32, and the
    gradient flows back in bf16, within bf16 rounding of the fp32 one."""
    features = (rand(1, 8, 6, 6) - 0.5).bfloat16().requires_grad_(True)
    upcast = features.detach().float().requires_grad_(True)
    gram, reference = gram_matrix(features), gram_matrix(upcast)
    assert gram.dtype == torch.float32
    torch.testing.assert_close(gram, reference, rtol=1e-6, atol=1e-6)
    weights = rand(1, 8, 8, seed=5)
    (gram * weights).sum().backward()
    (reference * weights).sum().backward()
    assert features.grad.dtype == torch.bfloat16
    torch.testing.assert_close(
        features.grad.float(), upcast.grad, rtol=2e-2, atol=2e-2 * float(upcast.grad.abs().max())
    )


def test_gram_is_fp32_inside_autocast():
    features = rand(1, 4, 3, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gram = gram_matrix(features)
    assert gram.dtype == torch.float32
    torch.testing.assert_close(gram, gram_matrix(features))


def test_normalized_gram_divides_by_positions():
    features = rand(2, 3, 4, 5)
    torch.testing.assert_close(normalized_gram(features), gram_matrix(features) / 20)
    # size independent: the same texture tiled 2×2 has 4× the Gram but the same G/M
    tiled = features.repeat(1, 1, 2, 2)
    torch.testing.assert_close(gram_matrix(tiled), 4 * gram_matrix(features))
    torch.testing.assert_close(normalized_gram(tiled), normalized_gram(features))


# --------------------------------------------------------------------------- content


def test_content_loss_is_zero_at_the_target():
    target = rand(1, 4, 3, 3)
    assert content_loss(target.clone(), target).tolist() == [0.0]


def test_content_loss_hand_value():
    features = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 2, 2)
    target = torch.tensor([0.0, 0.0, 1.0, 1.0]).view(1, 1, 2, 2)
    # ½ Σ (F − P)² = ½ (1 + 4 + 4 + 9) = 9
    assert content_loss(features, target).tolist() == [9.0]


def test_content_loss_target_broadcasts_over_batch():
    target = torch.zeros(1, 1, 2, 2)
    features = torch.stack([torch.full((1, 2, 2), 1.0), torch.full((1, 2, 2), 2.0)])
    # item 0: ½·4·1 = 2, item 1: ½·4·4 = 8
    assert content_loss(features, target).tolist() == [2.0, 8.0]


# --------------------------------------------------------------------------- style


def test_style_layer_loss_hand_value():
    # N = 2 channels, M = 3 positions.
    generated = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]]).view(1, 2, 1, 3)
    style = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]).view(1, 2, 1, 3)
    # G = [[5, 2], [2, 2]], A = [[3, 1], [1, 1]], G − A = [[2, 1], [1, 1]], Σ(G − A)² = 7
    assert gram_matrix(generated).tolist() == [[[5.0, 2.0], [2.0, 2.0]]]
    assert gram_matrix(style).tolist() == [[[3.0, 1.0], [1.0, 1.0]]]
    n, m = 2, 3
    expected = 7.0 / (4 * n**2 * m**2)  # eq. 4: Σ(G − A)² / (4 N² M²)
    value = style_layer_loss(normalized_gram(generated), normalized_gram(style), channels=n)
    assert value.shape == (1,)
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_style_layer_loss_rejects_non_gram_shape():
    with pytest.raises(ValueError):
        style_layer_loss(torch.zeros(2, 2), torch.zeros(2, 2), channels=2)


def test_style_loss_weights_layers():
    a_features, b_features = rand(1, 2, 3, 3, seed=1), rand(1, 4, 2, 2, seed=2)
    a_target, b_target = normalized_gram(rand(1, 2, 3, 3, seed=3)), normalized_gram(rand(1, 4, 2, 2, seed=4))
    features, targets = {"a": a_features, "b": b_features}, {"a": a_target, "b": b_target}
    e_a = style_layer_loss(normalized_gram(a_features), a_target, 2)
    e_b = style_layer_loss(normalized_gram(b_features), b_target, 4)
    assert e_a.item() > 0 and e_b.item() > 0
    torch.testing.assert_close(style_loss(features, targets, {"a": 1.0}), e_a)
    torch.testing.assert_close(style_loss(features, targets, {"a": 2.0, "b": 3.0}), 2 * e_a + 3 * e_b)
    torch.testing.assert_close(style_loss(features, targets, {"a": 0.0, "b": 1.0}), e_b)
    torch.testing.assert_close(style_loss(features, targets, equal_layer_weights(["a", "b"])), (e_a + e_b) / 2)
    with pytest.raises(ValueError):
        style_loss(features, targets, {})


def test_style_loss_is_zero_when_grams_match():
    features = rand(2, 3, 4, 4)
    loss = style_loss({"x": features}, {"x": normalized_gram(features[:1])}, {"x": 1.0})
    assert loss.shape == (2,)
    assert loss[0].item() == 0.0 and loss[1].item() > 0


def test_equal_layer_weights():
    assert equal_layer_weights(["relu1_1", "relu2_1", "relu3_1", "relu4_1"]) == {
        "relu1_1": 0.25,
        "relu2_1": 0.25,
        "relu3_1": 0.25,
        "relu4_1": 0.25,
    }


# --------------------------------------------------------------------------- total variation


def test_tv_loss_of_constant_image_is_zero():
    assert tv_loss(torch.full((2, 3, 5, 7), 0.3)).tolist() == [0.0, 0.0]


def test_tv_loss_hand_value_2x2():
    base = torch.tensor([[0.0, 1.0], [3.0, 5.0]])
    # vertical: (3 − 0)² + (5 − 1)² = 25; horizontal: (1 − 0)² + (5 − 3)² = 5 → 30 per channel
    assert tv_loss(base.view(1, 1, 2, 2)).tolist() == [30.0]
    # three channels scaled 1, 2, 3 → 30·(1 + 4 + 9), summed over channels
    image = torch.stack([base, 2 * base, 3 * base]).unsqueeze(0)
    assert tv_loss(image).tolist() == [420.0]


# --------------------------------------------------------------------------- temporal


def test_temporal_loss_masked_pixels_do_not_count():
    image, warped = rand(1, 3, 4, 4, seed=5), rand(1, 3, 4, 4, seed=6)
    assert temporal_loss(image, warped, torch.zeros(1, 1, 4, 4)).tolist() == [0.0]
    # a pixel masked out may differ arbitrarily without changing the loss
    mask = torch.ones(1, 1, 4, 4)
    mask[..., 1, 2] = 0
    changed = warped.clone()
    changed[..., 1, 2] += 100.0
    torch.testing.assert_close(temporal_loss(image, warped, mask), temporal_loss(image, changed, mask))


def test_temporal_loss_hand_value_divides_by_d():
    # C=3, H=1, W=2 → D = 6; difference 1 everywhere; only the first pixel reliable (3 values)
    image = torch.ones(1, 3, 1, 2)
    warped = torch.zeros(1, 3, 1, 2)
    reliable = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    assert temporal_loss(image, warped, reliable).item() == pytest.approx(3 / 6)
    assert temporal_loss(image, warped, torch.ones(1, 1, 1, 2)).item() == pytest.approx(1.0)
    # soft weights scale the squared difference: c = 0.5 on both pixels, difference 2 → 0.5·4 = 2
    assert temporal_loss(2 * image, warped, torch.full((1, 1, 1, 2), 0.5)).item() == pytest.approx(2.0)


# --------------------------------------------------------------------------- batches and shapes


def test_every_loss_returns_one_value_per_batch_item():
    b = 3
    image, other = rand(b, 3, 8, 8, seed=7), rand(b, 3, 8, 8, seed=8)
    features = rand(b, 4, 4, 4, seed=9)
    target = rand(1, 4, 4, 4, seed=10)
    reliable = (rand(b, 1, 8, 8, seed=11) > 0.5).float()
    grams = {"x": normalized_gram(target)}
    results = {
        "gram": gram_matrix(features),
        "content": content_loss(features, target),
        "style": style_loss({"x": features}, grams, {"x": 1.0}),
        "tv": tv_loss(image),
        "temporal": temporal_loss(image, other, reliable),
    }
    assert results["gram"].shape == (b, 4, 4)
    for name in ("content", "style", "tv", "temporal"):
        assert results[name].shape == (b,), name
    # batch items are independent: item 1 alone gives the same value
    one = slice(1, 2)
    torch.testing.assert_close(results["content"][one], content_loss(features[one], target))
    torch.testing.assert_close(results["style"][one], style_loss({"x": features[one]}, grams, {"x": 1.0}))
    torch.testing.assert_close(results["tv"][one], tv_loss(image[one]))
    torch.testing.assert_close(results["temporal"][one], temporal_loss(image[one], other[one], reliable[one]))


@pytest.mark.parametrize(
    "call",
    [
        lambda: gram_matrix(torch.zeros(2, 3, 4)),
        lambda: normalized_gram(torch.zeros(3, 4)),
        lambda: content_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4)),
        lambda: tv_loss(torch.zeros(3, 4, 4)),
        lambda: temporal_loss(torch.zeros(3, 4, 4), torch.zeros(3, 4, 4), torch.ones(1, 4, 4)),
        lambda: temporal_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5), torch.ones(1, 1, 4, 4)),
        lambda: temporal_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)),
        lambda: temporal_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4), torch.ones(1, 1, 4, 5)),
        lambda: temporal_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4), torch.ones(4, 4)),
    ],
    ids=[
        "gram-3d",
        "normalized-gram-2d",
        "content-3d",
        "tv-3d",
        "temporal-3d",
        "temporal-warped-size",
        "temporal-mask-channels",
        "temporal-mask-size",
        "temporal-mask-2d",
    ],
)
def test_bad_shapes_raise_value_error(call):
    with pytest.raises(ValueError):
        call()
