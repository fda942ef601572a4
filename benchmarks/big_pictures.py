"""Big pictures: memory and time of one iteration, untiled vs exact tiling (``--tile``).

For every size S the content picture (samples/tuebingen.jpg) and the style picture
(samples/starry_night.jpg, --style-scale 1, so also S px) are resized to S×S, and each mode runs
in a fresh subprocess (so peak memory is its own):

* **untiled** — ``StyleTransfer(StyleConfig(size=S))``: the whole picture through VGG at once;
* **tiled** — the same with ``tile=T`` (``--tile``, T = 512, or S/2 when S ≤ 512): pass 1 (Gram
  sums, no gradient) and pass 2 (per-tile backward) of pipeline/engine/tiling.py.

Per run it records, on the CPU:

* ``setup_s`` / ``setup_peak_mb``: the targets (content responses, style Grams; tiled too when tiled);
* ``iteration_s`` (wall) and ``iteration_cpu_s`` (user + system CPU time of the process) of one
  L-BFGS iteration (``Optimisation.step``: one loss and gradient evaluation and the step);
* ``iteration_peak_mb``: peak resident memory during that iteration (VmHWM, reset before it
  through /proc/self/clear_refs), and ``baseline_mb``: resident memory before the targets
  (torch, the weights);
* ``history_mb``: what the L-BFGS history of m = --history pairs would hold at this size,
  2·m image-sized fp32 buffers (computed, not measured: after one iteration it holds one pair).

    python benchmarks/big_pictures.py --sizes 512,1024,2048 --json out/big_pictures.json
    python benchmarks/big_pictures.py --sizes 128 --tile 64          # a quick check

Run it on a quiet machine: the timings are wall and CPU time of a 2-core CPU. Each size's two
runs follow each other, so the time ratio compares like with like.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "samples" / "tuebingen.jpg"
STYLE = REPO / "samples" / "starry_night.jpg"
MB = 2**20


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024 / MB
    return float("nan")


def _gpu_name() -> str:
    import torch

    return torch.cuda.get_device_name()


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux ≥ 4.0)
        return True
    except OSError:
        return False


def worker(size: int, tile: int | None, history: int, device: str, history_dtype: str, threads: int | None) -> dict:
    import torch

    if threads:
        torch.set_num_threads(threads)
    from stylevid.pipeline.config import StyleConfig
    from stylevid.pipeline.engine.memory import history_bytes, network_view
    from stylevid.pipeline.engine.optimize import TERMS, Optimisation
    from stylevid.pipeline.engine.transfer import StyleTransfer
    from stylevid.pipeline.io.images import load_image, resize

    cuda = device.startswith("cuda")
    content = resize(load_image(CONTENT), size, size)
    style = resize(load_image(STYLE), size, size)
    config = StyleConfig(
        size=size, iters=1, history_size=history, history_dtype=history_dtype, device=device, tile=tile or "off"
    )
    engine = StyleTransfer(config, [style])
    baseline = torch.cuda.memory_allocated() / MB if cuda else _status_mb("VmRSS")
    began = time.perf_counter()
    objective = engine.objective(1, size, size)
    engine.set_contents(objective, [content])
    start = engine.initial_image(content)
    if cuda:
        torch.cuda.synchronize()
    setup_s = time.perf_counter() - began
    setup_peak = torch.cuda.max_memory_allocated() / MB if cuda else _status_mb("VmHWM")
    optimisation = Optimisation(start, objective, engine.optimiser)
    record = torch.zeros(len(TERMS), 1, device=engine.device)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated() / MB
        reset = True
    else:
        reset = _reset_peak()
        before = _status_mb("VmRSS")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    optimisation.step(record)
    if cuda:
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    peak = torch.cuda.max_memory_allocated() / MB if cuda else (_status_mb("VmHWM") if reset else None)
    shape = engine.memory_shape()
    return {
        "size": size,
        "tile": tile,
        "device": device,
        "precision": engine.precision,
        "history": history,
        "history_dtype": history_dtype,
        "optimiser": type(optimisation._stepper).__module__,
        "threads": torch.get_num_threads(),
        "baseline_mb": round(baseline),
        "setup_s": round(setup_s, 2),
        "setup_peak_mb": round(setup_peak),
        "before_iteration_mb": round(before),
        "iteration_s": round(wall, 2),
        "iteration_cpu_s": round(cpu, 2),
        "iteration_peak_mb": round(peak) if peak is not None else None,
        "process_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "history_mb": round(history_bytes(size, size, shape) / MB),
        "network_view": list(network_view(size, size, shape)),
        "loss": dict(zip(TERMS, record[:, 0].tolist())),
    }


def run_one(
    size: int, tile: int | None, history: int, timeout: float, device: str = "cpu", history_dtype: str = "fp32",
    threads: int | None = None,
) -> dict:  # fmt: skip
    command = [sys.executable, __file__, "--worker", str(size), "--history", str(history), "--device", device]
    command += ["--history-dtype", history_dtype]
    if threads:
        command += ["--threads", str(threads)]
    if tile is not None:
        command += ["--worker-tile", str(tile)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"size": size, "tile": tile, "device": device, "failed": f"over {timeout:.0f} s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return {"size": size, "tile": tile, "device": device, "failed": f"exit {done.returncode}: {last}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    lines = [
        "| size | tile | setup s | iteration s (wall) | iteration CPU s | peak RSS in the iteration (MB) "
        "| peak RSS of the process (MB) | L-BFGS history, m pairs (MB, computed) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        tile = r["tile"] if r["tile"] is not None else "—"
        if "failed" in r:
            lines.append(f"| {r['size']} | {tile} | failed: {r['failed']} | | | | | |")
            continue
        lines.append(
            f"| {r['size']}² | {tile} | {r['setup_s']} | {r['iteration_s']} | {r['iteration_cpu_s']} "
            f"| {r['iteration_peak_mb']} | {r['process_peak_mb']} | {r['history_mb']} |"
        )
    return "\n".join(lines)


def model_table(sizes: list[int], tile: int, variants: list[str]) -> str:
    """The memory model's parts (engine/memory.py, pipeline/budget.py) of a CPU run at S×S, whole and
    in ``tile``-px tiles, per L-BFGS history (DTYPE:PAIRS); GB (2³⁰ bytes)."""
    from stylevid.pipeline.budget import estimate_run
    from stylevid.pipeline.config import StyleConfig
    from stylevid.pipeline.engine.memory import (
        HISTORY_BYTES,
        RunShape,
        activation_bytes,
        history_bytes,
        network_view,
        optimiser_bytes,
        target_bytes,
    )

    gb = 2**30
    lines = [
        "| size | tile | history | network (activations) | L-BFGS pairs | image, gradient, step buffers "
        "| content targets | snapshots (GIF) | style pass | whole run (estimate) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in sizes:
        for tiled in (None, tile):
            for variant in variants:
                dtype, pairs = variant.split(":")
                config = StyleConfig(
                    size=size, iters=500, history_size=int(pairs), history_dtype=dtype, tile=tiled or "off"
                )
                estimate = estimate_run(size, size, config, device="cpu", styles=[(size, size)], source=(size, size))
                shape = RunShape(
                    layers={config.content_layer, *config.style_layers},
                    style_layers=config.style_layers,
                    content_layer=config.content_layer,
                    history=int(pairs),
                    history_bytes=HISTORY_BYTES[dtype],
                    tile=tiled,
                )
                act = activation_bytes(*network_view(size, size, shape), shape)
                hist = history_bytes(size, size, shape)
                rest = optimiser_bytes(size, size, shape) - hist
                cells = [act, hist, rest, target_bytes(size, size, shape), estimate.parts["snapshots"]]
                cells += [estimate.parts["style_pass"], estimate.bytes]
                lines.append(
                    f"| {size}² | {tiled or '—'} | {pairs} {dtype} | "
                    + " | ".join(f"{c / gb:.2f}" for c in cells)
                    + " |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="512,1024,2048", help="picture sides, comma-separated")
    parser.add_argument("--tile", type=int, default=512, help="tile side (S/2 for sizes ≤ this)")
    parser.add_argument("--modes", default="untiled,tiled", help="untiled, tiled or both")
    parser.add_argument("--history", type=int, default=100, help="L-BFGS history size m")
    parser.add_argument("--history-dtype", default="fp32", help="L-BFGS history storage: fp32, bf16 or fp16")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda (peak = torch.cuda.max_memory_allocated)")
    parser.add_argument("--threads", type=int, help="torch threads per run (default: torch's)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--model", default=None, help="print the memory model's parts for DTYPE:PAIRS,… instead")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-tile", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(
            json.dumps(
                worker(args.worker, args.worker_tile, args.history, args.device, args.history_dtype, args.threads)
            )
        )
        return
    if args.model:
        print(model_table([int(s) for s in args.sizes.split(",")], args.tile, args.model.split(",")))
        return
    rows: list[dict] = []
    for size in (int(s) for s in args.sizes.split(",")):
        for mode in args.modes.split(","):
            tile = None if mode == "untiled" else (args.tile if size > args.tile else size // 2)
            rows.append(run_one(size, tile, args.history, args.timeout, args.device, args.history_dtype, args.threads))
            print(json.dumps(rows[-1]), flush=True)
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                meta = {"command": " ".join(sys.argv), "cpus": os.cpu_count(), "load": os.getloadavg()}
                if args.device.startswith("cuda"):
                    meta["gpu"] = _gpu_name()
                args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(table(rows))


if __name__ == "__main__":
    main()
