"""End-to-end stylisation with the real shared VGG19 weights at tiny sizes, the config, and the loop."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from conftest import CAFFE_WEIGHTS, CONTENT_FILE, MEDIA, STYLE_FILE, load_picture
from PIL import Image

from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine import color, lbfgs
from stylevid.pipeline.engine.optimize import EarlyStop, optimize
from stylevid.pipeline.engine.snapshots import snapshot_iterations
from stylevid.pipeline.engine.transfer import StyleTransfer, Stylized, stylize_image
from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io import images
from stylevid.pipeline.render.animation import save_progress_gif

HOKUSAI_FILE = MEDIA / "styles" / "hokusai_great_wave.jpg"
CAT_FILE = MEDIA / "content" / "chelsea_cat.png"


def run(config: StyleConfig, content: np.ndarray, styles: list[np.ndarray], extractor, **kwargs) -> Stylized:
    engine = StyleTransfer(config, styles, extractor=extractor)
    return engine.stylize(engine.prepare_content(content), **kwargs)


def style_drop(result: Stylized) -> float:
    return result.history[0]["style"] / result.history[-1]["style"]


# --------------------------------------------------------------------------- real stylisation


def test_noise_init_lbfgs_learns_the_style(tiny_config, content_picture, style_picture, extractor):
    config = tiny_config.replace(init="noise", iters=40)
    result = run(config, content_picture, [style_picture], extractor)

    assert result.picture.shape == (48, 64, 3) and result.picture.dtype == np.uint8
    assert result.iterations == 40 and len(result.history) == 41
    assert [row["iteration"] for row in result.history] == list(range(41))
    history = result.history
    # measured: style 4.9e12 → 1.1e11 (≈43×), total falls to ≈2.5 % of its start
    assert style_drop(result) >= 10
    assert history[-1]["total"] < 0.2 * history[0]["total"]
    totals = [row["total"] for row in history]
    falling = sum(b <= a for a, b in zip(totals, totals[1:]))
    assert falling >= 0.8 * (len(totals) - 1), totals
    for row in history:
        assert row["total"] == pytest.approx(row["content"] + row["style"], rel=1e-5)
        assert row["tv"] == 0.0 and row["temporal"] == 0.0
    assert result.final["total"] == pytest.approx(history[-1]["total"], rel=1e-6)
    # the result is a picture, not noise around grey any more
    assert result.picture.std() > 20


def test_content_init_lbfgs_learns_the_style(tiny_config, content_picture, style_picture, extractor):
    result = run(tiny_config.replace(init="content", iters=25), content_picture, [style_picture], extractor)
    assert result.history[0]["content"] == 0.0  # starts at the content photo itself
    assert style_drop(result) >= 10  # measured ≈ 24× (18.6× at 20 iterations)
    assert result.history[-1]["total"] < 0.2 * result.history[0]["total"]


def test_a_short_run_allocates_only_the_pairs_it_can_make(
    tiny_config, content_picture, style_picture, extractor, monkeypatch
):
    """N iterations form fewer than N curvature pairs, so the engine's L-BFGS (which allocates its
    whole ring at the start) gets min(history, N) of them; the budget counts the same (test_budget)."""
    made: list[tuple[int, int]] = []
    real_init = lbfgs.LBFGS.__init__

    def recording_init(self, param, **kwargs):
        real_init(self, param, **kwargs)
        made.append((self.history_size, self._W.shape[1]))

    monkeypatch.setattr(lbfgs.LBFGS, "__init__", recording_init)
    engine = StyleTransfer(tiny_config.replace(history_size=100), [style_picture], extractor=extractor)
    content = engine.prepare_content(content_picture)
    short = engine.stylize(content, iters=7)
    engine.stylize(content, iters=101)
    assert made == [(7, 14), (100, 200)]
    assert short.history[-1]["total"] < short.history[0]["total"]


def test_a_cold_start_counts_its_first_iteration_and_a_warm_start_keeps_lbfgs_own_first_step(
    tiny_config, content_picture, style_picture, extractor
):
    """From the photo (a cold start) L-BFGS's first step is half the step cap's size, so the first
    iteration already lowers the loss; L-BFGS's own first step, min(1, 1/|g|₁), leaves it where it
    was (--max-step 0, and a warm start: a stylised picture, where a long first step would overshoot)."""
    engine = StyleTransfer(tiny_config, [style_picture], extractor=extractor)
    content = engine.prepare_content(content_picture)
    cold = engine.stylize(content, init="content", iters=3)
    assert cold.history[1]["total"] < 0.8 * cold.history[0]["total"]  # measured 0.65
    plain = StyleTransfer(tiny_config.replace(max_step=0.0), [style_picture], extractor=extractor)
    own = plain.stylize(content, init="content", iters=3)
    assert own.history[1]["total"] > 0.98 * own.history[0]["total"]  # measured 0.992
    warm = engine.stylize(content, init=cold.picture, iters=3)
    assert warm.history[1]["total"] > 0.98 * warm.history[0]["total"]  # measured 0.990


def test_adam_also_lowers_the_loss(tiny_config, content_picture, style_picture, extractor):
    config = tiny_config.replace(size=48, optimizer="adam", init="content", iters=15)
    result = run(config, content_picture, [style_picture], extractor)
    assert result.picture.shape == (36, 48, 3)
    assert result.history[-1]["total"] < 0.5 * result.history[0]["total"]
    assert style_drop(result) > 2


def test_same_seed_is_bit_identical_and_another_seed_differs(tiny_config, content_picture, style_picture, extractor):
    config = tiny_config.replace(size=32, iters=6, init="noise", seed=7)
    first = run(config, content_picture, [style_picture], extractor)
    again = run(config, content_picture, [style_picture], extractor)
    other = run(config.replace(seed=8), content_picture, [style_picture], extractor)
    assert np.array_equal(first.picture, again.picture)
    assert first.history == again.history
    assert not np.array_equal(first.picture, other.picture)
    assert first.history[0]["total"] != other.history[0]["total"]


def _chroma(picture: np.ndarray) -> torch.Tensor:
    return color.rgb_to_yiq(images.to_tensor(picture))[:, 1:]


def test_preserve_colors_keeps_the_content_chroma(tiny_config, content_picture, style_picture, extractor):
    config = tiny_config.replace(size=48, init="content", iters=10)
    engine = StyleTransfer(config.replace(preserve_colors=True), [style_picture], extractor=extractor)
    content = engine.prepare_content(content_picture)
    kept = engine.stylize(content)
    changed = run(config, content_picture, [style_picture], extractor)

    kept_error = float((_chroma(kept.picture) - _chroma(content)).abs().mean())
    changed_error = float((_chroma(changed.picture) - _chroma(content)).abs().mean())
    assert kept_error < 0.005  # only clamping and 8-bit rounding
    assert changed_error > 3 * kept_error and changed_error > 0.01
    # the style still did something: the luminance moved away from the content's
    luma = lambda p: color.rgb_to_yiq(images.to_tensor(p))[:, :1]  # noqa: E731
    assert float((luma(kept.picture) - luma(content)).abs().mean()) > 0.01
    assert style_drop(kept) > 2


def test_several_styles_blend(tiny_config, content_picture, style_picture, extractor):
    hokusai = load_picture(HOKUSAI_FILE)
    config = tiny_config.replace(size=32, iters=4, init="content")
    only_starry = run(config, content_picture, [style_picture], extractor)
    starry_weighted = run(config.replace(style_blend=(1.0, 0.0)), content_picture, [style_picture, hokusai], extractor)
    hokusai_weighted = run(config.replace(style_blend=(0.0, 2.0)), content_picture, [style_picture, hokusai], extractor)
    only_hokusai = run(config, content_picture, [hokusai], extractor)
    half = run(config, content_picture, [style_picture, hokusai], extractor)  # None → equal weights

    assert np.array_equal(starry_weighted.picture, only_starry.picture)  # weight 0 → no influence
    assert np.array_equal(hokusai_weighted.picture, only_hokusai.picture)  # weights are normalised
    assert not np.array_equal(half.picture, only_starry.picture)
    assert not np.array_equal(half.picture, only_hokusai.picture)


def test_style_blend_of_wrong_length_is_refused(tiny_config, style_picture, extractor):
    with pytest.raises(StylevidError, match="2 style weights given for 1 style images"):
        StyleTransfer(tiny_config.replace(style_blend=(1.0, 2.0)), [style_picture], extractor=extractor)
    with pytest.raises(StylevidError):
        StyleTransfer(tiny_config, [], extractor=extractor)


def test_style_scale_changes_the_style_target(tiny_config, content_picture, style_picture, extractor):
    config = tiny_config.replace(size=48, iters=2, init="content")
    results = {
        scale: run(config.replace(style_scale=scale), content_picture, [style_picture], extractor)
        for scale in (0.5, 1.0, 1.5)
    }
    starts = [r.history[0]["style"] for r in results.values()]  # same start image, three style targets
    for i, a in enumerate(starts):  # measured 6.2e12, 2.2e12, 1.8e12
        for b in starts[i + 1 :]:
            assert abs(a - b) > 0.05 * max(a, b), starts
    for result in results.values():
        assert result.picture.shape == (36, 48, 3)  # the output keeps the content's size
        assert all(math.isfinite(row["total"]) for row in result.history)
        assert result.history[-1]["total"] < result.history[0]["total"]


def test_init_from_an_image_path(tiny_config, content_picture, style_picture, extractor, tmp_path):
    config = tiny_config.replace(size=32, iters=1)
    engine = StyleTransfer(config, [style_picture], extractor=extractor)
    content = engine.prepare_content(content_picture)
    start = tmp_path / "start.png"
    images.save_image(start, content)
    from_content_file = engine.stylize(content, init=str(start), snapshot_at=[0])
    assert from_content_file.snapshots[0][0] == 0
    assert np.array_equal(from_content_file.snapshots[0][1], content)  # same size: loaded as is
    assert from_content_file.history[0]["content"] == 0.0

    cat = engine.stylize(content, init=str(CAT_FILE), snapshot_at=[0])
    cat_start = images.resize(images.load_image(CAT_FILE), content.shape[1], content.shape[0])
    assert np.array_equal(cat.snapshots[0][1], cat_start)  # resized to the content's size
    assert cat.history[0]["content"] > 0
    # the config's init takes an image path too
    by_config = run(config.replace(init=str(start)), content_picture, [style_picture], extractor, snapshot_at=[0])
    assert np.array_equal(by_config.snapshots[0][1], content)
    with pytest.raises(StylevidError):
        engine.stylize(content, init=str(tmp_path / "missing.png"))


def test_snapshots_come_back_in_order(tiny_config, content_picture, style_picture, extractor):
    config = tiny_config.replace(size=32, iters=5, init="content")
    engine = StyleTransfer(config, [style_picture], extractor=extractor)
    content = engine.prepare_content(content_picture)
    result = engine.stylize(content, snapshot_at=[5, 0, 3, 1])
    assert [i for i, _ in result.snapshots] == [0, 1, 3, 5]
    assert all(p.shape == content.shape and p.dtype == np.uint8 for _, p in result.snapshots)
    assert np.array_equal(result.snapshots[0][1], content)
    assert np.array_equal(result.snapshots[-1][1], result.picture)
    assert not np.array_equal(result.snapshots[1][1], result.snapshots[3][1])


@pytest.fixture(scope="module")
def default_api_result() -> Stylized:
    """stylize_image from file paths with only size/iters/device set: weights come from $STYLEVID_WEIGHTS."""
    return stylize_image(CONTENT_FILE, [STYLE_FILE], StyleConfig(size=32, iters=7, device="cpu"))


def test_stylize_image_default_snapshots(default_api_result):
    assert StyleConfig().weights is None  # the default defers to $STYLEVID_WEIGHTS, then torchvision
    assert [i for i, _ in default_api_result.snapshots] == [0, *snapshot_iterations(7)] == [0, 1, 2, 5, 7]
    assert default_api_result.picture.shape == (24, 32, 3)
    assert default_api_result.iterations == 7
    assert default_api_result.history[-1]["total"] < default_api_result.history[0]["total"]


def test_progress_gif_has_one_frame_per_snapshot(default_api_result, tmp_path):
    path = save_progress_gif(default_api_result.snapshots, tmp_path / "progress.gif")
    with Image.open(path) as gif:
        assert gif.n_frames == len(default_api_result.snapshots) == 5
        assert gif.size == (32, 24)


def test_default_engine_uses_the_environment_weights(style_picture):
    engine = StyleTransfer(StyleConfig(size=32, iters=1, device="cpu"), [style_picture])
    assert engine.extractor.convention == "caffe"  # from $STYLEVID_WEIGHTS_FORMAT set by conftest


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "changes",
    [
        {"size": 0},
        {"size": -64},
        {"size": 8},
        {"size": 64.0},
        {"iters": 0},
        {"iters": -1},
        {"iters": True},
        {"content_weight": float("nan")},
        {"style_weight": float("nan")},
        {"tv_weight": float("inf")},
        {"style_weight": -1.0},
        {"style_scale": 0.0},
        {"lr": 0.0},
        {"content_layer": "relu9_1"},
        {"style_layers": ("relu1_1", "fc7")},
        {"style_layers": ()},
        {"style_layer_weights": (1.0, 2.0)},
        {"style_layer_weights": (1.0,) * 4 + (float("nan"),)},
        {"style_blend": (0.0, 0.0)},
        {"style_blend": (float("nan"),)},
        {"optimizer": "sgd"},
        {"pooling": "median"},
        {"precision": "fp8"},
        {"weights_format": "rgb"},
        {"init": ""},
        {"history_size": 0},
        {"seed": 1.5},
    ],
    ids=lambda c: ",".join(f"{k}={v!r}" for k, v in c.items()),
)
def test_config_validation(changes):
    with pytest.raises(StylevidError):
        StyleConfig(**changes)
    with pytest.raises(StylevidError):
        StyleConfig().replace(**changes)


def test_config_accepts_valid_settings():
    config = StyleConfig(
        size=16,
        iters=1,
        style_layers=("relu1_1", "relu3_1"),
        style_layer_weights=(0.25, 0.75),
        style_blend=(1.0, 0.0),
        style_weight=1e3,
        optimizer="adam",
        pooling="avg",
        init="x.png",
    )
    assert config.style_layer_weights == (0.25, 0.75)


def test_config_round_trip():
    config = StyleConfig(
        size=96,
        iters=33,
        style_layers=("relu1_1", "relu2_1"),
        style_layer_weights=(2.0, 1.0),
        style_blend=(1.0, 3.0),
        tv_weight=0.5,
        optimizer="adam",
        lr=0.05,
        preserve_colors=True,
        weights=str(CAFFE_WEIGHTS),
        weights_format="caffe",
        device="cpu",
        seed=11,
    )
    assert StyleConfig.from_dict(config.to_dict()) == config
    through_json = StyleConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert through_json == config
    assert isinstance(through_json.style_layers, tuple)
    # unknown keys (e.g. from a newer version's record) are ignored
    assert StyleConfig.from_dict({**config.to_dict(), "future_field": 1}) == config
    assert set(config.to_dict()) == {f.name for f in dataclasses.fields(StyleConfig)}


# --------------------------------------------------------------------------- the optimisation loop


def _quadratic(target: torch.Tensor):
    def loss_fn(image: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"total": (image - target).pow(2).flatten(1).sum(dim=1)}

    return loss_fn


def test_early_stop_ends_a_converged_run():
    target = torch.full((1, 3, 8, 8), 0.3)
    start = torch.full((1, 3, 8, 8), 0.9)
    stop = EarlyStop(window=5, tolerance=1e-3, min_iters=5)
    result = optimize(start, _quadratic(target), iters=200, early_stop=stop)
    assert result.stopped_early
    assert result.iterations < 200 and result.iterations % 5 == 0
    assert len(result.history) == result.iterations + 1
    assert result.history[-1]["total"] < 1e-6 * result.history[0]["total"]
    torch.testing.assert_close(result.image, target, atol=1e-4, rtol=0)
    # without early stopping the loop runs every iteration asked for
    full = optimize(start, _quadratic(target), iters=30)
    assert full.iterations == 30 and not full.stopped_early and len(full.history) == 31


def test_early_stop_does_not_stop_a_run_still_improving():
    target = torch.full((1, 3, 8, 8), 0.3)
    start = torch.full((1, 3, 8, 8), 0.9)
    slow = optimize(
        start,
        _quadratic(target),
        iters=20,
        method="adam",
        lr=0.01,
        early_stop=EarlyStop(window=5, tolerance=1e-3, min_iters=5),
    )
    assert slow.iterations == 20 and not slow.stopped_early
