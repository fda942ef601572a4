"""Which CUDA allocations outlive a graphed stylize? (tests/engine/test_cuda_graph.py checks that
almost none do; this names the ones that do, with the Python stack that made each.)

    python benchmarks/gpu_leftover_memory.py [--precision bf16] [--size 128] [--iters 12]

Needs CUDA and STYLEVID_WEIGHTS (a Caffe-convention file such as the shared VGG19).
"""

from __future__ import annotations

import argparse
import os
from collections import Counter

import torch

from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine.cuda_graph import clear_cublas_workspaces
from stylevid.pipeline.engine.transfer import StyleTransfer
from stylevid.pipeline.engine.vgg import VGG19Features
from stylevid.pipeline.engine.weights import load_state_dict, resolve_weights
from stylevid.pipeline.io import images

SAMPLES = os.path.join(os.path.dirname(__file__), "..", "samples")


def live_blocks() -> dict[int, tuple[int, str]]:
    """Address → (bytes, where it was allocated) of every allocated block now."""
    blocks = {}
    for segment in torch.cuda.memory._snapshot()["segments"]:
        for block in segment["blocks"]:
            if block["state"] == "active_allocated":
                frames = block.get("frames") or []
                where = " < ".join(
                    f"{os.path.basename(f['filename'])}:{f['line']}:{f['name']}"
                    for f in frames
                    if "stylevid" in f["filename"] or "benchmarks" in f["filename"]
                )[:400]
                blocks[block["address"]] = (block["size"], where or "(no Python frame of ours)")
    return blocks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--iters", type=int, default=12)
    args = parser.parse_args()
    state = load_state_dict(resolve_weights(os.environ["STYLEVID_WEIGHTS"], "caffe"))
    content = images.resize(images.load_image(os.path.join(SAMPLES, "tuebingen.jpg")), args.size, args.size)
    style = images.resize(images.load_image(os.path.join(SAMPLES, "starry_night.jpg")), args.size, args.size)
    config = StyleConfig(
        size=args.size, iters=args.iters, init="content", device="cuda", precision=args.precision, cuda_graphs=True
    )
    engine = StyleTransfer(config, [style], extractor=VGG19Features(state, "caffe", last_layer="relu5_1"))
    prepared = engine.prepare_content(content)
    engine.stylize(prepared, iters=3)
    torch.cuda.synchronize()
    torch.cuda.memory._record_memory_history(max_entries=100000)
    before = live_blocks()
    allocated = torch.cuda.memory_allocated()
    result = engine.stylize(prepared)
    torch.cuda.synchronize()
    left = torch.cuda.memory_allocated() - allocated
    clear_cublas_workspaces()
    left_after_clear = torch.cuda.memory_allocated() - allocated
    after = live_blocks()
    new = Counter()
    for address, (size, where) in after.items():
        if address not in before:
            new[where] += size
    print(
        f"{args.precision} {args.size}px {args.iters} iters, replayed {result.replayed}: "
        f"{left / 2**20:.2f} MiB left, {left_after_clear / 2**20:.2f} MiB after clearing cuBLAS workspaces"
    )
    for where, size in new.most_common(12):
        print(f"  {size / 2**20:8.2f} MiB  {where}")
    gone = sum(size for address, (size, _) in before.items() if address not in after)
    print(f"  freed since before: {gone / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
