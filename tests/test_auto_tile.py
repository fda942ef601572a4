"""--tile auto and --history auto (the defaults): an image whose memory estimate does not fit is
tiled with the largest tile that fits, and keeps fewer L-BFGS pairs only if no tile that costs
little time fits (pipeline/budget.py: plan_memory; halo-bound small tiles come last); the run
says so in one line, records it in run.json, and gives the same picture as those settings asked
for explicitly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import CONTENT_FILE, STYLE_FILE, run_cli

from stylevid.pipeline.budget import (
    HISTORY_LADDER,
    TILE_MAX_CROP_RATIO,
    crop_ratio,
    estimate_for_input,
    plan_memory,
    tile_candidates,
)
from stylevid.pipeline.config import StyleConfig, parse_history, parse_tile
from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io.images import load_image

SIZE = 256  # the sample is 1024×768: 256×192 at --size 256
TINY = ["--size", str(SIZE), "--iters", "1", "--device", "cpu", "--style-scale", "0.5"]


def _need(tile: int | str, size: int = SIZE, history: int = 100, iters: int = 1) -> int:
    config = StyleConfig(size=size, iters=iters, device="cpu", style_scale=0.5, tile=tile, history_size=history)
    return estimate_for_input(CONTENT_FILE, "image", [STYLE_FILE], config).bytes  # torch is imported: nothing once


def test_auto_tiling_is_chosen_when_the_estimate_is_forced_low_and_equals_the_explicit_tile(capsys, tmp_path):
    whole, tile = _need("off"), 96
    assert _need(tile) < whole  # at 256 px a 96-px tile (crops ≤ 246 px) needs less; 128 px would not
    limit = (whole + _need(tile)) // 2
    config = StyleConfig(size=SIZE, iters=1, device="cpu", style_scale=0.5, memory_limit=limit)
    plan = plan_memory(CONTENT_FILE, "image", [STYLE_FILE], config)
    assert (plan.tile, plan.history) == (tile, 100)

    code, _, err = run_cli(capsys, CONTENT_FILE, "--style", STYLE_FILE, "-o", tmp_path / "auto", *TINY,
                           "--memory-limit", str(limit))  # fmt: skip
    assert code == 0, err
    assert f"to fit memory: {tile}-px tiles (" in " ".join(err.split())  # one line (rich may wrap it)
    record = json.loads((tmp_path / "auto" / "run.json").read_text())
    assert record["memory_plan"]["tile"] == tile and record["memory_plan"]["asked"] == {
        "tile": "auto",
        "history": "auto",
    }
    assert record["config"]["tile"] == tile  # the run can be repeated from its record

    code, _, err = run_cli(capsys, CONTENT_FILE, "--style", STYLE_FILE, "-o", tmp_path / "fixed", *TINY,
                           "--tile", str(tile))  # fmt: skip
    assert code == 0, err
    assert json.loads((tmp_path / "fixed" / "run.json").read_text())["memory_plan"]["asked"]["tile"] == str(tile)
    name = (tmp_path / "auto").glob("*_stylised.png").__next__().name
    np.testing.assert_array_equal(load_image(tmp_path / "auto" / name), load_image(tmp_path / "fixed" / name))


def test_auto_keeps_the_whole_picture_when_it_fits_and_off_never_tiles():
    config = StyleConfig(size=SIZE, iters=1, device="cpu")
    plan = plan_memory(CONTENT_FILE, "image", [STYLE_FILE], config)
    assert (plan.tile, plan.history, plan.changed) == (None, 100, False)
    low = config.replace(memory_limit=(_need("off") + _need(96)) // 2, style_scale=0.5)
    assert plan_memory(CONTENT_FILE, "image", [STYLE_FILE], low.replace(tile="off")).tile is None
    assert plan_memory(CONTENT_FILE, "image", [STYLE_FILE], low.replace(tile=64)).tile == 64


def test_auto_history_drops_pairs_only_when_no_cheap_tile_fits():
    """At 2048 px with 500 iterations the history (2·m image-sized buffers) outgrows a tile's saving:
    fewer pairs come before the small tiles whose crops are mostly halo (TILE_MAX_CROP_RATIO)."""
    layers = ("relu4_2", "relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    height, width = 1536, 2048
    cheap = [
        t for t in tile_candidates(height, width, layers) if crop_ratio(t, height, width, layers) <= TILE_MAX_CROP_RATIO
    ]
    smallest_cheap = cheap[-1]
    with_50 = _need(smallest_cheap, size=2048, history=50, iters=500)
    assert with_50 < _need(smallest_cheap, size=2048, history=100, iters=500)
    config = StyleConfig(size=2048, iters=500, device="cpu", style_scale=0.5, memory_limit=with_50)
    plan = plan_memory(CONTENT_FILE, "image", [STYLE_FILE], config)
    assert plan.history == 50 and plan.tile == smallest_cheap and "50 L-BFGS pairs" in plan.note()
    fewer = plan_memory(CONTENT_FILE, "image", [STYLE_FILE], config.replace(memory_limit=with_50 - 1))
    assert fewer.history == HISTORY_LADDER[HISTORY_LADDER.index(50) + 1]  # not a smaller tile with 50
    assert fewer.tile in cheap
    fixed = plan_memory(CONTENT_FILE, "image", [STYLE_FILE], config.replace(history_size=100))
    assert fixed.history == 100  # a number asked for is kept (the check then refuses the run)
    # when no history fits a cheap tile, a halo-bound one does, with the most pairs that fit
    tight = _need(64, size=2048, history=5, iters=500)
    assert tight < _need(smallest_cheap, size=2048, history=5, iters=500)
    small = plan_memory(CONTENT_FILE, "image", [STYLE_FILE], config.replace(memory_limit=tight))
    assert small.tile is not None and crop_ratio(small.tile, height, width, layers) > TILE_MAX_CROP_RATIO


def test_tile_candidates_split_evenly_on_the_pooling_grid():
    layers = ("relu4_2", "relu1_1", "relu5_1")
    assert tile_candidates(4096, 4096, layers)[:4] == [2048, 1376, 1024, 832]
    assert all(t % 16 == 0 and t >= 64 for t in tile_candidates(1000, 700, layers))


@pytest.mark.parametrize(("text", "value"), [("auto", "auto"), ("OFF", "off"), ("512", 512)])
def test_tile_option_reads_auto_off_or_pixels(text, value):
    assert parse_tile(text) == value


@pytest.mark.parametrize("text", ["big", "1.5"])
def test_bad_tile_and_history_options_are_refused(text):
    with pytest.raises(StylevidError, match="--tile must be auto, off or a number"):
        parse_tile(text)
    with pytest.raises(StylevidError, match="--history must be auto or a number"):
        parse_history(text)
    with pytest.raises(StylevidError, match="--history-dtype must be one of fp32, bf16, fp16"):
        StyleConfig(history_dtype=text)
