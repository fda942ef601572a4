"""Multi-pass (--passes N, Ruder et al. 2016 Sec. 3.3): pass order, the blended start, a whole run,
resuming a run killed in a later pass, and the settings it refuses.

Tiny clips (32 px, a few iterations) and real weights; the kill test runs the CLI in a separate
process, as the one-pass resume tests do.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import STYLE_FILE, cli_error_line
from media_factory import cut_frames, make_test_clip
from PIL import Image

from stylevid.pipeline import VideoConfig, stylize_video
from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io.images import load_image
from stylevid.pipeline.video.passes import PASS_BLEND, blend_start, direction_of, pass_order

TINY_STYLE = StyleConfig(size=32, iters=3, device="cpu")


@pytest.fixture(scope="module")
def style_pictures():
    return [load_image(STYLE_FILE)]


def frames_of(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))]


def stats_of(folder: Path) -> list[dict]:
    return [json.loads(Image.open(p).text["stylevid"]) for p in sorted(folder.glob("*.png"))]


# --- the pieces -------------------------------------------------------------------------------------


def test_passes_alternate_and_never_cross_a_cut():
    assert [direction_of(n) for n in (1, 2, 3, 4)] == ["forward", "backward", "forward", "backward"]
    shots = [(0, 2), (3, 4)]
    assert pass_order(shots, "forward") == [(0, None), (1, 0), (2, 1), (3, None), (4, 3)]
    assert pass_order(shots, "backward") == [(2, None), (1, 2), (0, 1), (4, None), (3, 4)]


def test_the_start_blends_the_warped_neighbour_where_the_flow_is_reliable():
    previous = np.full((2, 3, 3), 100, np.uint8)
    neighbour = np.full((2, 3, 3), 200, np.uint8)
    reliable = torch.tensor([[[[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]]])
    start = blend_start(previous, neighbour, reliable)
    expected = 100 + PASS_BLEND * 100 * reliable[0, 0].numpy()  # δ·c·ω(x_n) + (1 − δ·c)·x_prev
    assert start.dtype == np.uint8
    assert np.array_equal(start[..., 0], expected.astype(np.uint8))
    assert np.array_equal(start[..., 1], start[..., 2])


# --- whole runs -------------------------------------------------------------------------------------


def test_two_passes_keep_pass_one_change_the_result_and_record_both(tmp_path, style_pictures):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=5, audio=False)
    one = stylize_video(clip, style_pictures, tmp_path / "one", VideoConfig(style=TINY_STYLE, frame_iters=3))
    config = VideoConfig(style=TINY_STYLE, frame_iters=3, passes=2, pass_iters=3, output="frames")
    two = stylize_video(clip, style_pictures, tmp_path / "two", config)
    assert two.frames == 5
    assert "passes" not in one.record  # a one-pass record is as it was
    first_pass = frames_of(tmp_path / "two" / ".work" / "frames")
    second_pass = frames_of(tmp_path / "two" / ".work" / "pass2" / "frames")
    assert all(np.array_equal(a, b) for a, b in zip(first_pass, frames_of(tmp_path / "one" / ".work" / "frames")))
    assert len(second_pass) == 5 and not all(np.array_equal(a, b) for a, b in zip(first_pass, second_pass))
    # the output is the last pass
    written = [np.asarray(Image.open(p).convert("RGB")) for p in sorted((tmp_path / "two" / "frames").glob("*.png"))]
    assert len(written) == 5 and all(np.array_equal(a, b) for a, b in zip(written, second_pass))
    record = json.loads((tmp_path / "two" / "run.json").read_text())
    assert [(p["pass"], p["direction"]) for p in record["passes"]] == [(1, "forward"), (2, "backward")]
    assert record["passes"][0]["warping_error"] == pytest.approx(one.warping_error, rel=1e-6)
    assert record["warping_error"] == pytest.approx(record["passes"][1]["warping_error"], rel=1e-6)
    assert [row["pass"] for row in record["per_frame"]] == [2] * 5
    assert record["config"]["passes"] == 2
    # one more pass on the finished run goes on from pass 2
    kept = (tmp_path / "two" / ".work" / "pass2" / "frames" / "000000.png").stat().st_mtime_ns
    three = stylize_video(clip, style_pictures, tmp_path / "two", config.replace(passes=3))
    assert (tmp_path / "two" / ".work" / "pass2" / "frames" / "000000.png").stat().st_mtime_ns == kept
    third_pass = frames_of(tmp_path / "two" / ".work" / "pass3" / "frames")
    written = [np.asarray(Image.open(p).convert("RGB")) for p in sorted((tmp_path / "two" / "frames").glob("*.png"))]
    assert all(np.array_equal(a, b) for a, b in zip(written, third_pass, strict=True))
    assert [p["direction"] for p in three.record["passes"]] == ["forward", "backward", "forward"]


def test_later_passes_follow_their_shot_with_a_rolling_first_pass(tmp_path, style_pictures):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, picture in enumerate(cut_frames(6, 3, size=32)):
        Image.fromarray(picture).save(folder / f"{i:03d}.png")
    config = VideoConfig(style=TINY_STYLE, frame_iters=3, batch_frames=2, cuts=(3,), passes=3, pass_iters=2)
    result = stylize_video(folder, style_pictures, tmp_path / "out", config)
    assert result.frames == 6
    second = {s["frame"]: s for s in stats_of(tmp_path / "out" / ".work" / "pass2" / "frames")}
    third = {s["frame"]: s for s in stats_of(tmp_path / "out" / ".work" / "pass3" / "frames")}
    assert [second[p]["follows"] for p in range(6)] == [1, 2, None, 4, 5, None]  # backward, shot by shot
    assert [third[p]["follows"] for p in range(6)] == [None, 0, 1, None, 3, 4]
    assert [row["warping_error"] is None for row in result.record["per_frame"]] == [True, False, False] * 2


# --- kill and resume ------------------------------------------------------------------------------

CLI_TINY = ["--size", "32", "--iters", "4", "--frame-iters", "4", "--no-early-stop", "--device", "cpu", "--quiet"]
PASSES = ["--passes", "3", "--pass-iters", "4"]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "stylevid.cli", *args]


def env_one_thread() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def all_passes(out: Path) -> list[np.ndarray]:
    work = out / ".work"
    return [*frames_of(work / "frames"), *frames_of(work / "pass2" / "frames"), *frames_of(work / "pass3" / "frames")]


def wait_for(path: Path, count: int, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while len(list(path.glob("*.png"))) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "run made no progress"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def multipass_clip(tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    """A clip and every pass's frames of an uninterrupted 3-pass run of it."""
    root = tmp_path_factory.mktemp("multipass")
    clip = make_test_clip(root / "clip.mp4", frames=6, audio=False)
    done = subprocess.run(
        cli(str(clip), "--style", str(STYLE_FILE), "-o", str(root / "ref"), *CLI_TINY, *PASSES),
        env=env_one_thread(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return clip, all_passes(root / "ref")


@pytest.mark.parametrize("how", ["kill -9 in pass 2", "Ctrl-C in pass 3"])
def test_a_run_stopped_in_a_later_pass_resumes_to_the_uninterrupted_frames(tmp_path, multipass_clip, how):
    clip, reference = multipass_clip
    out = tmp_path / "out"
    command = cli(str(clip), "--style", str(STYLE_FILE), "-o", str(out), *CLI_TINY, *PASSES)
    process = subprocess.Popen(command, env=env_one_thread(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if how.startswith("kill"):
        wait_for(out / ".work" / "pass2" / "frames", 2, process)
        process.kill()
        process.wait()
    else:
        wait_for(out / ".work" / "pass3" / "frames", 1, process)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=300)
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert process.returncode == 130 and len(lines) == 1, stderr
        assert "in pass 3" in lines[0] and "run the same command again to resume" in lines[0]
    assert len(all_passes(out)) < len(reference) == 18
    done = subprocess.run(command, env=env_one_thread(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    resumed = all_passes(out)
    assert len(resumed) == 18 and all(np.array_equal(a, b) for a, b in zip(resumed, reference))
    record = json.loads((out / "run.json").read_text())
    assert [p["pass"] for p in record["passes"]] == [1, 2, 3] and record["frames"] == 6


def test_a_run_killed_in_pass_one_resumes_to_the_uninterrupted_frames(tmp_path, multipass_clip):
    """The work folder of the finished run, cut back to three frames of pass 1 (four kept frames at processing size)."""
    clip, reference = multipass_clip
    out = tmp_path / "out"
    shutil.copytree(multipass_clip[0].parent / "ref" / ".work", out / ".work")
    for later in ("pass2", "pass3", "passes.json"):
        target = out / ".work" / later
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    for late in sorted((out / ".work" / "frames").glob("*.png"))[3:]:
        late.unlink()
    for late in sorted((out / ".work" / "contents").glob("*.png"))[4:]:
        late.unlink()
    command = cli(str(clip), "--style", str(STYLE_FILE), "-o", str(out), *CLI_TINY, *PASSES)
    done = subprocess.run(command, env=env_one_thread(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    resumed = all_passes(out)
    assert len(resumed) == 18 and all(np.array_equal(a, b) for a, b in zip(resumed, reference))


# --- refused settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"passes": 0}, "--passes"),
        ({"passes": 101}, "--passes"),
        ({"passes": 2.5}, "--passes"),
        ({"pass_iters": 0}, "--pass-iters"),
        ({"passes": 2, "frame_init": "independent"}, "needs --frame-init prev-warped"),
        ({"passes": 2, "workers": 2}, "--workers/--cluster"),
        ({"passes": 2, "flow_dir": "flows"}, "--flow-dir"),
    ],
)
def test_bad_pass_settings_are_refused(changes, words):
    with pytest.raises(StylevidError, match=words):
        VideoConfig(style=TINY_STYLE, **changes)


def test_bad_passes_on_the_command_line_give_one_line(capsys, tmp_path):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=3, audio=False)
    out = tmp_path / "out"
    assert "--passes" in cli_error_line(capsys, clip, "--style", STYLE_FILE, "-o", out, "--passes", "0")
    message = cli_error_line(capsys, clip, "--style", STYLE_FILE, "-o", out, "--passes", "2", "--frame-init", "prev")
    assert "prev-warped" in message
    assert not out.exists()
