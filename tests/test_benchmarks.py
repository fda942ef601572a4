"""benchmarks/speed.py still runs: a 32 px CPU run of both paths, checked through its JSON."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys

import pytest
import torch
from conftest import REPO

from stylevid.pipeline.errors import StylevidError


def test_speed_benchmark_runs_on_cpu_and_writes_both_paths(tmp_path):
    out = tmp_path / "speed.json"
    command = [
        sys.executable,
        str(REPO / "benchmarks" / "speed.py"),
        "--device",
        "cpu",
        "--sizes",
        "32x32",
        "--iters",
        "2",
        "--warmup",
        "1",
        "--weights",
        "random",
        "--precision",
        "bf16",
        "--json",
        str(out),
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "speed-up" in done.stdout and "reference" in done.stdout and "fast" in done.stdout

    data = json.loads(out.read_text())
    assert data["device"] == "cpu" and data["fast_precision"] == "bf16" and data["weights"] == "random"
    assert data["torch"] and data["machine"] and "--sizes 32x32" in data["command"]
    (row,) = data["results"]
    assert (row["width"], row["height"], row["iters"]) == (32, 32, 2)
    start = row["initial_loss"]
    assert math.isfinite(start) and start > 0
    for path in ("reference", "fast"):
        result = row[path]
        assert "error" not in result, result
        assert result["ms_per_iter"] > 0 and result["iterations"] == 2
        assert 0 < result["final_loss"] < start  # both lowered the same loss from the same start
        assert 0 < result["final_loss_uint8"] < start
        assert result["peak_memory_bytes"] is None  # CPU: no GPU memory
    assert row["fast"]["final_loss_is_float_result"] is True
    assert row["speedup"] > 0
    assert (
        row["loss_rel_diff"]
        == (row["fast"]["final_loss"] - row["reference"]["final_loss"]) / row["reference"]["final_loss"]
    )
    assert abs(row["loss_rel_diff"]) < 0.2
    assert data["loss_tolerance"] == 0.02
    assert row["loss_within_tolerance"] == (row["loss_rel_diff"] <= data["loss_tolerance"])
    assert data["reference_fp32_math"] == "fp32 (CPU)" and data["complete"] is True


def _speed_module(monkeypatch):
    """benchmarks/speed.py imported as a module (registered, as its dataclasses need)."""
    spec = importlib.util.spec_from_file_location("speed_benchmark", REPO / "benchmarks" / "speed.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_speed_benchmark_writes_each_size_as_it_is_done(tmp_path, monkeypatch):
    """A run cut short (here: at the second size) leaves the first size's figures in the JSON."""
    speed = _speed_module(monkeypatch)
    real = speed.benchmark_size

    def first_size_only(args, device, state, convention, width, height):
        if width != 32:
            raise KeyboardInterrupt("the step's time limit")
        return real(args, device, state, convention, width, height)

    monkeypatch.setattr(speed, "benchmark_size", first_size_only)
    threads = torch.get_num_threads()
    out = tmp_path / "speed.json"
    try:
        with pytest.raises(KeyboardInterrupt):
            speed.main(
                [
                    "--device",
                    "cpu",
                    "--sizes",
                    "32x32,48x48",
                    "--iters",
                    "1",
                    "--warmup",
                    "0",
                    "--weights",
                    "random",
                    "--json",
                    str(out),
                ]
            )
    finally:
        torch.set_num_threads(threads)
    data = json.loads(out.read_text())
    assert data["complete"] is False
    (row,) = data["results"]
    assert row["size"] == "32x32" and row["fast"]["iterations"] == 1


def test_speed_benchmark_records_the_fast_paths_out_of_memory_error_and_goes_on(monkeypatch):
    speed = _speed_module(monkeypatch)
    message = "GPU out of memory at 1920×1080 on a test GPU (24 GiB): try --size 1280"

    def out_of_memory():
        raise StylevidError(message)

    assert speed.guarded(out_of_memory) == {"error": message}
    with pytest.raises(ValueError):  # a bug is not an out-of-memory row
        speed.guarded(lambda: int("x"))


