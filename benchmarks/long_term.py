"""Long-term consistency (``--long-term 1,2,4``) against the short-term loss, graded with true motion.

A textured disc crosses a panning background (:func:`~stylevid.pipeline.motion.synthetic.object_clip`),
small and fast enough that a strip of background it uncovers at frame t was hidden at t−1 but
seen at t−4. Each run stylises the clip with a style the defaults were not tuned on (Turner); the
rows are ``prev`` (no temporal loss, the reference of the ratios), prev-warped + temporal loss
with the short-term term only, and the same with ``--long-term 1,2,4``, each through DIS flow
and through the generator's exact flow (``--flow-dir``, every gap's ``backward_J_I.flo``).

Columns, all through the generator's exact flow and visibility (never the flow a run used):

  true t-1      warping error of t against t−1 (the usual figure)
  long t-4      warping error of t against t−4 ("long-range error")
  revealed      the same, on the pixels of t seen at t−4 but not at t−1 only: the ground that was
                hidden and comes back, which the long-term terms exist for
  style         mean style loss;  s/frame  wall seconds per frame

    nice python benchmarks/long_term.py --size 96 --frames 10 --threads 1 --json out/long_term.json

Weights: $STYLEVID_WEIGHTS / $STYLEVID_WEIGHTS_FORMAT (e.g. the shared Caffe file) or torchvision's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from true_motion import LONG_GAP, MEDIA, reveal_clip, true_error

from stylevid.pipeline import VideoConfig, stylize_video
from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine.transfer import StyleTransfer
from stylevid.pipeline.io.images import load_image, to_tensor
from stylevid.pipeline.io.true_motion import save_true_motion_clip
from stylevid.pipeline.motion.flow import flow_to_tensor
from stylevid.pipeline.motion.synthetic import TrueMotionClip
from stylevid.pipeline.motion.warping_error import warping_error_pair


def revealed_error(clip: TrueMotionClip, stylised: list[np.ndarray], gap: int = LONG_GAP) -> tuple[float, int]:
    """Warping error of t against t − gap on the pixels seen at t − gap but not at t − 1, pooled over
    every frame (each pixel counts once); and how many pixels that is."""
    total, count = 0.0, 0
    for t in range(gap, len(clip)):
        flow, seen_far = clip.backward(t, gap)
        _, seen_near = clip.backward(t, 1)
        region = seen_far & ~seen_near
        pixels = int(region.sum())
        if pixels == 0:
            continue
        mask = torch.from_numpy(region.astype(np.float32))[None, None]
        with torch.no_grad():
            error = warping_error_pair(to_tensor(stylised[t - gap]), to_tensor(stylised[t]), flow_to_tensor(flow), mask)
        total += float(error[0]) * pixels
        count += pixels
    return (total / count if count else math.nan), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", type=Path, default=MEDIA / "styles" / "turner_shipwreck_of_the_minotaur.jpg")
    parser.add_argument("--size", type=int, default=96, help="long side of the generated frames (= processing size)")
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--iters", type=int, default=100, help="first frame")
    parser.add_argument("--frame-iters", type=int, default=40)
    parser.add_argument("--gaps", default="1,2,4", help="--long-term of the long-term rows")
    parser.add_argument("--runs", default="prev,short-dis,long-dis,short-exact,long-exact")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 on a CPU shared by many jobs)")
    parser.add_argument("--out", type=Path, default=Path("out/long_term"))
    parser.add_argument("--json", type=Path, default=None, help="also write the table as JSON here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    gaps = tuple(int(g) for g in args.gaps.split(","))

    clip = reveal_clip(args.size, args.frames)  # the disc moves further than its diameter in four frames
    frames_dir, flow_dir = args.out / "frames", args.out / "flow"
    save_true_motion_clip(clip, frames_dir, flow_dir, gaps=gaps, forward=False)

    styles = [load_image(args.style)]
    base = StyleConfig(size=args.size, iters=args.iters, device=args.device)
    engine = StyleTransfer(base, styles)
    common = dict(style=base, frame_iters=args.frame_iters, cuts="off")
    exact = dict(flow_dir=str(flow_dir))
    runs = {
        "prev": VideoConfig(frame_init="prev", temporal_weight=0, **common),
        "short-dis": VideoConfig(**common),
        "long-dis": VideoConfig(long_term=gaps, **common),
        "short-exact": VideoConfig(**common, **exact),
        "long-exact": VideoConfig(long_term=gaps, **common, **exact),
    }
    wanted = args.runs.split(",")
    originals_revealed, pixels = revealed_error(clip, clip.frames)
    rows: dict[str, dict] = {
        "originals": {
            "true_motion_warping_error": true_error(clip, clip.frames, 1),
            "long_range_error": true_error(clip, clip.frames, LONG_GAP),
            "revealed_long_range_error": originals_revealed,
        }
    }
    print(f"clip: {clip.name}, {args.size} px, {args.frames} frames; revealed pixels over the clip: {pixels}")
    print(f"load average at the start: {os.getloadavg()[0]:.1f}")
    print(f"{'run':<13}{'true t-1':>10}{'long t-4':>10}{'revealed':>10}{'style':>11}{'s/frame':>9}")
    for name, config in runs.items():
        if name not in wanted:
            continue
        began = time.perf_counter()
        result = stylize_video(frames_dir, styles, args.out / name, config, restart=True, engine=engine)
        seconds = time.perf_counter() - began
        stylised = [load_image(p) for p in sorted(result.output.glob("*.png"))]
        rows[name] = {
            "true_motion_warping_error": true_error(clip, stylised, 1),
            "long_range_error": true_error(clip, stylised, LONG_GAP),
            "revealed_long_range_error": revealed_error(clip, stylised)[0],
            "mean_style_loss": result.mean_style_loss,
            "mean_content_loss": result.record["mean_content_loss"],
            "seconds_per_frame": seconds / result.frames,
        }
    for name, row in rows.items():
        extra = f"{row['mean_style_loss']:>11.4g}{row['seconds_per_frame']:>9.2f}" if "mean_style_loss" in row else ""
        print(
            f"{name:<13}{row['true_motion_warping_error']:>10.5f}{row['long_range_error']:>10.5f}"
            f"{row['revealed_long_range_error']:>10.5f}{extra}"
        )
    for pair in (("long-dis", "short-dis"), ("long-exact", "short-exact")):
        if all(name in rows for name in pair):
            long, short = rows[pair[0]], rows[pair[1]]
            print(
                f"{pair[0]} / {pair[1]}: long t-4 ×{long['long_range_error'] / short['long_range_error']:.2f}, "
                f"revealed ×{long['revealed_long_range_error'] / short['revealed_long_range_error']:.2f}, "
                f"true t-1 ×{long['true_motion_warping_error'] / short['true_motion_warping_error']:.2f}, "
                f"style ×{long['mean_style_loss'] / short['mean_style_loss']:.2f}"
            )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        settings = vars(args) | {"style": str(args.style), "out": str(args.out), "json": str(args.json)}
        args.json.write_text(
            json.dumps({"settings": settings, "clip": clip.name, "revealed_pixels": pixels, "rows": rows}, indent=2)
        )


if __name__ == "__main__":
    main()
