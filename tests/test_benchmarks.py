"""benchmarks/speed.py still runs: a 32 px CPU run of both paths, checked through its JSON."""

from __future__ import annotations

import json
import math
import subprocess
import sys

from conftest import REPO


def test_speed_benchmark_runs_on_cpu_and_writes_both_paths(tmp_path):
    out = tmp_path / "speed.json"
    command = [sys.executable, str(REPO / "benchmarks" / "speed.py"), "--device", "cpu", "--sizes", "32x32",
               "--iters", "2", "--warmup", "1", "--weights", "random", "--precision", "bf16", "--json", str(out)]
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
    assert row["loss_rel_diff"] == (row["fast"]["final_loss"] - row["reference"]["final_loss"]) / row["reference"]["final_loss"]
    assert abs(row["loss_rel_diff"]) < 0.2


def test_video_throughput_benchmark_runs_on_cpu(tmp_path):
    out = tmp_path / "video.json"
    command = [sys.executable, str(REPO / "benchmarks" / "video_throughput.py"), "--device", "cpu", "--size", "32",
               "--end", "4", "--iters", "2", "--frame-iters", "2", "--batch", "1,2", "--out", str(tmp_path / "runs"),
               "--json", str(out)]
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
