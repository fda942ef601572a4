"""Video and frame-folder runs end to end: real PyAV decode/encode, real weights, tiny sizes.

Single and batched (--batch-frames) runs, damaged input, changed settings, and resuming after
kill -9 and Ctrl-C in a separate process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from conftest import CONTENT_FILE, STYLE_FILE
from media_factory import cut_frames, make_test_clip
from PIL import Image

from stylevid.pipeline import VideoConfig, stylize_video
from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine.transfer import StyleTransfer
from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.evaluate import evaluate_clips
from stylevid.pipeline.io.images import load_image
from stylevid.pipeline.io.probe import probe_video
from stylevid.pipeline.io.true_motion import save_true_motion_clip
from stylevid.pipeline.io.video_read import read_frames
from stylevid.pipeline.motion.flow import resolve_flow_method
from stylevid.pipeline.motion.synthetic import object_clip
from stylevid.pipeline.motion.warping_error import warping_error_sequence

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


def saved_frames(out) -> list[np.ndarray]:
    return [np.asarray(Image.open(p)) for p in sorted((out / ".work" / "frames").glob("*.png"))]


def saved_stats(out) -> list[dict]:
    return [json.loads(Image.open(p).text["stylevid"]) for p in sorted((out / ".work" / "frames").glob("*.png"))]


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
    memory = record["memory"]  # the estimate made before the run, beside the measured peak
    assert memory["estimate_bytes"] > memory["estimate_parts"]["frames_in_flight"] > 0
    # measured, but may be 0 here: a tiny run late in a long test session can reuse memory earlier
    # tests freed (test_budget checks a positive peak in a fresh process)
    assert memory["peak_bytes"] is not None and memory["peak_bytes"] >= 0
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
    free = stylize_video(
        clip,
        style_pictures,
        tmp_path / "free",
        tiny(style=style, frame_iters=8, frame_init="prev", temporal_weight=0, early_stop=False),
    )
    held = stylize_video(
        clip,
        style_pictures,
        tmp_path / "held",
        tiny(style=style, frame_iters=8, frame_init="prev", temporal_weight=1e14, early_stop=False),
    )
    assert held.warping_error < 0.7 * free.warping_error


def test_default_settings_beat_prev_on_true_motion(tmp_path, style_pictures):
    """Graded through the clip's exact motion (not DIS): the defaults are steadier than a plain warm start."""
    clip = object_clip(load_image(CONTENT_FILE), size=(24, 32), frames=4, object_velocity=(-3.0, 1.0))
    frames, flow = tmp_path / "frames", tmp_path / "flow"
    save_true_motion_clip(clip, frames, flow)
    style = StyleConfig(size=32, iters=10, device="cpu")
    true_error = {}
    for name, config in {
        "defaults": VideoConfig(style=style, frame_iters=8),
        "prev": VideoConfig(style=style, frame_iters=8, frame_init="prev", temporal_weight=0),
    }.items():
        result = stylize_video(frames, style_pictures, tmp_path / name, config)
        given = evaluate_clips(result.output, frames, flow_dir=flow).given
        assert given is not None and len(given.values) == 3
        true_error[name] = given.mean
    assert true_error["defaults"] < 0.5 * true_error["prev"]


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


# --- batched video runs (--batch-frames) ---------------------------------------------------------


def batched(**changes) -> VideoConfig:
    style = StyleConfig(size=32, iters=4, device="cpu")
    return VideoConfig(style=style, frame_iters=3, early_stop=False, **changes)


def test_rolling_video_keeps_every_frame_and_records_its_segments(tmp_path, style_pictures):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=8, audio=False)
    result = stylize_video(clip, style_pictures, tmp_path / "out", batched(batch_frames=3))
    assert result.frames == 8
    stats = saved_stats(tmp_path / "out")
    assert [s.get("segment") for s in stats] == [None] + [[1, False]] * 6 + [[1, True]]
    assert [s["iterations"] for s in stats] == [4] + [3] * 7  # ⌈3/3⌉ = 1 iteration per stage, 3 stages each
    assert result.record["config"]["batch_frames"] == 3
    assert {"waiting_for_frames", "optimising"} <= set(result.record["seconds"]["optimise_stages"])


