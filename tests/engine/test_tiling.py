"""Exact tiling (engine/tiling.py): the tiled loss, gradient and stylisation are the whole picture's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import CAFFE_WEIGHTS, CONTENT_FILE, STYLE_FILE, load_picture

from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine.layers import receptive_field
from stylevid.pipeline.engine.losses import equal_layer_weights, normalized_gram
from stylevid.pipeline.engine.objective import Objective
from stylevid.pipeline.engine.tiling import tile_grid, tiled_grams
from stylevid.pipeline.engine.transfer import StyleTransfer
from stylevid.pipeline.engine.vgg import VGG19Features

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CPU = torch.device("cpu")


@pytest.mark.parametrize("layer", ["relu2_1", "relu4_2", "relu5_1"])
def test_receptive_field_is_the_networks(caffe_state, layer):
    # average pooling and float64, so every input pixel the position depends on gets a nonzero gradient
    net = VGG19Features(caffe_state, "caffe", last_layer=layer, pooling="avg").double()
    field = receptive_field(layer)
    p = 96 // field.stride
    x = torch.rand(1, 3, 192, 192, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x.requires_grad_(True)
    net(x, [layer])[layer][0, :, p, p].sum().backward()
    rows = (x.grad[0].abs().sum(dim=(0, 2)) > 0).nonzero().flatten()
    assert (rows.min().item(), rows.max().item()) == (p * field.stride - field.before, p * field.stride + field.after)


def test_tiles_own_every_pixel_once_and_crops_start_on_the_pooling_grid():
    tiles = tile_grid(144, 112, 64, ["relu4_2", *STYLE_LAYERS])
    owned = np.zeros((144, 112), dtype=int)
    for t in tiles:
        owned[t.top : t.bottom, t.left : t.right] += 1
        assert t.crop_top % 16 == 0 and t.crop_left % 16 == 0
        assert 0 <= t.crop_top <= t.top and t.bottom <= t.crop_bottom <= 144
        assert t.crop_top == max(0, t.top - 80) and t.crop_bottom == min(144, t.bottom + 70)  # relu5_1's halo
    assert (owned == 1).all() and len(tiles) == 3 * 2
    with pytest.raises(ValueError, match="multiple of 16"):
        tile_grid(144, 112, 72, STYLE_LAYERS)


def _terms_and_gradient(extractor, tile, content, x, grams, *, temporal=False):
    items, _, height, width = x.shape
    objective = Objective(
        extractor,
        items=items,
        height=height,
        width=width,
        device=CPU,
        content_layer="relu4_2",
        layer_weights=equal_layer_weights(STYLE_LAYERS),
        content_weight=1.0,
        style_weight=1e3,
        tv_weight=10.0,
        temporal_weight=1e4 if temporal else 0.0,
        moving_targets=temporal,
        tile=tile,
    )
    objective.set_content(content)
    objective.set_style(grams)
    if temporal:
        objective.set_temporal_target(0, content[:1], torch.ones(1, 1, height, width))
        drift = torch.full((1, 2, height, width), 1.5)
        reliable = (torch.rand(1, 1, height, width, generator=torch.Generator().manual_seed(3)) > 0.3).float()
        objective.follow(1, 0, drift, reliable)
    image = x.clone().requires_grad_(True)
    terms = objective(image)
    (terms["total"] * torch.tensor([1.0, 0.5][:items])).sum().backward()  # items weighted apart, as the loop does
    return {name: value.detach() for name, value in terms.items()}, image.grad


@pytest.mark.parametrize("height, width, items", [(128, 128, 1), (144, 112, 2)])
def test_tiled_loss_and_gradient_equal_the_whole_pictures(extractor, height, width, items):
    generator = torch.Generator().manual_seed(1)
    content = torch.rand(items, 3, height, width, generator=generator)
    x = torch.rand(items, 3, height, width, generator=generator)
    with torch.no_grad():
        style = extractor(torch.rand(1, 3, 96, 80, generator=generator), STYLE_LAYERS)
    grams = {layer: normalized_gram(style[layer]) for layer in STYLE_LAYERS}
    temporal = items > 1
    whole, whole_grad = _terms_and_gradient(extractor, None, content, x, grams, temporal=temporal)
    tiled, tiled_grad = _terms_and_gradient(extractor, 64, content, x, grams, temporal=temporal)
    assert set(tiled) == set(whole) == {"content", "style", "tv", "total", *(["temporal"] if temporal else [])}
    for name in whole:
        torch.testing.assert_close(tiled[name], whole[name], rtol=2e-6, atol=0)
    # to float32 rounding: a halo 16 px too narrow errs by ~1e-5 of the largest gradient here
    assert (tiled_grad - whole_grad).abs().max() <= 2e-6 * whole_grad.abs().max()


def test_tiled_grams_equal_the_whole_pictures(extractor):
    image = torch.rand(1, 3, 112, 160, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        feats = extractor(image, STYLE_LAYERS)
    tiled = tiled_grams(extractor, image, STYLE_LAYERS, 64)
    for layer in STYLE_LAYERS:
        torch.testing.assert_close(tiled[layer], normalized_gram(feats[layer]), rtol=1e-5, atol=1e-3)


def test_a_tiled_stylisation_is_the_untiled_one(extractor):
    # L-BFGS amplifies float rounding once its curvature pairs are noisy (here from the third step on,
    # where the loss first rises), as it would between two machines: compare the first two steps
    content = load_picture(CONTENT_FILE, 128)
    style = load_picture(STYLE_FILE, 128)
    config = StyleConfig(size=128, iters=2, weights=str(CAFFE_WEIGHTS), weights_format="caffe", device="cpu")
    whole = StyleTransfer(config, [style], extractor=extractor).stylize(content)
    tiled = StyleTransfer(config.replace(tile=64), [style], extractor=extractor).stylize(content)
    assert whole.image is not None and tiled.image is not None
    assert (tiled.image - whole.image).abs().max() < 1e-5
    assert len(tiled.history) == len(whole.history) == 3
    for before, after in zip(whole.history, tiled.history):
        for term in ("content", "style", "total"):
            assert after[term] == pytest.approx(before[term], rel=1e-5)
    assert whole.history[2]["total"] < 0.9 * whole.history[0]["total"]  # the steps did change the picture
