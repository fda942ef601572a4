"""Video throughput: the reference path against the fast path (and batches of frames) on one clip.

Every run is a real ``stylize_video`` call — decode, flow, optimisation, work-folder PNGs,
encoding with audio, warping error — on the same frames with the same settings; only the engine
precision and ``batch_frames`` differ:

  reference     --precision fp32: fp32 everywhere, torch.optim.LBFGS, one frame at a time
  fast          --precision auto: on a GPU with native bf16, bf16 autocast + channels-last + the sync-free L-BFGS
  fast-batchK   the fast path with --batch-frames K
  graphs, graphs-batchK   the same with --cuda-graphs (CUDA only; --graphs chooses the K)

Per run it prints frames/s end to end (wall time of the call), frame-iterations/s of the
optimiser, the warping error and mean style loss (and their change against the reference), and
where the time went: waiting for decoded frames and flow, optimising, finalising (encode, renders).

    python benchmarks/video_throughput.py                       # GPU: 854×480, default video settings
    python benchmarks/video_throughput.py --device cpu          # CPU: a small, short version

Weights: $STYLEVID_WEIGHTS / $STYLEVID_WEIGHTS_FORMAT (e.g. the shared Caffe file) or torchvision's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import speed  # benchmarks/speed.py, beside this script
import torch

from stylevid.pipeline import VideoConfig, stylize_video
from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine.device import pick_device
from stylevid.pipeline.engine.transfer import StyleTransfer
from stylevid.pipeline.io.images import load_image
from stylevid.pipeline.io.timecode import parse_time_or_index
from stylevid.pipeline.io.video_read import read_frames

ROOT = Path(__file__).resolve().parents[1]


def machine_line(device: torch.device) -> str:
    """speed.py's machine line, plus the CPU cores that decode, flow and encode beside a GPU."""
    return speed.machine(device) + (f", {os.cpu_count()} CPU cores" if device.type == "cuda" else "")


