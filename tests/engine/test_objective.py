"""The loss object: the paper's weighted terms against targets it holds, set and replaced per batch item."""

from __future__ import annotations

import pytest
import torch
from conftest import CONTENT_FILE, STYLE_FILE, load_picture

from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine.losses import content_loss, normalized_gram, style_loss, tv_loss
from stylevid.pipeline.engine.transfer import StyleTransfer
from stylevid.pipeline.io.images import resize_long_side, to_tensor

SIDE = 24


@pytest.fixture(scope="module")
def engine(extractor) -> StyleTransfer:
    config = StyleConfig(size=SIDE, device="cpu", content_weight=2.0, tv_weight=3.0)
    return StyleTransfer(config, [load_picture(STYLE_FILE, SIDE)], extractor=extractor)


@pytest.fixture(scope="module")
def pictures(engine):
    """Two different same-sized content pictures."""
    content = engine.prepare_content(load_picture(CONTENT_FILE, SIDE))
    return content, content[:, ::-1].copy()


def image_of(*pictures) -> torch.Tensor:
    return torch.cat([to_tensor(p) for p in pictures])


def test_terms_are_the_papers_weighted_losses_per_item(engine, extractor, pictures):
    height, width = pictures[0].shape[:2]
    objective = engine.objective(2, height, width)
    engine.set_contents(objective, pictures)
    image = torch.rand(2, 3, height, width, generator=torch.Generator().manual_seed(0))
    terms = objective(image)

    cfg = engine.config
    feats = extractor(image, {cfg.content_layer, *cfg.style_layers})
    target = extractor(image_of(*pictures), [cfg.content_layer])[cfg.content_layer]
    style = extractor(to_tensor(resize_long_side(load_picture(STYLE_FILE, SIDE), SIDE)), cfg.style_layers)
    grams = {layer: normalized_gram(style[layer]) for layer in cfg.style_layers}
    expected = {
        "content": 2.0 * content_loss(feats[cfg.content_layer], target),
        "style": engine.style_weight_for(pictures[0]) * style_loss(feats, grams, engine.layer_weights),
        "tv": 3.0 * tv_loss(image),
    }
    assert set(terms) == {"content", "style", "tv", "total"}
    for name, value in expected.items():
        assert terms[name].shape == (2,)
        torch.testing.assert_close(terms[name], value, rtol=1e-5, atol=0)
    torch.testing.assert_close(terms["total"], sum(expected.values()), rtol=1e-5, atol=0)


def test_content_target_of_one_item_is_replaced_alone(engine, pictures):
    first, second = pictures
    objective = engine.objective(2, *first.shape[:2])
    engine.set_contents(objective, [first, second])
    image = image_of(first, first)
    before = objective(image)
    assert before["content"][0] < 1e-6 * before["content"][1]  # item 0 sits on its target, item 1 does not

    engine.set_contents(objective, [first], items=[1])
    after = objective(image)
    assert after["content"][1] < 1e-6 * before["content"][1]
    assert after["content"][0] == before["content"][0]
    torch.testing.assert_close(after["style"], before["style"], rtol=0, atol=0)


def test_style_targets_are_replaced_in_place(engine, extractor, pictures):
    picture = pictures[0]
    objective = engine.objective(1, *picture.shape[:2])
    engine.set_contents(objective, [picture])
    image = image_of(picture)
    assert objective(image)["style"][0] > 0
    own = extractor(image, engine.config.style_layers)
    objective.set_style({layer: normalized_gram(own[layer]) for layer in engine.config.style_layers})
    assert objective(image)["style"][0] == 0
    fresh = engine.objective(1, *picture.shape[:2])  # the engine's own style targets are untouched
    engine.set_contents(fresh, [picture])
    assert fresh(image)["style"][0] > 0


def test_temporal_term_compares_with_a_fixed_target_where_reliable(engine, pictures):
    picture = pictures[0]
    height, width = picture.shape[:2]
    objective = engine.objective(1, height, width, temporal_weight=2.0)
    engine.set_contents(objective, [picture])
    target = torch.full((1, 3, height, width), 0.5)
    reliable = torch.zeros(1, 1, height, width)
    reliable[..., : height // 2, :] = 1  # the lower half is occluded
    objective.set_temporal_target(0, target, reliable)
    assert objective(target)["temporal"][0] == 0
    image = target + 0.1
    image[..., height // 2 :, :] = 0.9  # differences where nothing is compared do not count
    # λ_t · Σ c·(x − ω)² / D = 2 · 0.1² · (3·⌊H/2⌋·W) / (3·H·W)
    assert float(objective(image)["temporal"][0]) == pytest.approx(2 * 0.01 * (height // 2) / height, rel=1e-5)
    objective.set_temporal_target(0, image)  # a new target; the mask stays
    assert objective(image)["temporal"][0] == 0


def test_an_item_follows_another_as_it_is_optimised_until_fixed(engine, pictures):
    first, second = pictures
    height, width = first.shape[:2]
    objective = engine.objective(2, height, width, temporal_weight=1.0, moving_targets=True)
    engine.set_contents(objective, [first, second])
    ones = torch.ones(1, 1, height, width)
    objective.set_temporal_target(0, image_of(first), ones)
    objective.follow(1, 0, torch.zeros(1, 2, height, width), ones)  # zero flow: the target is item 0 itself

    def temporal_and_pull(image: torch.Tensor) -> tuple[float, float]:
        """(item 1's temporal term, size of its gradient on item 0)."""
        image = image.clone().requires_grad_(True)
        term = objective(image)["temporal"][1]
        term.backward()
        return float(term.detach()), float(image.grad[0].abs().sum())

    image = image_of(first, second)
    expected = float((image[1] - image[0]).pow(2).mean())
    moving, pull = temporal_and_pull(image)
    assert moving == pytest.approx(expected, rel=1e-5) and pull > 0
    objective.set_temporal_target(1, image[:1])  # its predecessor left: the same picture, now fixed
    fixed, pull = temporal_and_pull(image)
    assert fixed == pytest.approx(expected, rel=1e-5) and pull == 0


def test_objective_refuses_what_it_was_not_made_for(engine, pictures):
    picture = pictures[0]
    height, width = picture.shape[:2]
    plain = engine.objective(2, height, width)
    with pytest.raises(RuntimeError, match="targets first"):
        plain(image_of(picture, picture))
    with pytest.raises(ValueError, match="1 content images for 2 items"):
        engine.set_contents(plain, [picture])
    with pytest.raises(ValueError, match="no temporal term"):
        plain.set_temporal_target(0, image_of(picture))
    fixed_only = engine.objective(2, height, width, temporal_weight=1.0)
    with pytest.raises(ValueError, match="moving_targets"):
        fixed_only.follow(1, 0, torch.zeros(1, 2, height, width), torch.ones(1, 1, height, width))
