"""Render docs/img/long_term.gif from a benchmarks/long_term.py output folder.

    python scripts/long_term_gif.py --runs out/long_term

Each frame of the generated clip (a disc crossing a panning background), enlarged: the original,
the short-term run and the ``--long-term 1,2,4`` run (DIS flow by default); below, the pixels seen
at t−4 but hidden at t−1 (magenta: the ground the disc uncovers) and, under each stylised run,
its difference to its own frame t−4 warped by the exact flow, on the pixels seen at t−4 (bright =
the painting changed where the scene did not; purple = not seen at t−4).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from stylevid.pipeline.io.flo import read_flo, read_mask_png
from stylevid.pipeline.io.images import load_image, to_picture, to_tensor
from stylevid.pipeline.motion.flow import flow_to_tensor
from stylevid.pipeline.motion.warp import warp
from stylevid.pipeline.render.animation import save_mosaic_gif

ROOT = Path(__file__).resolve().parents[1]
GAP = 4


def _pictures(folder: Path) -> list[np.ndarray]:
    return [load_image(p) for p in sorted(folder.glob("*.png"))]


def _change_from(stylised: list[np.ndarray], flow_dir: Path, t: int) -> np.ndarray:
    """|frame t − warp(frame t−GAP)| on the pixels seen at t−GAP, ×4, grey; black before frame GAP."""
    if t < GAP:
        return np.zeros_like(stylised[t])
    name = f"backward_{t + 1}_{t + 1 - GAP}"
    flow = flow_to_tensor(read_flo(flow_dir / f"{name}.flo"))
    seen = ~read_mask_png(flow_dir / "occlusions" / f"{name}.png")
    with torch.no_grad():
        warped = warp(to_tensor(stylised[t - GAP]), flow)
        change = (to_tensor(stylised[t]) - warped).abs().mean(dim=1, keepdim=True) * 4
    picture = to_picture(change.expand(1, 3, -1, -1))
    picture[~seen] = (40, 0, 60)  # not seen at t−4: nothing to compare
    return picture


def _revealed(original: np.ndarray, flow_dir: Path, t: int) -> np.ndarray:
    """The original, dimmed, with the pixels seen at t−GAP but hidden at t−1 in magenta."""
    picture = (original // 3).astype(np.uint8)
    if t >= GAP:
        hidden_near = read_mask_png(flow_dir / "occlusions" / f"backward_{t + 1}_{t}.png")
        seen_far = ~read_mask_png(flow_dir / "occlusions" / f"backward_{t + 1}_{t + 1 - GAP}.png")
        picture[hidden_near & seen_far] = (255, 0, 255)
    return picture


def _bigger(picture: np.ndarray, factor: int) -> np.ndarray:
    return np.repeat(np.repeat(picture, factor, axis=0), factor, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=Path("out/long_term"))
    parser.add_argument("--short", default="short-dis")
    parser.add_argument("--long", default="long-dis")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "img" / "long_term.gif")
    parser.add_argument("--scale", type=int, default=2)
    args = parser.parse_args()
    originals = _pictures(args.runs / "frames")
    short, long = _pictures(args.runs / args.short / "frames"), _pictures(args.runs / args.long / "frames")
    flow_dir = args.runs / "flow"
    frames = range(len(originals))
    clips = [
        [originals[t] for t in frames],
        [short[t] for t in frames],
        [long[t] for t in frames],
        [_revealed(originals[t], flow_dir, t) for t in frames],
        [_change_from(short, flow_dir, t) for t in frames],
        [_change_from(long, flow_dir, t) for t in frames],
    ]
    clips = [[_bigger(p, args.scale) for p in clip] for clip in clips]
    labels = [
        "original",
        "short-term",
        "long-term 1,2,4",
        "seen at t-4, hidden at t-1",
        "change from t-4",
        "change from t-4",
    ]
    save_mosaic_gif(clips, args.output, fps=3, columns=3, labels=labels)
    print(args.output, args.output.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
