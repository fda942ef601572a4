"""Runs stopped from outside and runs that would collide, with the real CLI in real processes:
SIGTERM and SIGHUP end a run like Ctrl-C (the frame in flight is saved, exit 128 + signal, one
line, rerunning resumes), and a second run into an output folder that a run is writing to is
refused with one line naming that run's PID, even with --restart. Also: inputs named like a
run's outputs, and empty --start/--end windows, end in one line before any work or display."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import CONTENT_FILE, STYLE_FILE, cli_error_line, run_cli
from media_factory import make_test_clip
from PIL import Image

from stylevid.pipeline.io.folder_lock import lock_holder

TINY = ["--size", "32", "--iters", "6", "--frame-iters", "6", "--no-early-stop", "--device", "cpu", "--quiet"]
FRAMES = 8


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "stylevid.cli", *map(str, args)]


def env_one_thread() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def saved_frames(out: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p)) for p in sorted((out / ".work" / "frames").glob("*.png"))]


def wait_for_frames(out: Path, count: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(list((out / ".work" / "frames").glob("*.png"))) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "run made no progress"
        time.sleep(0.05)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def clip_and_reference(tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    """A clip and the frames of an uninterrupted run of it."""
    root = tmp_path_factory.mktemp("guard")
    clip = make_test_clip(root / "clip.mp4", frames=FRAMES, audio=False)
    done = subprocess.run(
        cli(clip, "--style", STYLE_FILE, "-o", root / "ref", *TINY),
        env=env_one_thread(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return clip, saved_frames(root / "ref")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_signal_saves_the_frame_in_flight_and_resume_completes(tmp_path, clip_and_reference, signum, code):
    clip, reference = clip_and_reference
    out = tmp_path / "out"
    command = cli(clip, "--style", STYLE_FILE, "-o", out, *TINY)
    process = subprocess.Popen(command, env=env_one_thread(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_frames(out, 2, process)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    assert len(lines(stderr)) == 1 and "Traceback" not in stderr, stderr
    assert f"stopped by {signal.Signals(signum).name} after frame" in stderr and "run the same command again" in stderr
    saved = saved_frames(out)
    stopped_after = int(stderr.split("after frame ")[1].split(";")[0])
    assert len(saved) == stopped_after >= 2  # the frame in flight was finished and saved
    assert not list((out / ".work" / "frames").glob(".*.partial"))
    done = subprocess.run(command, env=env_one_thread(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    resumed = saved_frames(out)
    assert len(resumed) == FRAMES and all(np.array_equal(a, b) for a, b in zip(resumed, reference))


def test_a_second_signal_stops_at_once(tmp_path, clip_and_reference):
    clip, _ = clip_and_reference
    out = tmp_path / "out"
    slow = ["--size", "32", "--iters", "6", "--frame-iters", "100000", "--no-early-stop", "--device", "cpu", "-q"]
    process = subprocess.Popen(
        cli(clip, "--style", STYLE_FILE, "-o", out, *slow),
        env=env_one_thread(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_frames(out, 1, process)  # frame 2 is in flight, for a long while
    process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert lines(stderr) == [
        "stylevid: stopped by SIGTERM; finished frames are kept — run the same command again to resume"
    ], stderr
    assert len(saved_frames(out)) == 1 and not list((out / ".work" / "frames").glob(".*.partial"))


def test_signal_during_an_image_run_gives_one_line(tmp_path):
    out = tmp_path / "out"
    process = subprocess.Popen(
        cli(CONTENT_FILE, "--style", STYLE_FILE, "-o", out, "--size", "32", "--iters", "100000", "--device", "cpu"),
        env=env_one_thread(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while lock_holder(out) != process.pid:  # the job holds its folder: validated, about to optimise
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert len(lines(stderr)) == 1 and lines(stderr)[0].startswith("stylevid: stopped by SIGTERM"), stderr
    assert not list(out.glob("*_stylised.png"))


def test_a_second_run_into_a_busy_folder_is_refused_even_with_restart(capsys, tmp_path, clip_and_reference):
    clip, _ = clip_and_reference
    out = tmp_path / "out"
    slower = [*TINY, "--frame-iters", "40", "--end", "4"]  # time enough for the checks below
    first = subprocess.Popen(
        cli(clip, "--style", STYLE_FILE, "-o", out, *slower),
        env=env_one_thread(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_frames(out, 1, first)
        for extra in ([], ["--restart"], ["--iters", "5", "--restart"]):
            message = cli_error_line(capsys, clip, "--style", STYLE_FILE, "-o", out, *TINY, *extra)
            assert f"another run (PID {first.pid}) is writing to {out}" in message
            assert (out / ".work" / "manifest.json").exists()  # --restart deleted nothing
        image = cli_error_line(capsys, CONTENT_FILE, "--style", STYLE_FILE, "-o", out, "--size", "16", "-q")
        assert f"PID {first.pid}" in image
    finally:
        _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr  # the first run was not disturbed
    assert len(saved_frames(out)) == 4 and (out / "clip_stylised.mp4").stat().st_size > 0
    code, _, err = run_cli(capsys, CONTENT_FILE, "--style", STYLE_FILE, "-o", out, "--size", "24", "--iters", "2", "-q")
    assert code == 0, err  # the folder is free again


def test_inputs_where_a_video_run_writes_are_refused_before_any_work(capsys, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    clip = make_test_clip(tmp_path / "clip.mp4", frames=3, audio=False)
    gif = out / "preview.gif"  # an animated GIF is a video input; the run writes its preview.gif
    pictures = [Image.open(CONTENT_FILE).resize((40, 30)).rotate(angle) for angle in (0, 10, 20)]
    pictures[0].save(gif, save_all=True, append_images=pictures[1:], duration=100)
    frames = out / "frames"  # a frame folder stylised into itself
    frames.mkdir()
    pictures[0].save(frames / "a.png")
    style = out / "losses.png"  # a style picture where a render goes
    Image.open(STYLE_FILE).resize((40, 30)).save(style)
    os.link(clip, out / "clip_stylised.mp4")  # the result's name, a hard link to the input
    before = {p: p.read_bytes() for p in [gif, frames / "a.png", style, clip]}
    for args in ([gif, "-s", STYLE_FILE], [frames, "-s", STYLE_FILE], [clip, "-s", style], [clip, "-s", STYLE_FILE]):
        message = cli_error_line(capsys, *args, "-o", out, *TINY)
        assert (
            "refusing to overwrite the input" in message and str(args[0] if args[2] == STYLE_FILE else style) in message
        )
    assert {p: p.read_bytes() for p in before} == before and not (out / ".work").exists()


@pytest.mark.parametrize(
    "window",
    [
        ["--end", "2", "--start", "5"],
        ["--start", "5", "--end", "0.1s"],
        ["--start", "0.2s", "--end", "2"],
        ["--start", "9"],
        ["--start", "1s"],
    ],
)
def test_an_empty_window_gives_one_line_before_any_display(capsys, tmp_path, window):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=FRAMES, audio=False)
    out = tmp_path / "out"
    not_quiet = [a for a in TINY if a != "--quiet"]
    message = cli_error_line(capsys, clip, "--style", STYLE_FILE, "-o", out, *not_quiet, *window)
    assert "--end" in message or "--start" in message
    assert not (out / ".work").exists()
