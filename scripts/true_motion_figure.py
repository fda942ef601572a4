"""Render docs/img/true_motion.jpg from a benchmarks/true_motion.py output folder.

    python scripts/true_motion_figure.py --runs out/true_motion

Per generated clip, the last frame: the original, where it is truly visible in the frame before
(the generator's exact mask), where DIS's forward-backward check trusts its own flow, and the last
stylised frame of `prev`, `prev-warped (DIS)` and `prev-warped (exact)`. Also prints, per clip,
the share of pixels truly visible, trusted by DIS, and trusted by DIS though not visible.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from stylevid.pipeline.io.flo import read_mask_png
from stylevid.pipeline.io.images import load_image
from stylevid.pipeline.motion.flow import FlowEstimator
from stylevid.pipeline.render.grids import save_image_grid

ROOT = Path(__file__).resolve().parents[1]
RUNS = ("prev", "prev-warped_(DIS)", "prev-warped_(exact)")


def _mask_picture(mask: np.ndarray) -> np.ndarray:
    return np.repeat(np.where(mask, 255, 0).astype(np.uint8)[..., None], 3, axis=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=Path("out/true_motion"))
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "img" / "true_motion.jpg")
    args = parser.parse_args()
    rows, labels = [], []
    for clip in sorted(p for p in args.runs.iterdir() if (p / "frames").is_dir()):
        frames = sorted((clip / "frames").glob("*.png"))
        last, before = len(frames), len(frames) - 1
        original, previous = load_image(frames[-1]), load_image(frames[-2])
        visible = ~read_mask_png(clip / "flow" / "occlusions" / f"backward_{last}_{before}.png")
        trusted = FlowEstimator("dis").reliable_backward(previous, original)[1][0, 0].numpy() > 0.5
        print(
            f"{clip.name}: truly visible {visible.mean():.0%}, DIS trusts {trusted.mean():.0%}, "
            f"of which not visible {(trusted & ~visible).mean():.1%}"
        )
        stylised = [load_image(sorted((clip / run / "frames").glob("*.png"))[-1]) for run in RUNS]
        rows.append([original, _mask_picture(visible), _mask_picture(trusted), *stylised])
        labels.append(clip.name.replace("_", " "))
    columns = ["last frame", "truly visible", "DIS trusts", "prev", "prev-warped, DIS", "prev-warped, exact"]
    save_image_grid(rows, args.output, row_labels=labels, col_labels=columns, cell_side=160)
    print(args.output)


if __name__ == "__main__":
    main()
