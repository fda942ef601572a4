"""The memory estimate checked before a run (pipeline/budget.py) against the peak the run really used.

For every --size, a fresh Python process runs ``stylize_image_file`` (what `stylevid IMAGE` runs,
renders and run.json included) on the content and style pictures, and run.json's ``memory``
block gives both figures: the estimate (``estimate_run``, from the pictures' headers and the
configuration, before any work) and the measured peak: on the CPU the growth of the process's
resident size over its size when the job started (Linux's VmHWM, reset at the start), on CUDA
``torch.cuda.max_memory_allocated`` over what was allocated at the start. One process per size
keeps each peak clean of the runs before it. The table gives both and their ratio; the estimate
is meant to be within TOLERANCE (25 %) of the peak.

The L-BFGS history is part of the peak only once it is filled: on the CPU (fp32, one picture)
torch.optim.LBFGS keeps one pair per iteration, so the default run uses --iters > --history.

    python benchmarks/memory_estimate.py                                 # CPU: 128, 256, 512 px
    python benchmarks/memory_estimate.py --device cuda --sizes 512,1024,2048 --iters 30 --history 20
    python benchmarks/memory_estimate.py --json out/memory_estimate.json

Weights: $STYLEVID_WEIGHTS / $STYLEVID_WEIGHTS_FORMAT, or --weights FILE --weights-format FORMAT.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONTENT = REPO / "samples" / "tuebingen.jpg"
DEFAULT_STYLE = REPO / "samples" / "starry_night.jpg"
TOLERANCE = 0.25  # |peak / estimate − 1| at most this


def worker(args: argparse.Namespace) -> None:
    """One size, in this (fresh) process: print run.json's memory block as one JSON line."""
    from stylevid.pipeline.config import StyleConfig
    from stylevid.pipeline.image_job import stylize_image_file

    config = StyleConfig(
        size=args.worker,
        iters=args.iters,
        history_size=args.history,
        device=args.device,
        precision=args.precision,
        weights=args.weights,
        weights_format=args.weights_format,
    )
    with tempfile.TemporaryDirectory() as out:
        began = time.perf_counter()
        result = stylize_image_file(Path(args.content), [Path(args.style)], Path(out), config)
        seconds = time.perf_counter() - began
    size = result.record["processing_size"]
    print(json.dumps({"size": args.worker, "processing": size, "seconds": seconds, **result.record["memory"]}))


def measure(args: argparse.Namespace, size: int) -> dict:
    command = [sys.executable, __file__, "--worker", str(size)]
    for name in ("iters", "history", "device", "precision", "content", "style", "weights", "weights_format"):
        value = getattr(args, name)
        if value is not None:
            command += [f"--{name.replace('_', '-')}", str(value)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"size {size} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="128,256,512", help="--size values (long side, px), comma-separated")
    parser.add_argument("--iters", type=int, default=12)
    parser.add_argument("--history", type=int, default=10, help="L-BFGS history (filled when --iters > it)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--content", default=str(DEFAULT_CONTENT))
    parser.add_argument("--style", default=str(DEFAULT_STYLE))
    parser.add_argument("--weights", default=None)
    parser.add_argument("--weights-format", default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the rows and settings here")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args)
        return
    rows = []
    print(f"{'size':>6} {'processing':>11} {'estimate MiB':>13} {'peak MiB':>9} {'peak/est':>9} {'seconds':>8}")
    for size in (int(s) for s in args.sizes.split(",")):
        row = measure(args, size)
        row["within_tolerance"] = abs(row["peak_bytes"] / row["estimate_bytes"] - 1) <= TOLERANCE
        rows.append(row)
        width, height = row["processing"]
        estimate, peak = row["estimate_bytes"], row["peak_bytes"]
        print(
            f"{size:>6} {f'{width}×{height}':>11} {estimate / 2**20:>13.0f} "
            f"{peak / 2**20:>9.0f} {peak / estimate:>9.2f} {row['seconds']:>8.1f}"
        )
    settings = {k: getattr(args, k) for k in ("iters", "history", "device", "precision", "content", "style")}
    summary = {
        "settings": settings,
        "tolerance": TOLERANCE,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "rows": rows,
        "all_within_tolerance": all(r["within_tolerance"] for r in rows),
    }
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print("all within ±25 %" if summary["all_within_tolerance"] else "NOT all within ±25 %")


if __name__ == "__main__":
    main()
