"""Coarse-to-fine runs (engine/stages.py, engine/pyramid.py): the stages planned, run and joined."""

from __future__ import annotations

import numpy as np
import pytest

from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine.pyramid import stylize_in_stages
from stylevid.pipeline.engine.stages import (
    Stage,
    auto_sizes,
    default_stage_iters,
    halving_sizes,
    plan_stages,
)
from stylevid.pipeline.engine.transfer import StyleTransfer, upsample
from stylevid.pipeline.errors import StylevidError


def test_auto_goes_coarse_to_fine_from_1024_px_and_never_below_512():
    assert auto_sizes(512) == (512,)
    assert auto_sizes(1023) == (1023,)
    assert auto_sizes(1024) == (512, 1024)
    assert auto_sizes(2047) == (1023, 2047)
    assert auto_sizes(3000) == (750, 1500, 3000)
    assert auto_sizes(4096) == (512, 1024, 2048, 4096)


def test_scales_halve_down_from_the_size():
    assert halving_sizes(2048, 3) == (512, 1024, 2048)
    assert halving_sizes(1000, 2) == (500, 1000)
    assert halving_sizes(100, 3) == (100,)  # 50 px would be below the 64 px floor


def test_default_budgets_halve_stage_by_stage():
    assert default_stage_iters(500, 3) == (500, 250, 125)
    assert default_stage_iters(2, 3) == (2, 1, 1)
    assert plan_stages("off", 2048, 300) == [Stage(2048, 300)]
    assert plan_stages("auto", 2048, 300) == [Stage(512, 300), Stage(1024, 150), Stage(2048, 75)]
    assert plan_stages((256, 512), 512, 300, (40, 10)) == [Stage(256, 40), Stage(512, 10)]


@pytest.mark.parametrize(
    "changes, words",
    [
        (dict(size=512, pyramid=(1024, 512)), "must increase"),
        (dict(size=512, pyramid=(256, 256, 512)), "must increase"),
        (dict(size=512, pyramid=(256,)), "the last --pyramid stage must be the --size (512 px)"),
        (dict(size=512, pyramid=(32, 512)), "at least 64 px"),
        (dict(size=512, pyramid=(256.0, 512)), "whole numbers"),
        (dict(size=512, pyramid="on"), "auto, off or stage sizes"),
        (dict(size=512, pyramid=()), "auto, off or stage sizes"),
        (dict(size=512, pyramid=(256, 512), pyramid_iters=(10,)), "1 budgets for 2 stage(s)"),
        (dict(size=2048, pyramid_iters=(10, 5)), "2 budgets for 3 stage(s)"),  # auto: 512, 1024, 2048
        (dict(size=512, pyramid=(256, 512), pyramid_iters=(10, -1)), "at least 1"),
    ],
)
def test_bad_pyramids_are_refused_by_the_config(changes, words):
    with pytest.raises(StylevidError) as raised:
        StyleConfig(**changes)
    assert words in str(raised.value)


def test_a_run_through_stages_joins_them_at_the_final_size(extractor, content_picture, style_picture):
    config = StyleConfig(size=96, pyramid=(64, 96), iters=3, device="cpu")
    engine = StyleTransfer(config, [style_picture], extractor=extractor)
    content = engine.prepare_content(content_picture)  # 96×72
    told = []
    reports = []
    result = stylize_in_stages(
        engine,
        content,
        engine.stages(),
        snapshots=True,
        on_stage=lambda index, count, stage: told.append((index, count, stage)),
        on_report=lambda iteration, losses: reports.append(iteration),
    )
    assert told == [(0, 2, Stage(64, 3)), (1, 2, Stage(96, 1))]
    assert result.picture.shape == content.shape and result.iterations == 4
    assert [(s["size"], s["iterations"]) for s in result.stages] == [([64, 48], 3), ([96, 72], 1)]
    # the history runs on through the stages, each row tagged with its stage; the last row is the result's loss
    assert [(row["iteration"], row["stage"]) for row in result.history] == [
        (0, 1), (1, 1), (2, 1), (3, 1), (3, 2), (4, 2)
    ]  # fmt: skip
    assert result.history[-1]["total"] == pytest.approx(result.final["total"])
    # snapshots of every stage, at the final size, iterations increasing
    assert [i for i, _ in result.snapshots] == [0, 1, 2, 3, 4]
    assert {picture.shape for _, picture in result.snapshots} == {content.shape}
    # each stage's reports count from 1 (and repeat its last iteration with the final loss)
    assert reports == [1, 2, 3, 3, 1, 1]
    # stage 2 started from stage 1's result, upsampled: already stylised, its style loss is below the content's
    from_content = engine.stylize(content, iters=1).history[0]
    assert result.stages[1]["initial_losses"]["style"] < 0.8 * from_content["style"]


def test_a_given_beta_is_scaled_to_each_stage(extractor, content_picture, style_picture):
    config = StyleConfig(size=96, pyramid=(64, 96), iters=1, style_weight=1e3, device="cpu")
    engine = StyleTransfer(config, [style_picture], extractor=extractor)
    result = stylize_in_stages(engine, engine.prepare_content(content_picture), engine.stages())
    assert result.stages[1]["style_weight"] == 1e3
    assert result.stages[0]["style_weight"] == pytest.approx(1e3 * (64 * 48) / (96 * 72))


def test_one_stage_is_the_plain_run(extractor, content_picture, style_picture):
    config = StyleConfig(size=64, iters=2, device="cpu")
    engine = StyleTransfer(config, [style_picture], extractor=extractor)
    content = engine.prepare_content(content_picture)
    staged = stylize_in_stages(engine, content, engine.stages())
    plain = engine.stylize(content)
    assert np.array_equal(staged.picture, plain.picture)
    assert len(staged.stages) == 1 and staged.stages[0]["iterations"] == 2


def test_upsample_is_bicubic_and_stays_in_range():
    import torch

    image = torch.rand(1, 3, 8, 8)
    big = upsample(image, 16, 16)
    assert big.shape == (1, 3, 16, 16) and float(big.min()) >= 0 and float(big.max()) <= 1
    assert torch.equal(upsample(image, 8, 8), image)


def test_a_detailed_start_adds_back_the_contents_band():
    import torch

    from stylevid.pipeline.engine.pyramid import detailed_start

    content = torch.rand(1, 3, 16, 24)
    small = torch.nn.functional.interpolate(content, size=(8, 12), mode="area")
    # a stage that returned its own content starts the next from the next content itself
    assert torch.allclose(detailed_start(small, small, content), content, atol=1e-6)
    # otherwise: the result upsampled, plus the band, in 0–1
    start = detailed_start(torch.zeros(1, 3, 8, 12), small, content)
    assert start.shape == content.shape and float(start.min()) >= 0 and float(start.max()) <= 1


def test_a_detailed_stage_start_is_lower_than_plain_upsampling(extractor, content_picture, style_picture):
    # measured 0.61× at this size (0.65× from 48 px; 0.58× at 128 → 256 px): the content's band
    # brings back edges that upsampling blurred away
    first = Stage(64, 4)
    engine = StyleTransfer(StyleConfig(size=96, device="cpu"), [style_picture], extractor=extractor)
    content = engine.prepare_content(content_picture)
    starts = {
        how: stylize_in_stages(engine, content, [first, Stage(96, 1)], stage_start=how).stages[1]["initial_losses"]
        for how in ("upsampled", "detailed")
    }
    assert starts["detailed"]["total"] < 0.85 * starts["upsampled"]["total"]