def test_warping_error_measured_while_stylising_matches_a_fresh_measurement(tmp_path, style_pictures):
    """run.json's per-pair errors come from the optimiser's flows; recomputing them from scratch agrees."""
    clip = make_test_clip(tmp_path / "clip.mp4", frames=6, audio=False)
    result = stylize_video(clip, style_pictures, tmp_path / "out", batched(batch_frames=2))
    engine = StyleTransfer(batched().style, style_pictures)
    originals = [engine.prepare_content(f.image) for f in read_frames(clip)]
    flow = resolve_flow_method(batched().flow_method, torch.device("cpu"), originals[0].shape[:2])  # the run's
    fresh = warping_error_sequence(saved_frames(tmp_path / "out"), originals, flow)
    recorded = [row["warping_error"] for row in result.record["per_frame"]]
    assert recorded[0] is None
    assert recorded[1:] == pytest.approx(list(fresh.values), rel=1e-6, abs=1e-9)
    assert result.warping_error == pytest.approx(fresh.mean, rel=1e-6)


def test_a_segment_cut_short_is_redone_whole_on_resume(tmp_path, style_pictures):
    """With --batch-frames 2 frames 1–16 form a segment and 17–19 the next. A kill inside the
    first redoes it from frame 1; a kill inside the second keeps the first. Either way the
    result is the uninterrupted one, bit for bit."""
    clip = make_test_clip(tmp_path / "clip.mp4", frames=20, audio=False)
    config = batched(batch_frames=2)
    stylize_video(clip, style_pictures, tmp_path / "whole", config)
    reference = saved_frames(tmp_path / "whole")
    assert [s.get("segment") for s in saved_stats(tmp_path / "whole")][15:] == [
        [1, False],
        [1, True],
        [17, False],
        [17, False],
        [17, True],
    ]

    for kept in (3, 18):  # frames on disk when the run was killed
        cut = tmp_path / f"cut{kept}"
        shutil.copytree(tmp_path / "whole" / ".work", cut / ".work")
        for late in sorted((cut / ".work" / "frames").glob("*.png"))[kept:]:
            late.unlink()
        redone_from = 1 if kept == 3 else 17
        marked = cut / ".work" / "frames" / f"{redone_from:06d}.png"  # a wrong picture where a redone frame was
        Image.fromarray(np.zeros_like(reference[redone_from])).save(
            marked, pnginfo=_stats_info(tmp_path / "whole", redone_from)
        )
        kept_before = cut / ".work" / "frames" / f"{redone_from - 1:06d}.png"
        before = kept_before.stat().st_mtime_ns
        resumed = stylize_video(clip, style_pictures, cut, config)
        assert resumed.frames == 20
        assert all(np.array_equal(a, b) for a, b in zip(saved_frames(cut), reference))
        assert kept_before.stat().st_mtime_ns == before  # frames before the segment were not redone


def _stats_info(out, position):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("stylevid", json.dumps(saved_stats(out)[position]))
    return info


@pytest.mark.gpu
def test_batched_video_frames_on_cuda(tmp_path, style_pictures):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=9, audio=False, width=160, height=90)
    style = StyleConfig(size=160, iters=20, device="cuda")
    single = stylize_video(clip, style_pictures, tmp_path / "one", VideoConfig(style=style, frame_iters=20))
    batched_run = stylize_video(
        clip, style_pictures, tmp_path / "four", VideoConfig(style=style, frame_iters=20, batch_frames=4)
    )
    assert batched_run.frames == single.frames == 9
    assert batched_run.record["precision"] == "bf16"
    assert batched_run.warping_error < 2 * single.warping_error
    assert batched_run.mean_style_loss < 1.5 * single.mean_style_loss


# --- separate processes: kill -9, Ctrl-C, resume -------------------------------------------------

CLI_TINY = ["--size", "32", "--iters", "6", "--frame-iters", "6", "--no-early-stop", "--device", "cpu", "--quiet"]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "stylevid.cli", *args]


