"""How a coarse-to-fine stage starts (issue 20): the loss at a stage's start, term by term, and after
its first iterations, for several ways of starting it from the stage before.

Stage 1 stylises samples/tuebingen.jpg with samples/starry_night.jpg at ``--low`` px (``--low-iters``
iterations from the photo, the engine's defaults: α = 1, area-scaled β, style at stage size). Stage 2
at ``--high`` px then starts, one arm after another, from:

* **photo** — the photo itself (what one scale at ``--high`` starts from; the reference);
* **upsampled** — stage 1's result upsampled bicubically, L-BFGS's own first step (the first
  version of ``--pyramid``, "before");
* **upsampled + step** — the same, with a first step as long as stage 1's last (``first_step``);
* **nearest + step** — stage 1's result upsampled by pixel repetition, with that step;
* **detailed** — stage 1's result upsampled plus the photo's band between the two sizes
  (``pyramid.detailed_start``), L-BFGS's own first step;
* **detailed + step** — both (what ``--pyramid`` does now).

Printed and written (``--json``): the weighted loss terms per style layer at stage 1's end (at
``--low``) and at each start (at ``--high``), and each arm's total loss after 0…``--iters``
iterations with its seconds. ``--out`` gets every start and result; ``--figure`` a sheet of crops
and the loss curves.

    python benchmarks/pyramid_start.py --low 128 --high 256 --low-iters 30 --iters 8 \\
        --json out/pyramid_start.json --out out/pyramid_start --figure docs/img/pyramid_start_256.png
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "samples" / "tuebingen.jpg"
STYLE = REPO / "samples" / "starry_night.jpg"
ARMS = ("photo", "upsampled", "upsampled + step", "nearest + step", "detailed", "detailed + step")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--low", type=int, default=128, help="stage 1's long side")
    parser.add_argument("--high", type=int, default=256, help="stage 2's long side")
    parser.add_argument("--low-iters", type=int, default=30, help="stage 1's iterations")
    parser.add_argument("--iters", type=int, default=8, help="stage 2's iterations per arm")
    parser.add_argument("--arms", default=",".join(ARMS), help="comma-separated, of: " + ", ".join(ARMS))
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--figure", type=Path)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from stylevid.pipeline.config import StyleConfig
    from stylevid.pipeline.engine.losses import content_loss, normalized_gram, style_layer_loss
    from stylevid.pipeline.engine.pyramid import detailed_start
    from stylevid.pipeline.engine.transfer import StyleTransfer, upsample
    from stylevid.pipeline.io.images import load_image, resize_long_side, save_image, to_picture, to_tensor

    load_before = os.getloadavg()
    content_high = resize_long_side(load_image(CONTENT), args.high)
    content_low = resize_long_side(content_high, args.low)
    engine_high = StyleTransfer(StyleConfig(size=args.high, pyramid="off"), [load_image(STYLE)])
    engine_low = engine_high.at_size(args.low)
    stage1 = engine_low.stylize(content_low, iters=args.low_iters)
    height, width = content_high.shape[:2]
    photo = to_tensor(content_high, stage1.image.device)
    photo_low = to_tensor(content_low, stage1.image.device)

    def terms(engine: StyleTransfer, content, image: torch.Tensor) -> dict[str, float]:
        """The weighted loss: content, each style layer's share, total."""
        objective = engine.objective(1, *content.shape[:2])
        engine.set_contents(objective, [content])
        with torch.no_grad():
            feats = objective.encode(image, objective._layers)
            reached = float(content_loss(feats[objective.content_layer], objective._content))
            out = {"content": objective.content_weight * reached}
            for layer, weight in objective.layer_weights.items():
                f = feats[layer]
                gram = normalized_gram(f)
                error = style_layer_loss(gram, objective._grams[layer], f.shape[1])
                out[layer] = objective.style_weight * weight * float(error)
        out["total"] = sum(out.values())
        return out

    starts = {
        "photo": lambda: photo.clone(),
        "upsampled": lambda: upsample(stage1.image, height, width),
        "nearest": lambda: torch.nn.functional.interpolate(stage1.image, size=(height, width), mode="nearest"),
        "detailed": lambda: detailed_start(stage1.image, photo_low, photo),
    }
    result: dict = {
        "low": args.low,
        "high": args.high,
        "low_iters": args.low_iters,
        "stage1_seconds": stage1.seconds,
        "step_scale": stage1.step_scale,
        "stage1_end": terms(engine_low, content_low, stage1.image),
        "photo_at_low": terms(engine_low, content_low, photo_low),
        "arms": {},
    }
    print(f"stage 1: {args.low} px, {args.low_iters} iterations, {stage1.seconds:.1f} s; γ {stage1.step_scale:.3g}")
    pictures = {}
    for arm in args.arms.split(","):
        start_name = arm.split(" + ")[0]
        first_step = stage1.step_scale if arm.endswith("+ step") else None
        start = starts[start_name]()
        run = engine_high.stylize(content_high, init=start, iters=args.iters, first_step=first_step)
        result["arms"][arm] = {
            "start": terms(engine_high, content_high, start),
            "totals": [row["total"] for row in run.history],
            "seconds": run.seconds,
        }
        pictures[arm] = (to_picture(start), run.picture)
        print(f"{arm:18s} start {result['arms'][arm]['start']['total']:.3g} → after {args.iters}: "
              f"{run.final['total']:.3g} ({run.seconds:.1f} s)", flush=True)  # fmt: skip
    result["load_before"], result["load_after"] = load_before, os.getloadavg()
    print(layer_table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"command": " ".join(sys.argv), **result}, indent=1))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        save_image(args.out / f"stage1_{args.low}.png", stage1.picture)
        for arm, (start, end) in pictures.items():
            slug = arm.replace(" + ", "_").replace(" ", "_")
            save_image(args.out / f"{slug}_start_{args.high}.png", start)
            save_image(args.out / f"{slug}_after{args.iters}_{args.high}.png", end)
    if args.figure:
        figure(args.figure, result, pictures, stage1.picture)