def warm_up(engine: StyleTransfer, clip: Path, batch_sizes: list[int]) -> None:
    """cuDNN autotuning and allocator growth for every batch shape, before anything is timed."""
    first = next(iter(read_frames(clip)))
    content = engine.prepare_content(first.image)
    for count in sorted(set(batch_sizes)):
        engine.stylize_batch([content] * count, iters=3)
    if engine.device.type == "cuda":
        torch.cuda.synchronize(engine.device)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=ROOT / "samples" / "cockatoo.mp4")
    parser.add_argument("--style", type=Path, default=ROOT / "samples" / "starry_night.jpg")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--size", type=int, default=None, help="long side [854 on CUDA (854×480 for the sample), 128 on CPU]"
    )
    parser.add_argument(
        "--end", default=None, help="stop before this frame or time [the whole clip on CUDA, 12 on CPU]"
    )
    parser.add_argument("--iters", type=int, default=None, help="frame 1's budget [500 on CUDA, 30 on CPU]")
    parser.add_argument("--frame-iters", type=int, default=None, help="later frames' budget [150 on CUDA, 20 on CPU]")
    parser.add_argument(
        "--batch", default=None, help="batch sizes of the fast runs, e.g. 1,4,8 [1,4,8 on CUDA, 1,4 on CPU]"
    )
    parser.add_argument(
        "--graphs",
        default=None,
        help="batch sizes to run again with --cuda-graphs, e.g. 1,8 [1,8 on CUDA; none on CPU]; '' for none",
    )
    parser.add_argument("--no-reference", action="store_true", help="skip the (slow) reference run")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "video-throughput")
    parser.add_argument("--json", type=Path, default=None, help="also write the table as JSON here")
    args = parser.parse_args()

    device = pick_device(args.device)
    gpu = device.type == "cuda"
    if not gpu and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)
    size = args.size or (854 if gpu else 128)
    end = parse_time_or_index(args.end) if args.end else (None if gpu else 12)
    iters = args.iters or (500 if gpu else 30)
    frame_iters = args.frame_iters or (150 if gpu else 20)
    batches = [int(b) for b in (args.batch or ("1,4,8" if gpu else "1,4")).split(",")]
    graphs_text = args.graphs if args.graphs is not None else ("1,8" if gpu else "")
    graphed = [int(b) for b in graphs_text.split(",") if b.strip()] if gpu else []

    print(f"machine: {machine_line(device)}   torch {torch.__version__}")
    print(f"command: python {' '.join(sys.argv)}")
    print(
        f"clip: {args.clip.name}, long side {size}, end {end if end is not None else 'whole clip'}, "
        f"iterations {iters} (frame 1) / {frame_iters} (later, early stop on)"
    )
    styles = [load_image(args.style)]
    base = StyleConfig(size=size, iters=iters, device=str(device))
    runs: list[tuple[str, StyleConfig, int]] = []
    if not args.no_reference:
        runs.append(("reference", base.replace(precision="fp32"), 1))
    runs += [("fast" if k == 1 else f"fast-batch{k}", base.replace(precision="auto"), k) for k in batches]
    runs += [
        ("graphs" if k == 1 else f"graphs-batch{k}", base.replace(precision="auto", cuda_graphs=True), k)
        for k in graphed
    ]

    engines: dict[tuple[str, bool], StyleTransfer] = {}
    table: dict[str, dict] = {}
    header = (
        f"{'run':<14}{'frames':>7}{'frames/s':>10}{'frame-it/s':>12}{'warp err':>11}{'Δ':>8}"
        f"{'style':>11}{'Δ':>8}{'wait s':>8}{'opt s':>8}{'final s':>9}"
    )
    print(header)
    for name, style, batch_frames in runs:
        key = (style.precision, style.cuda_graphs)
        if key not in engines:
            engines[key] = StyleTransfer(style, styles)
            warm_up(engines[key], args.clip, [k for n, s, k in runs if (s.precision, s.cuda_graphs) == key])
        engine = engines[key]
        config = VideoConfig(style=style, frame_iters=frame_iters, batch_frames=batch_frames, end=end)
        began = time.perf_counter()
        result = stylize_video(args.clip, styles, args.out / name, config, restart=True, engine=engine)
        wall = time.perf_counter() - began
        record = result.record
        stages = record["seconds"]["optimise_stages"]
        frame_iterations = sum(row["iterations"] for row in record["per_frame"])
        row = {
            "frames": result.frames,
            "wall_seconds": wall,
            "frames_per_second": result.frames / wall,
            "frame_iterations_per_second": frame_iterations / max(stages["optimising"], 1e-9),
            "warping_error": result.warping_error,
            "mean_style_loss": result.mean_style_loss,
            "mean_iterations": record["mean_iterations"],
            "precision": engine.precision,
            "batch_frames": batch_frames,
            "cuda_graphs": style.cuda_graphs,
            "seconds": {**stages, "finalise": record["seconds"]["finalise"]},
            # per frame: where a mean goes wrong (one frame, or all)
            "per_frame_style": [frame.get("style") for frame in record["per_frame"]],
            "per_frame_iterations": [frame.get("iterations") for frame in record["per_frame"]],
        }
        reference = table.get("reference")
        if reference:
            row["vs_reference"] = {
                "frame_iterations_per_second": row["frame_iterations_per_second"]
                / reference["frame_iterations_per_second"],
                "warping_error": row["warping_error"] / reference["warping_error"] - 1,
                "mean_style_loss": row["mean_style_loss"] / reference["mean_style_loss"] - 1,
            }
        table[name] = row
        delta = row.get("vs_reference")
        warp_delta = f"{delta['warping_error'] * 100:>+7.1f}%" if delta else f"{'-':>8}"
        style_delta = f"{delta['mean_style_loss'] * 100:>+7.1f}%" if delta else f"{'-':>8}"
        print(
            f"{name:<14}{row['frames']:>7}{row['frames_per_second']:>10.3f}{row['frame_iterations_per_second']:>12.1f}"
            f"{row['warping_error']:>11.5f}{warp_delta}{row['mean_style_loss']:>11.4g}{style_delta}"
            f"{stages['waiting_for_frames']:>8.1f}{stages['optimising']:>8.1f}{row['seconds']['finalise']:>9.1f}",
            flush=True,
        )
        print(
            f"{'':<14}style per frame: {' '.join(f'{v:.2g}' for v in row['per_frame_style'] if v is not None)}",
            flush=True,
        )
        if args.json:  # after every run: a run cut short by a time limit keeps the ones before it
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(
                json.dumps(
                    {
                        "machine": machine_line(device),
                        "size": size,
                        "end": str(end),
                        "iters": iters,
                        "frame_iters": frame_iters,
                        "runs": table,
                    },
                    indent=2,
                )
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
