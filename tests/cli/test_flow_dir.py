"""`--flow-dir`: stylevid eval through given flow, and a run driven by given flow instead of DIS."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import STYLE_FILE, cli_error_line, run_cli

from stylevid.pipeline.io.flo import write_flo
from stylevid.pipeline.io.true_motion import save_true_motion_clip
from stylevid.pipeline.motion.synthetic import noise_texture, object_clip

FAST = ["--size", "32", "--iters", "3", "--frame-iters", "2", "--device", "cpu", "--no-early-stop"]


@pytest.fixture()
def clip_dirs(tmp_path):
    """A 3-frame 24×32 clip of known motion: (frames folder, its exact-flow folder)."""
    clip = object_clip(noise_texture(90, 120, seed=3), noise_texture(30, 30, seed=8), size=(24, 32), frames=3)
    save_true_motion_clip(clip, tmp_path / "frames", tmp_path / "flow")
    return tmp_path / "frames", tmp_path / "flow"


def test_eval_prints_the_dis_and_the_given_flow_columns(capsys, clip_dirs):
    frames, flow = clip_dirs
    code, out, err = run_cli(capsys, "eval", frames, frames, "--flow-dir", flow)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("warping error (DIS flow)") and lines[1].startswith("warping error (given flow)")
    code, out, err = run_cli(capsys, "eval", frames, frames, "--flow-dir", flow, "--json")
    result = json.loads(out)
    assert result["pairs"] == 2 and len(result["values_given_flow"]) == 2
    # the originals follow their own exact motion: through it they are steadier than through DIS's estimate
    assert result["warping_error_given_flow"] < result["warping_error"]
    (flow / "backward_3_2.flo").write_bytes(b"not a flow file at all")
    assert "magic number" in cli_error_line(capsys, "eval", frames, frames, "--flow-dir", flow)


def test_a_run_follows_the_given_flow(capsys, clip_dirs, tmp_path):
    frames, _ = clip_dirs
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    for j in (2, 3):  # a flow that has nothing to do with the clip: everything came from 6 px to the right
        write_flo(wrong / f"backward_{j}_{j - 1}.flo", np.tile(np.array([6.0, 0.0], np.float32), (24, 32, 1)))
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, frames, "--style", STYLE_FILE, "-o", out, *FAST, "--flow-dir", wrong, "--quiet")
    assert code == 0, err
    record = json.loads((out / "run.json").read_text())
    assert record["config"]["flow_dir"] == str(wrong) and record["warping_error_flow"] == "given"
    # run.json's warping error is measured through the flow the run used
    code, printed, err = run_cli(capsys, "eval", out / "frames", frames, "--flow-dir", wrong, "--json")
    measured = json.loads(printed)
    assert measured["warping_error_given_flow"] == pytest.approx(record["warping_error"], rel=1e-4)
    assert abs(measured["warping_error"] - record["warping_error"]) > 0.1 * record["warping_error"]
    # the warped init followed the wrong flow: frame 2 starts as frame 1 moved 6 px left, which DIS would not do
    assert record["warping_error"] < measured["warping_error"]


def test_a_missing_pair_or_folder_is_refused_before_any_work(capsys, clip_dirs, tmp_path):
    frames, flow = clip_dirs
    out = tmp_path / "out"
    (flow / "backward_3_2.flo").unlink()
    line = cli_error_line(capsys, frames, "--style", STYLE_FILE, "-o", out, *FAST, "--flow-dir", flow)
    assert "backward_3_2.flo" in line and "frames 2 and 3" in line
    assert not (out / ".work" / "frames").exists() or not any((out / ".work" / "frames").iterdir())
    shutil.rmtree(flow)
    assert "not a folder" in cli_error_line(capsys, frames, "--style", STYLE_FILE, "-o", out, "--flow-dir", flow)
