"""The issue's cut case: does the first shot leak into the second?

The clip of ``benchmarks/cuts.py`` (8 frames of the sample cockatoo, then 8 of a slow pan over
the Tübingen photo; the cut opens frame 8) is stylised three times with the same settings
(default: 192 px, 100 iterations for a shot's first frame, 40 for the others, Starry Night):

* ``off``:  ``--cuts off`` — frame 8 starts from the warped cockatoo and is held to it;
* ``auto``: ``--cuts auto`` — the cut is detected and frame 8 is stylised afresh;
* ``alone``: the pan's 8 frames as a clip of their own: the reference, with nothing before them.

Reported for frames 8–15: style and content loss against the reference's frame, and the mean
absolute difference (0–255) of the stylised picture from the reference's. With no trace of the
first shot, ``auto`` matches ``alone``. Also writes a side-by-side PNG (rows: off / auto / alone;
columns: frames 7, 8, 11, 15) and a before/after GIF for docs/method.md.

    python benchmarks/cut_case.py [--size 192] [--out out/cut_case] [--docs docs/img]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from cuts import cut_clip
from PIL import Image

from stylevid.pipeline import VideoConfig, stylize_video
from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine.transfer import StyleTransfer
from stylevid.pipeline.io.images import load_image
from stylevid.pipeline.render.animation import save_clip_gif
from stylevid.pipeline.render.grids import save_image_grid

SHOWN = (7, 8, 11, 15)


def stylised_frames(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", type=Path, default=Path("samples/starry_night.jpg"))
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--frame-iters", type=int, default=40)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("out/cut_case"))
    parser.add_argument("--docs", type=Path, default=None, help="write cut_before_after.{png,gif} here")
    parser.add_argument("--runs", default="off,alone,auto", help="which runs, in order (off and alone needed)")
    args = parser.parse_args()

    clip = cut_clip()
    folders = {"clip": args.out / "clip", "pan": args.out / "pan"}
    for name, pictures in (("clip", clip), ("pan", clip[8:])):
        folders[name].mkdir(parents=True, exist_ok=True)
        for i, picture in enumerate(pictures):
            Image.fromarray(picture).save(folders[name] / f"{i:03d}.png")
    base = StyleConfig(size=args.size, iters=args.iters, device=args.device)
    styles = [load_image(args.style)]
    engine = StyleTransfer(base, styles)
    runs = {"off": ("clip", "off"), "alone": ("pan", "auto"), "auto": ("clip", "auto")}
    runs = {name: runs[name] for name in args.runs.split(",")}
    results, pictures = {}, {}
    for name, (clip_name, cuts) in runs.items():
        config = VideoConfig(style=base, frame_iters=args.frame_iters, cuts=cuts, output="frames")
        result = stylize_video(folders[clip_name], styles, args.out / name, config, engine=engine, restart=True)
        results[name] = result.record
        pictures[name] = stylised_frames(result.output)
    offset = {"off": 0, "auto": 0, "alone": 8}  # position in the 16-frame clip of each run's frame 0
    table = {}
    reference = {r["frame"] + 8: r for r in results["alone"]["per_frame"]}
    for name in [n for n in ("off", "auto") if n in results]:
        rows = {r["frame"]: r for r in results[name]["per_frame"]}
        table[name] = {
            "shots": results[name]["shots"],
            "per_frame": [
                {
                    "frame": f,
                    "iterations": rows[f]["iterations"],
                    "style_vs_alone": rows[f]["style"] / reference[f]["style"],
                    "content_vs_alone": rows[f]["content"] / reference[f]["content"],
                    "mean_abs_diff_from_alone": float(
                        np.mean(np.abs(pictures[name][f].astype(float) - pictures["alone"][f - 8].astype(float)))
                    ),
                }
                for f in range(8, 16)
            ],
        }
        print(f"--cuts {name}: shots {results[name]['shots']}")
        print(f"  {'frame':>5} {'iters':>5} {'style/alone':>12} {'content/alone':>14} {'|diff| from alone':>18}")
        for row in table[name]["per_frame"]:
            print(
                f"  {row['frame']:>5} {row['iterations']:>5} {row['style_vs_alone']:>12.3f} "
                f"{row['content_vs_alone']:>14.3f} {row['mean_abs_diff_from_alone']:>18.2f}"
            )
    (args.out / "cut_case.json").write_text(json.dumps(table, indent=1))
    if args.docs:
        shown = [n for n in ("off", "auto", "alone") if n in pictures]
        grid = [[pictures[name][f - offset[name]] if f - offset[name] >= 0 else None for f in SHOWN] for name in shown]
        labels = {"off": "--cuts off", "auto": "--cuts auto", "alone": "pan alone"}
        save_image_grid(
            grid,
            args.docs / "cut_before_after.png",
            row_labels=[labels[n] for n in shown],
            col_labels=[f"frame {f}" for f in SHOWN],
            cell_side=args.size,
        )
        after = pictures["auto"] if "auto" in pictures else pictures["off"][:8] + pictures["alone"]
        sides = [np.concatenate([a, b], axis=1) for a, b in zip(pictures["off"], after, strict=True)]
        save_clip_gif(sides, args.docs / "cut_before_after.gif", fps=4, max_side=2 * args.size)
        print(f"wrote {args.docs / 'cut_before_after.png'} and .gif")


if __name__ == "__main__":
    main()
