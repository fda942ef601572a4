"""Video and frame-folder runs end to end: real PyAV decode/encode, real weights, tiny sizes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from media_factory import make_test_clip
from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io.images import load_image
from stylevid.pipeline import VideoConfig, stylize_video
from stylevid.pipeline.io.probe import probe_video
from stylevid.pipeline.io.video_read import read_frames

from conftest import STYLE_FILE

TINY_STYLE = StyleConfig(size=32, iters=3, device="cpu")


@pytest.fixture(scope="module")
def style_pictures():
    return [load_image(STYLE_FILE)]


def tiny(**changes) -> VideoConfig:
    return VideoConfig(style=changes.pop("style", TINY_STYLE), frame_iters=changes.pop("frame_iters", 2), **changes)


def audio_stream_info(path: Path) -> tuple[str, float]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        duration = float(stream.duration * stream.time_base) if stream.duration else float(container.duration / 1e6)
        return stream.codec_context.name, duration


def test_video_keeps_frame_count_rate_duration_and_audio(tmp_path, style_pictures):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=10)
    result = stylize_video(clip, style_pictures, tmp_path / "out", tiny())
    source, output = probe_video(clip), probe_video(result.output)
    assert result.frames == 10 and output.frame_count == 10
    assert output.fps == source.fps == Fraction(30000, 1001)
    assert output.duration == pytest.approx(source.duration, abs=0.01)
    assert output.audio_streams == 1
    codec, duration = audio_stream_info(result.output)
    assert codec == audio_stream_info(clip)[0] == "aac"  # copied, not re-encoded
    assert duration == pytest.approx(output.duration, abs=0.1)
    for name in ("progress.gif", "preview.gif", "losses.png", "frame_losses.png", "run.json"):
        assert (tmp_path / "out" / name).is_file(), name
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["frames"] == 10 and len(record["per_frame"]) == 10
    assert record["warping_error"] is not None and record["warping_error"] >= 0
    with Image.open(tmp_path / "out" / "preview.gif") as gif:
        assert gif.n_frames == 10


def test_variable_frame_rate_timestamps_survive(tmp_path, style_pictures):
    clip = make_test_clip(tmp_path / "vfr.mp4", frames=8, vfr=True, audio=False)
    result = stylize_video(clip, style_pictures, tmp_path / "out", tiny())
    source_times = [f.time for f in read_frames(clip)]
    output_times = [f.time for f in read_frames(result.output)]
    assert output_times == pytest.approx(source_times, abs=1e-3)
    assert len(set(np.round(np.diff(source_times), 3))) == 2  # really variable


def test_start_end_every_select_frames_and_trim_audio(tmp_path, style_pictures):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=12)
    result = stylize_video(clip, style_pictures, tmp_path / "a", tiny(end=6))
    assert probe_video(result.output).frame_count == 6
    assert audio_stream_info(result.output)[1] == pytest.approx(6 * 1001 / 30000, abs=0.05)
    result = stylize_video(clip, style_pictures, tmp_path / "b", tiny(start=2, every=3))
    times = [f.time for f in read_frames(result.output)]
    assert len(times) == 4  # frames 2, 5, 8, 11
    assert np.diff(times) == pytest.approx([3 * 1001 / 30000] * 3, abs=1e-3)


def test_frame_folder_round_trips_names_in_natural_order(tmp_path, style_pictures):
    frames_in = tmp_path / "frames"
    frames_in.mkdir()
    names = ["shot2.png", "shot10.png", "shot1.png"]
    for i, name in enumerate(names):
        Image.fromarray(np.full((30, 40, 3), 40 * i, np.uint8)).save(frames_in / name)
    result = stylize_video(frames_in, style_pictures, tmp_path / "out", tiny())
    assert sorted(p.name for p in result.output.iterdir()) == sorted(names)
    order = [row["name"] for row in result.record["per_frame"]]
    assert order == ["shot1.png", "shot2.png", "shot10.png"]
    assert load_image(result.output / "shot1.png").shape == (24, 32, 3)


def test_folder_to_video_and_video_to_folder(tmp_path, style_pictures):
    frames_in = tmp_path / "frames"
    frames_in.mkdir()
    for i in range(5):
        Image.fromarray(np.full((24, 30, 3), 50 * i, np.uint8)).save(frames_in / f"f{i:03d}.png")
    video = stylize_video(frames_in, style_pictures, tmp_path / "v", tiny(output="video", fps=Fraction(12))).output
    info = probe_video(video)
    assert info.fps == 12 and info.frame_count == 5 and info.audio_streams == 0
    folder = stylize_video(video, style_pictures, tmp_path / "f", tiny(output="frames")).output
    assert sorted(p.name for p in folder.iterdir()) == [f"frame_{i:06d}.png" for i in range(5)]


def test_original_output_size_and_no_audio(tmp_path, style_pictures):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=4)
    result = stylize_video(clip, style_pictures, tmp_path / "out", tiny(output_size="original", audio=False))
    info = probe_video(result.output)
    assert (info.width, info.height) == (66, 48)  # 65×47 source, padded to even for yuv420p
    assert info.audio_streams == 0


def test_temporal_loss_lowers_warping_error(tmp_path, style_pictures):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=6, audio=False)
    style = StyleConfig(size=48, iters=10, device="cpu")
    free = stylize_video(clip, style_pictures, tmp_path / "free",
                         tiny(style=style, frame_iters=8, frame_init="prev", temporal_weight=0, early_stop=False))
    held = stylize_video(clip, style_pictures, tmp_path / "held",
                         tiny(style=style, frame_iters=8, frame_init="prev", temporal_weight=1e14, early_stop=False))
    assert held.warping_error < 0.7 * free.warping_error


def test_changed_settings_are_refused_unless_restart(tmp_path, style_pictures):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=3, audio=False)
    stylize_video(clip, style_pictures, tmp_path / "out", tiny())
    with pytest.raises(StylevidError, match="other settings.*--restart"):
        stylize_video(clip, style_pictures, tmp_path / "out", tiny(frame_iters=3))
    assert stylize_video(clip, style_pictures, tmp_path / "out", tiny(frame_iters=3), restart=True).frames == 3


def test_truncated_video_keeps_frames_before_damage(tmp_path, style_pictures):
    clip = make_test_clip(tmp_path / "clip.mkv", frames=30, audio=False)
    data = clip.read_bytes()
    clip.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(StylevidError, match=r"frames before it were stylised into") as caught:
        stylize_video(clip, style_pictures, tmp_path / "out", tiny(style=TINY_STYLE.replace(iters=1), frame_iters=1))
    kept = probe_video(tmp_path / "out" / "clip_stylised.mp4").frame_count
    assert 5 < kept < 30
    assert str(kept) in str(caught.value)


# --- separate processes: kill -9, Ctrl-C, resume -------------------------------------------------

CLI_TINY = ["--size", "32", "--iters", "6", "--frame-iters", "6", "--no-early-stop", "--device", "cpu", "--quiet"]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "stylevid.cli", *args]


def env_one_thread() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def frames_of(out: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p)) for p in sorted((out / ".work" / "frames").glob("*.png"))]


def wait_for_frames(out: Path, count: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(list((out / ".work" / "frames").glob("*.png"))) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "run made no progress"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def resume_clip(tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    """A clip and the frames of an uninterrupted seeded run of it."""
    root = tmp_path_factory.mktemp("resume")
    clip = make_test_clip(root / "clip.mp4", frames=8)
    done = subprocess.run(cli(str(clip), "--style", str(STYLE_FILE), "-o", str(root / "ref"), *CLI_TINY),
                          env=env_one_thread(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return clip, frames_of(root / "ref")


@pytest.mark.parametrize("kill_after", [1, 3, 5])
def test_kill_9_then_resume_gives_the_uninterrupted_frames(tmp_path, resume_clip, kill_after):
    clip, reference = resume_clip
    out = tmp_path / "out"
    command = cli(str(clip), "--style", str(STYLE_FILE), "-o", str(out), *CLI_TINY)
    process = subprocess.Popen(command, env=env_one_thread(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_frames(out, kill_after, process)
    process.kill()
    process.wait()
    assert json.loads((out / ".work" / "manifest.json").read_text())["settings"]  # never torn
    done = subprocess.run(command, env=env_one_thread(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    resumed = frames_of(out)
    assert not list((out / ".work" / "frames").glob(".*.partial"))  # leftovers of the killed write are gone
    assert len(resumed) == len(reference) == 8
    for mine, theirs in zip(resumed, reference):
        assert np.array_equal(mine, theirs)
    assert probe_video(out / "clip_stylised.mp4").frame_count == 8


def test_ctrl_c_saves_the_frame_in_flight_and_resume_completes(tmp_path, resume_clip):
    clip, reference = resume_clip
    out = tmp_path / "out"
    command = cli(str(clip), "--style", str(STYLE_FILE), "-o", str(out), *CLI_TINY)
    process = subprocess.Popen(command, env=env_one_thread(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_frames(out, 2, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "run the same command again to resume" in lines[0], stderr
    saved = len(frames_of(out))
    assert 2 < saved < 8 or saved == 8
    done = subprocess.run(command, env=env_one_thread(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert all(np.array_equal(a, b) for a, b in zip(frames_of(out), reference))
