"""What a smaller L-BFGS history costs: final loss with fewer pairs, or pairs stored in 16 bits.

Issue 20 item 3. At large sizes the L-BFGS history is the largest thing a run holds (2·m
image-sized buffers: 37.5 GB at 4096² with m = 100 in fp32). Two ways to shrink it:

* fewer pairs (``--history m``; jcjohnson's multires scripts use 5 at the top stages);
* pairs stored in bfloat16 or float16 (``--history-dtype``; engine/lbfgs.py: per-row fp32 scales,
  maths in fp32): half the bytes.

Every variant optimises the same picture (samples/tuebingen.jpg × samples/starry_night.jpg at
``--size``, content init, fp32 network) for the same number of iterations, one after another in
one process with one network. The reference is the default run (``fp32:100``: torch.optim.LBFGS,
100 fp32 pairs); ``ours-fp32:100`` is the engine's own L-BFGS on the same settings (it should
match the reference closely: same algorithm). Per variant: the paper loss (α·content + β·style)
at a third, two thirds and the end of the run, its ratio to the reference's final loss, and the
history's bytes at 4096² (computed).

    python benchmarks/lbfgs_history.py --size 256 --iters 150 --json out/lbfgs_history.json
    python benchmarks/lbfgs_history.py --size 64 --iters 10          # a quick check

The ratio of final losses is the figure to read (lower is better, 1 = as good as the reference);
timings are wall times on whatever machine runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "samples" / "tuebingen.jpg"
STYLE = REPO / "samples" / "starry_night.jpg"
DEFAULT_VARIANTS = "fp32:100,ours-fp32:100,fp32:50,fp32:20,fp32:10,fp32:5,bf16:100,fp16:100,bf16:20,bf16:5"


def run(size: int, iters: int, variants: list[str], device: str) -> list[dict]:
    import torch

    from stylevid.pipeline.config import StyleConfig
    from stylevid.pipeline.engine.memory import HISTORY_BYTES
    from stylevid.pipeline.engine.transfer import StyleTransfer
    from stylevid.pipeline.io.images import load_image

    content, style = load_image(CONTENT), load_image(STYLE)
    base = StyleConfig(size=size, iters=iters, device=device, precision="fp32")
    extractor = None
    rows: list[dict] = []
    marks = sorted({max(1, iters // 3), max(1, 2 * iters // 3), iters})
    for variant in variants:
        name, pairs = variant.split(":")
        ours = name.startswith("ours-")
        dtype = name.removeprefix("ours-")
        config = base.replace(history_size=int(pairs), history_dtype=dtype)
        engine = StyleTransfer(config, [style], extractor=extractor)
        extractor = engine.extractor
        if ours:
            engine.optimiser = replace(engine.optimiser, fast_lbfgs=True)
        prepared = engine.prepare_content(content)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        began = time.perf_counter()
        result = engine.stylize(prepared)
        seconds = time.perf_counter() - began
        paper = [h["content"] + h["style"] for h in result.history]
        rows.append(
            {
                "variant": variant,
                "history": int(pairs),
                "history_dtype": dtype,
                "optimiser": "engine" if ours or dtype != "fp32" else "torch.optim.LBFGS",
                "loss_at": {str(k): paper[k] for k in marks},
                "final": paper[-1],
                "seconds_per_iteration": round(seconds / iters, 4),
                "history_gb_at_4096": round(2 * int(pairs) * 3 * 4096**2 * HISTORY_BYTES[dtype] / 2**30, 2),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    reference = rows[0]["final"]
    for row in rows:
        row["ratio"] = round(row["final"] / reference, 4)
    return rows


def table(rows: list[dict]) -> str:
    marks = list(rows[0]["loss_at"])
    head = " | ".join(f"loss at {k} it (×ref final)" for k in marks[:-1])
    lines = [
        f"| history | stored as | optimiser | {head} | final loss / reference | s/it | history at 4096² (GB) |",
        "|---|---|---|" + "---|" * (len(marks) - 1) + "---|---|---|",
    ]
    reference = rows[0]["final"]
    for r in rows:
        early = " | ".join(f"{r['loss_at'][k] / reference:.3f}" for k in marks[:-1])
        lines.append(
            f"| {r['history']} | {r['history_dtype']} | {r['optimiser']} | {early} | **{r['ratio']:.3f}** "
            f"| {r['seconds_per_iteration']} | {r['history_gb_at_4096']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iters", type=int, default=150)
    parser.add_argument("--variants", default=DEFAULT_VARIANTS, help="DTYPE:PAIRS, comma-separated; first = reference")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    rows = run(args.size, args.iters, args.variants.split(","), args.device)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        meta = {"command": " ".join(sys.argv), "cpus": os.cpu_count(), "load": os.getloadavg()}
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(table(rows))


if __name__ == "__main__":
    main()