def test_video_throughput_benchmark_runs_on_cpu(tmp_path):
    out = tmp_path / "video.json"
    command = [
        sys.executable,
        str(REPO / "benchmarks" / "video_throughput.py"),
        "--device",
        "cpu",
        "--size",
        "32",
        "--end",
        "4",
        "--iters",
        "2",
        "--frame-iters",
        "2",
        "--batch",
        "1,2",
        "--out",
        str(tmp_path / "runs"),
        "--json",
        str(out),
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    runs = json.loads(out.read_text())["runs"]
    assert list(runs) == ["reference", "fast", "fast-batch2"]
    assert runs["reference"]["precision"] == "fp32"
    for name, row in runs.items():
        assert row["frames"] == 4 and row["frames_per_second"] > 0 and row["warping_error"] > 0, name
        assert row["batch_frames"] == (2 if name == "fast-batch2" else 1)
    assert runs["fast"]["vs_reference"]["frame_iterations_per_second"] > 0
    assert (tmp_path / "runs" / "fast-batch2" / "cockatoo_stylised.mp4").is_file()


def test_memory_estimate_benchmark_runs_and_records_estimate_and_peak(tmp_path):
    out = tmp_path / "memory.json"
    script = str(REPO / "benchmarks" / "memory_estimate.py")
    command = [sys.executable, script, "--sizes", "32", "--iters", "2", "--history", "1", "--json", str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "peak/est" in done.stdout
    row = json.loads(out.read_text())["rows"][0]
    assert row["processing"] == [32, 24] and row["device"] == "cpu"
    assert row["estimate_bytes"] > 0 and row["peak_bytes"] > 0


def test_true_motion_benchmark_grades_with_the_exact_flow(tmp_path):
    out = tmp_path / "true_motion.json"
    command = [sys.executable, str(REPO / "benchmarks" / "true_motion.py"), "--size", "32", "--frames", "5"]
    command += ["--iters", "2", "--frame-iters", "2", "--clips", "object", "--threads", "1"]
    command += ["--out", str(tmp_path / "runs"), "--json", str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads(out.read_text())["clips"]["object"]["rows"]
    assert list(rows) == ["originals", "independent", "prev", "prev-warped (DIS)", "prev-warped (exact)"]
    assert rows["prev"]["true_motion_warping_error_vs_prev"] == 1.0
    # a run driven by the exact flow records (in run.json) the same error the benchmark measures through it
    exact = rows["prev-warped (exact)"]
    assert exact["run_json_warping_error"] == pytest.approx(exact["true_motion_warping_error"], rel=1e-3)
    assert rows["originals"]["true_motion_warping_error"] < 1e-3 and (tmp_path / "runs" / "object" / "flow").is_dir()


def test_multi_pass_benchmark_grades_every_pass_of_one_run(tmp_path):
    out = tmp_path / "multi_pass.json"
    command = [sys.executable, str(REPO / "benchmarks" / "multi_pass.py"), "--size", "32", "--frames", "4"]
    command += ["--iters", "2", "--frame-iters", "2", "--passes", "2", "--clips", "object", "--threads", "1"]
    command += ["--cost-size", "64", "--out", str(tmp_path / "runs"), "--json", str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    rows = report["clips"]["object"]
    assert list(rows) == ["prev", "1 pass", "2 passes"]
    # the benchmark's DIS figure of each pass is the one run.json records for it
    assert rows["2 passes"]["run_json_warping_error"] == pytest.approx(rows["2 passes"]["dis_warping_error"], rel=1e-3)
    assert report["costs"]["flow_pair_ms"] > 0 and len(report["load_average"]) == 3


def _load_benchmark(name: str):
    sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_coherence_grading_low_pass_column_does_not_reward_blur():
    """A sharp painting moved exactly with the scene, against the same painting blurred: the bilinear
    true-motion error prefers the blurred one (the bias the benchmark exposes), the low-pass one
    grades both as coherent, and both keep a still picture (prev's way) far behind."""
    import cv2
    import numpy as np

    from stylevid.pipeline.motion.synthetic import camera_clip, noise_texture

    grading = _load_benchmark("coherence_grading")
    true_motion = _load_benchmark("true_motion")
    clip = camera_clip(noise_texture(96, 128, seed=3), size=(36, 48), frames=4, shift=(1.5, 0.5), zoom=1.01)
    rng = np.random.default_rng(7)  # pixel-fine texture over smooth colour: what a bilinear warp blurs
    painting = np.clip(noise_texture(36, 48, seed=7) * 0.5 + rng.random((36, 48, 3)) * 127, 0, 255).astype(np.uint8)
    sharp = grading.carried(clip, painting, "bicubic")
    blurred = [cv2.GaussianBlur(frame, (0, 0), 1.0) for frame in sharp]
    still = [painting] * len(clip)
    true = {name: true_motion.true_error(clip, frames, 1) for name, frames in (("sharp", sharp), ("blurred", blurred))}
    assert true["blurred"] < 0.5 * true["sharp"]
    low = {
        n: true_motion.true_error(clip, grading.low_pass(f, 1.0), 1) for n, f in (("sharp", sharp), ("still", still))
    }
    assert low["sharp"] < 0.1 * low["still"]
    assert grading.detail(blurred[1]) < 0.5 * grading.detail(sharp[1]) and np.isfinite(grading.detail(still[0]))
