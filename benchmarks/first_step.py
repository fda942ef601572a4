"""L-BFGS's first step on a cold start: its own min(1, 1/|g|₁) against a step of a share of the step
cap (engine/optimize.py ``COLD_FIRST_STEP``; docs/method.md "The first step").

Each content × style × init (the photo, or the paper's noise) is stylised twice with the same
seed: once with L-BFGS's own first step (``COLD_FIRST_STEP = 0``) and once with each share asked
for. Printed and written (``--json``): the total loss after 1, 2, 3, 5, 10, 20 and all iterations,
as a ratio to the start, and the final loss of each share against L-BFGS's own. Also one warm
start (a stylised picture moved by a few pixels, as a video's later frame starts), which keeps
L-BFGS's own first step in the engine: the warm arm shows why. CPU, one thread.

    python benchmarks/first_step.py --size 128 --iters 60 --json benchmarks/first_step.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CONTENTS = {
    "tuebingen": REPO / "samples" / "tuebingen.jpg",
    "chelsea": SHARED / "media" / "content" / "chelsea_cat.png",
}
STYLES = {
    "starry_night": REPO / "samples" / "starry_night.jpg",
    "hokusai": SHARED / "media" / "styles" / "hokusai_great_wave.jpg",
}
MARKS = (1, 2, 3, 5, 10, 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--iters", type=int, default=60)
    parser.add_argument("--shares", default="0.5,1", help="first steps to try, as shares of the step cap")
    parser.add_argument("--shift", type=int, default=3, help="warm start: pixels the content moves")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("STYLEVID_WEIGHTS", str(SHARED / "weights" / "vgg19-caffe-conv-fp16.pth"))
    os.environ.setdefault("STYLEVID_WEIGHTS_FORMAT", "caffe")
    from stylevid.pipeline import StyleConfig, load_image
    from stylevid.pipeline.engine import optimize
    from stylevid.pipeline.engine.transfer import StyleTransfer
    from stylevid.pipeline.io.images import resize_long_side

    shares = [0.0, *(float(v) for v in args.shares.split(","))]
    config = StyleConfig(size=args.size, iters=args.iters, device="cpu")
    rows = []

    def arms(engine: StyleTransfer, content: np.ndarray, init: object, label: str) -> None:
        totals = {}
        for share in shares:
            optimize.COLD_FIRST_STEP = share
            result = engine.stylize(content, init=init, iters=args.iters, seed=0)
            totals[share] = [row["total"] for row in result.history]
        own = totals[0.0]
        for share, total in totals.items():
            row = {
                "case": label,
                "first_step": "L-BFGS's own" if share == 0 else f"{share} x cap",
                "after": {str(i): round(total[i] / total[0], 4) for i in (*MARKS, args.iters) if i < len(total)},
                "final": total[-1],
                "final_vs_own": round(total[-1] / own[-1], 4),
            }
            rows.append(row)
            after = " ".join(f"{k}:{v:.3f}" for k, v in row["after"].items())
            print(f"{label:36s} {row['first_step']:13s} {after}  final ×own {row['final_vs_own']:.3f}", flush=True)

    for style_name, style_path in STYLES.items():
        engine = StyleTransfer(config, [load_image(style_path)])
        for content_name, content_path in CONTENTS.items():
            content = engine.prepare_content(load_image(content_path))
            for init in ("content", "noise"):
                arms(engine, content, init, f"{content_name} × {style_name}, {init}")
        if style_name == "starry_night":  # a warm start: the stylised photo, moved as by a camera pan
            photo = resize_long_side(load_image(CONTENTS["tuebingen"]), args.size + 2 * args.shift)
            h, w, k = photo.shape[0] - 2 * args.shift, photo.shape[1] - 2 * args.shift, args.shift
            before = np.ascontiguousarray(photo[k : k + h, k : k + w])
            after = np.ascontiguousarray(photo[k : k + h, 2 * k : 2 * k + w])
            optimize.COLD_FIRST_STEP = 0.0
            stylised = engine.stylize(before, init="content", iters=100, seed=0).picture
            moved = np.ascontiguousarray(np.concatenate([stylised[:, k:], stylised[:, -k:]], axis=1))
            # the engine keeps L-BFGS's own first step on a warm start; treat this one as cold to see why
            engine.starts_cold = lambda init: True  # type: ignore[method-assign]
            arms(engine, after, moved, f"warm start (moved {k} px) × {style_name}")
            del engine.starts_cold
    report = {"size": args.size, "iters": args.iters, "step_cap": config.max_step, "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
