"""The command line: help, entry points, and what a run writes to the output folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CONTENT_FILE, STYLE_FILE, cli_error_line, run_cli
from media_factory import make_test_clip
from PIL import Image

FAST = ["--size", "32", "--iters", "3", "--device", "cpu"]


def test_help_exits_zero_and_lists_option_groups(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    for words in ("--style", "--iters", "--frame-init", "--temporal-weight", "--weights", "--preserve-colors"):
        assert words in out
    assert run_cli(capsys, "eval", "--help")[0] == 0


def test_module_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "stylevid.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "--style" in done.stdout


def test_image_run_writes_picture_gif_plot_and_record(capsys, tmp_path):
    code, out, err = run_cli(capsys, CONTENT_FILE, "--style", STYLE_FILE, "-o", tmp_path / "out", *FAST, "--quiet")
    assert code == 0, err
    picture = Path(out.strip())
    assert picture == tmp_path / "out" / "tuebingen_neckarfront_stylised.png"
    assert Image.open(picture).size == (32, 24)
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["iterations"] == 3 and record["config"]["size"] == 32
    assert record["final_losses"]["total"] < record["initial_losses"]["total"]
    with Image.open(tmp_path / "out" / "progress.gif") as gif:
        assert gif.n_frames == 4  # init, 1, 2, 3
    assert (tmp_path / "out" / "losses.png").stat().st_size > 10_000


def test_a_tiled_run_saves_a_16_bit_picture(capsys, tmp_path):
    import cv2

    args = ["--size", "96", "--iters", "2", "--device", "cpu", "--tile", "64", "--bit-depth", "16", "--quiet"]
    code, out, err = run_cli(capsys, CONTENT_FILE, "--style", STYLE_FILE, "-o", tmp_path / "out", *args)
    assert code == 0, err
    picture = cv2.imread(out.strip(), cv2.IMREAD_UNCHANGED)
    assert picture.dtype == np.uint16 and picture.shape == (72, 96, 3)
    assert (picture % 257 != 0).any()  # not 8-bit values scaled up
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["config"]["tile"] == 64 and record["config"]["bit_depth"] == 16


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "I;16", "CMYK"])
def test_unusual_image_modes_are_handled(capsys, tmp_path, mode):
    picture = Image.open(CONTENT_FILE).convert("RGB").resize((40, 30))
    if mode == "I;16":
        path = tmp_path / "deep.png"
        array = np.asarray(picture.convert("L"), dtype=np.uint16) * 257
        Image.fromarray(array).save(path)
        assert Image.open(path).mode.startswith("I")
    elif mode == "CMYK":
        path = tmp_path / "print.jpg"
        picture.convert("CMYK").save(path)
    else:
        path = tmp_path / f"mode_{mode}.png"
        picture.convert(mode).save(path)
    code, _, err = run_cli(capsys, path, "--style", STYLE_FILE, "-o", tmp_path / "out", *FAST, "--quiet")
    assert code == 0, err


def test_bad_video_options_and_eval(capsys, tmp_path):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=5)
    out = tmp_path / "out"
    assert "1.5s" in cli_error_line(capsys, clip, "--style", STYLE_FILE, "-o", out, "--start", "soon")
    assert "--fps" in cli_error_line(capsys, clip, "--style", STYLE_FILE, "-o", out, "--fps", "0")
    assert "frame init" in cli_error_line(capsys, clip, "--style", STYLE_FILE, "-o", out, "--frame-init", "magic")
    assert "init sampling" in cli_error_line(capsys, clip, "--style", STYLE_FILE, "-o", out, "--init-sampling", "sinc")
    code, printed, err = run_cli(capsys, clip, "--style", STYLE_FILE, "-o", out, *FAST, "--frame-iters", "2", "--quiet")
    assert code == 0, err
    code, printed, err = run_cli(capsys, "eval", printed.strip(), clip, "--json")
    assert code == 0, err
    result = json.loads(printed)
    assert result["pairs"] == 4 and result["warping_error"] >= 0
    assert "does not exist" in cli_error_line(capsys, "eval", tmp_path / "none.mp4", clip)


def test_a_pyramid_run_records_its_stages_and_ends_at_the_last_stage_size(capsys, tmp_path):
    # --size comes from the last stage; the last stage is tiled (tiles of 64 px, picture 96 px)
    args = ["--pyramid", "64,96", "--pyramid-iters", "3,2", "--tile", "64", "--device", "cpu", "--quiet"]
    code, out, err = run_cli(capsys, CONTENT_FILE, "--style", STYLE_FILE, "-o", tmp_path / "out", *args)
    assert code == 0, err
    assert Image.open(out.strip()).size == (96, 72)
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["config"]["size"] == 96 and record["config"]["pyramid"] == [64, 96]
    assert [(s["stage"], s["size"], s["iterations"]) for s in record["stages"]] == [(1, [64, 48], 3), (2, [96, 72], 2)]
    assert record["iterations"] == 5
    for stage in record["stages"]:
        assert stage["final_losses"]["total"] > 0 and stage["seconds"] > 0
    # each stage's β is the area-scaled default of its own size
    assert record["stages"][0]["style_weight"] == pytest.approx(
        record["stages"][1]["style_weight"] * (64 * 48) / (96 * 72)
    )
    assert record["final_losses"] == record["stages"][1]["final_losses"]
    with Image.open(tmp_path / "out" / "progress.gif") as gif:
        # init, stage 1 at 1, 2, 3, stage 2 at 1, 2: every frame at the final size
        assert gif.n_frames == 6 and gif.size == (96, 72)


def test_scales_halves_down_from_size(capsys, tmp_path):
    args = ["--size", "128", "--scales", "2", "--iters", "1", "--device", "cpu", "--quiet"]
    code, _, err = run_cli(capsys, CONTENT_FILE, "--style", STYLE_FILE, "-o", tmp_path / "out", *args)
    assert code == 0, err
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    # --iters is the first stage's budget, each later stage gets half (at least 1)
    assert [(s["size"], s["iterations"]) for s in record["stages"]] == [([64, 48], 1), ([128, 96], 1)]