def layer_table(result: dict) -> str:
    """Markdown: the weighted terms at stage 1's end and at each start."""
    columns = [f"stage 1 end ({result['low']} px)"] + [f"{arm} start" for arm in result["arms"]]
    rows = [result["stage1_end"]] + [a["start"] for a in result["arms"].values()]
    lines = ["| term | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for term in rows[0]:
        lines.append(f"| {term} | " + " | ".join(f"{row[term]:.3g}" for row in rows) + " |")
    lines.append(
        f"| total after {len(next(iter(result['arms'].values()))['totals']) - 1} iterations | — | "
        + " | ".join(f"{a['totals'][-1]:.3g}" for a in result["arms"].values())
        + " |"
    )
    return "\n".join(lines)


def figure(path: Path, result: dict, pictures: dict, stage1) -> None:
    """Top: stage 1, then each arm's start; middle: each arm after the iterations (a crop of the
    middle, enlarged 2×); bottom: the loss curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    arms = list(pictures)
    fig = plt.figure(figsize=(2.2 * (len(arms) + 1), 8.4))
    grid = fig.add_gridspec(3, len(arms) + 1, height_ratios=[1, 1, 1.3])
    h, w = pictures[arms[0]][1].shape[:2]
    top, left, side = h // 4, w // 3, min(h, w) // 2

    def show(ax, picture, title):
        ax.imshow(picture, interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")

    show(fig.add_subplot(grid[0, 0]), stage1, f"stage 1 ({result['low']} px)")
    show(fig.add_subplot(grid[1, 0]), np.full((8, 8, 3), 255, np.uint8), "")
    iters = len(result["arms"][arms[0]]["totals"]) - 1
    for k, arm in enumerate(arms, start=1):
        start, end = pictures[arm]
        loss = result["arms"][arm]
        crop = (slice(top, top + side), slice(left, left + side))
        show(fig.add_subplot(grid[0, k]), start[crop], f"{arm}\nstart {loss['start']['total']:.2g}")
        show(fig.add_subplot(grid[1, k]), end[crop], f"after {iters}: {loss['totals'][-1]:.2g}")
    ax = fig.add_subplot(grid[2, :])
    for arm in arms:
        ax.semilogy(result["arms"][arm]["totals"], marker="o", label=arm)
    ax.set_xlabel(f"iteration at {result['high']} px")
    ax.set_ylabel("total loss at that size")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