def env_one_thread() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


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
    done = subprocess.run(
        cli(str(clip), "--style", str(STYLE_FILE), "-o", str(root / "ref"), *CLI_TINY),
        env=env_one_thread(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return clip, saved_frames(root / "ref")


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
    resumed = saved_frames(out)
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
    saved = len(saved_frames(out))
    assert 2 < saved < 8 or saved == 8
    done = subprocess.run(command, env=env_one_thread(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert all(np.array_equal(a, b) for a, b in zip(saved_frames(out), reference))


def frame_folder(folder: Path, pictures: list[np.ndarray]) -> Path:
    folder.mkdir()
    for i, picture in enumerate(pictures):
        Image.fromarray(picture).save(folder / f"{i:03d}.png")
    return folder


@pytest.mark.parametrize("batch_frames", [1, 2])
def test_the_frame_after_a_cut_is_stylised_as_a_first_frame(tmp_path, style_pictures, batch_frames):
    """A clip cut at frame 5: frame 5 gets the full budget, no temporal term, no pair error, and the
    second shot comes out exactly as the same frames stylised as a clip of their own."""
    pictures = cut_frames(10, cut_at=5)
    config = batched(batch_frames=batch_frames)  # 4 iterations for a first frame, 3 for the others (4 when rolling)
    result = stylize_video(frame_folder(tmp_path / "cut", pictures), style_pictures, tmp_path / "out", config)
    assert result.record["shots"] == [{"first": 0, "last": 4}, {"first": 5, "last": 9}]
    rows = result.record["per_frame"]
    later = 3 if batch_frames == 1 else 4  # the rolling batch rounds 3 up to whole stages of 2
    assert [r["iterations"] for r in rows] == [4, *[later] * 4, 4, *[later] * 4]
    assert rows[5]["temporal"] == 0 and all(r["temporal"] > 0 for r in rows[6:])
    assert rows[5]["warping_error"] is None and rows[5]["cut_score"] > 2 * rows[4]["cut_score"]
    if batch_frames > 1:
        assert [r.get("segment") for r in rows] == [
            None,
            *[[1, False]] * 3,
            [1, True],
            None,
            *[[6, False]] * 3,
            [6, True],
        ]
    measured = [r["warping_error"] for r in rows if r["warping_error"] is not None]
    assert len(measured) == 8 and result.warping_error == pytest.approx(sum(measured) / 8)
    alone = stylize_video(frame_folder(tmp_path / "shot", pictures[5:]), style_pictures, tmp_path / "alone", config)
    assert all(
        np.array_equal(a, b) for a, b in zip(saved_frames(tmp_path / "out")[5:], saved_frames(tmp_path / "alone"))
    )
    assert alone.frames == 5


def test_forced_cuts_and_no_cuts(tmp_path, style_pictures):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=8, audio=False)
    forced = stylize_video(clip, style_pictures, tmp_path / "forced", batched(cuts=(5,)))
    assert forced.record["shots"] == [{"first": 0, "last": 4}, {"first": 5, "last": 7}]
    assert [r["iterations"] for r in forced.record["per_frame"]] == [4, 3, 3, 3, 3, 4, 3, 3]
    assert list(forced.record["config"]["cuts"]) == [5]
    off = stylize_video(
        frame_folder(tmp_path / "cut", cut_frames(8, cut_at=4)), style_pictures, tmp_path / "off", batched(cuts="off")
    )
    assert off.record["shots"] == [{"first": 0, "last": 7}]
    assert all(r["warping_error"] is not None for r in off.record["per_frame"][1:])
    with pytest.raises(StylevidError, match="other settings"):  # the cuts setting is part of the fingerprint
        stylize_video(clip, style_pictures, tmp_path / "forced", batched(cuts=(6,)))


def test_the_first_frame_of_every_shot_goes_coarse_to_fine(tmp_path, style_pictures):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=5, audio=False)
    style = StyleConfig(size=96, pyramid=(64, 96), iters=2, pyramid_iters=(2, 1), device="cpu")
    result = stylize_video(clip, style_pictures, tmp_path / "out", tiny(style=style, frame_iters=1, cuts=(3,)))
    rows = result.record["per_frame"]
    assert [r["iterations"] for r in rows] == [3, 1, 1, 3, 1]  # 2 + 1 for a shot's first frame
    for row in (rows[0], rows[3]):
        assert [(s["size"][0], s["iterations"]) for s in row["stages"]] == [(64, 2), (96, 1)]
    assert all("stages" not in rows[k] for k in (1, 2, 4))  # warm-started at full size, as before
    assert saved_frames(tmp_path / "out")[0].shape[1] == 96
    with Image.open(tmp_path / "out" / "progress.gif") as gif:  # frame 0's stages, at the final size
        assert gif.n_frames == 4 and gif.size[0] == 96  # init, 1, 2 (at 64 px, upsampled), 3 (stage 2's 1 at 96 px)
