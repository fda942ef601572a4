"""Temporal coherence graded with true motion: clips whose flow and occlusions are known exactly.

The warping error that ``run.json`` reports is measured through DIS flow, the same flow the
temporal loss holds the frames to, so it rewards following DIS, mistakes included. Here every
clip comes from :mod:`stylevid.pipeline.motion.synthetic` (a photo panned, zoomed and rotated;
a textured disc crossing a panning background), so the warping error can be measured through
the exact backward flow and the exact visibility mask instead. Each clip is stylised with a
style the defaults were not tuned on (Turner, *The Shipwreck of the Minotaur*), five ways:

  independent        every frame from its own content, the full first-frame budget, no temporal loss
  prev               warm start from the previous stylised frame, no temporal loss
  prev-warped        warm start warped by DIS flow, + temporal loss (the defaults)
  prev-warped exact  the same, with the generator's exact flow and masks (``--flow-dir``)

Columns: true-motion warping error (exact flow, exact mask), DIS warping error (what run.json
reports for a DIS run), long-range error (frame t against t-4 through exact flow), mean style and
content loss, seconds per frame. Ratios are against ``prev`` in the same run. The originals' own
true-motion error (resampling only) is printed as the floor.

    nice python benchmarks/true_motion.py --size 160 --frames 8 --json out/true_motion.json
    nice python benchmarks/true_motion.py --size 64 --frames 5 --iters 30 --frame-iters 15 --threads 1  # busy CPU

Weights: $STYLEVID_WEIGHTS / $STYLEVID_WEIGHTS_FORMAT (e.g. the shared Caffe file) or torchvision's.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from stylevid.pipeline import VideoConfig, stylize_video
from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine.transfer import StyleTransfer
from stylevid.pipeline.io.images import load_image, to_tensor
from stylevid.pipeline.io.true_motion import save_true_motion_clip
from stylevid.pipeline.motion.flow import flow_to_tensor
from stylevid.pipeline.motion.synthetic import TrueMotionClip, camera_clip, object_clip
from stylevid.pipeline.motion.warping_error import warping_error_pair, warping_error_sequence

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media"
LONG_GAP = 4


def clips(size: int, frames: int) -> dict[str, TrueMotionClip]:
    photo = load_image(MEDIA / "content" / "tuebingen_neckarfront.jpg")
    coffee = load_image(MEDIA / "content" / "coffee.png")
    cat = load_image(MEDIA / "content" / "chelsea_cat.png")
    shape = (round(size * 3 / 4), size)
    return {
        "camera_slow": camera_clip(photo, size=shape, frames=frames, shift=(1.5, 0.5), zoom=1.005, rotate_degrees=0.4),
        "camera_fast": camera_clip(coffee, size=shape, frames=frames, shift=(4.0, 2.0), zoom=1.02, rotate_degrees=1.5),
        "object": object_clip(
            photo, cat, size=shape, frames=frames, background_shift=(1.0, 0.0), object_velocity=(-5.0, 1.5)
        ),
        "object_reveal": reveal_clip(size, frames),
    }


def reveal_clip(size: int, frames: int) -> TrueMotionClip:
    """A smaller, faster disc than ``object``'s: it moves 1/12 of the width a frame (8 px at 96 px,
    32 px in four frames, more than its diameter of 0.4 × the height), so ground it uncovers at t
    was hidden at t−1 but seen at t−4: the case long-term consistency is for (``long_term.py``)."""
    return object_clip(
        load_image(MEDIA / "content" / "tuebingen_neckarfront.jpg"),
        load_image(MEDIA / "content" / "chelsea_cat.png"),
        size=(round(size * 3 / 4), size),
        frames=frames,
        background_shift=(1.0, 0.0),
        object_velocity=(-size / 12, 0.5),
        radius_fraction=0.2,
    )


def true_error(clip: TrueMotionClip, stylised: list[np.ndarray], gap: int) -> float:
    """Mean over pairs (t - gap, t) of the warping error through the exact flow and visibility mask."""
    values = []
    for t in range(gap, len(clip)):
        flow, valid = clip.backward(t, gap)
        mask = torch.from_numpy(valid.astype(np.float32))[None, None]
        with torch.no_grad():
            error = warping_error_pair(to_tensor(stylised[t - gap]), to_tensor(stylised[t]), flow_to_tensor(flow), mask)
        values.append(float(error[0]))
    return math.fsum(values) / len(values) if values else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", type=Path, default=MEDIA / "styles" / "turner_shipwreck_of_the_minotaur.jpg")
    parser.add_argument("--size", type=int, default=160, help="long side of the generated frames (= processing size)")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--iters", type=int, default=100, help="first frame (and every frame of independent)")
    parser.add_argument("--frame-iters", type=int, default=40)
    parser.add_argument("--clips", default="camera_slow,camera_fast,object")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (1 is ~3x faster on a CPU shared by many jobs)"
    )
    parser.add_argument("--out", type=Path, default=Path("out/true_motion"))
    parser.add_argument("--json", type=Path, default=None, help="also write the table as JSON here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    styles = [load_image(args.style)]
    base = StyleConfig(size=args.size, iters=args.iters, device=args.device)
    engine = StyleTransfer(base, styles)
    common = dict(style=base, frame_iters=args.frame_iters)
    table: dict[str, dict] = {}
    header = (
        f"{'clip':<12}{'run':<19}{'true-motion':>12}{'×prev':>7}{'DIS':>11}{'×prev':>7}{'long t-4':>10}{'×prev':>7}"
        f"{'style':>10}{'×prev':>7}{'content':>10}{'s/frame':>9}"
    )
    print(header)
    wanted = args.clips.split(",")
    for clip_name, clip in clips(args.size, args.frames).items():
        if clip_name not in wanted:
            continue
        folder = args.out / clip_name
        frames_dir, flow_dir = folder / "frames", folder / "flow"
        save_true_motion_clip(clip, frames_dir, flow_dir)
        runs = {
            "independent": VideoConfig(frame_init="independent", temporal_weight=0, **common),
            "prev": VideoConfig(frame_init="prev", temporal_weight=0, **common),
            "prev-warped (DIS)": VideoConfig(frame_init="prev-warped", flow_method="dis", **common),
            "prev-warped (exact)": VideoConfig(frame_init="prev-warped", flow_dir=str(flow_dir), **common),
        }
        rows: dict[str, dict] = {
            "originals": {
                "true_motion_warping_error": true_error(clip, clip.frames, 1),
                "dis_warping_error": warping_error_sequence(clip.frames, clip.frames).mean,
                "long_range_error": true_error(clip, clip.frames, LONG_GAP),
            }
        }
        for run_name, config in runs.items():
            began = time.perf_counter()
            result = stylize_video(
                frames_dir, styles, folder / run_name.replace(" ", "_"), config, restart=True, engine=engine
            )
            seconds = time.perf_counter() - began
            stylised = [load_image(p) for p in sorted((result.output).glob("*.png"))]
            rows[run_name] = {
                "true_motion_warping_error": true_error(clip, stylised, 1),
                "dis_warping_error": warping_error_sequence(stylised, clip.frames).mean,
                "long_range_error": true_error(clip, stylised, LONG_GAP),
                "run_json_warping_error": result.warping_error,
                "mean_style_loss": result.mean_style_loss,
                "mean_content_loss": result.record["mean_content_loss"],
                "mean_iterations": result.record["mean_iterations"],
                "seconds_per_frame": seconds / result.frames,
            }
        prev = rows["prev"]
        for run_name, row in rows.items():
            for key in ("true_motion_warping_error", "dis_warping_error", "long_range_error", "mean_style_loss"):
                if key in row:
                    row[f"{key}_vs_prev"] = row[key] / prev[key]
            print(
                f"{clip_name:<12}{run_name:<19}{row['true_motion_warping_error']:>12.5f}"
                f"{row['true_motion_warping_error_vs_prev']:>7.2f}{row['dis_warping_error']:>11.5f}"
                f"{row['dis_warping_error_vs_prev']:>7.2f}{row['long_range_error']:>10.5f}"
                f"{row['long_range_error_vs_prev']:>7.2f}"
                + (
                    f"{row['mean_style_loss']:>10.4g}{row['mean_style_loss_vs_prev']:>7.2f}"
                    f"{row['mean_content_loss']:>10.4g}{row['seconds_per_frame']:>9.2f}"
                    if "mean_style_loss" in row
                    else ""
                ),
                flush=True,
            )
        table[clip_name] = {"clip": clip.name, "rows": rows}
        if args.json:  # after every clip, so a long run leaves what it measured so far
            args.json.parent.mkdir(parents=True, exist_ok=True)
            settings = vars(args) | {"style": str(args.style), "out": str(args.out), "json": str(args.json)}
            args.json.write_text(json.dumps({"settings": settings, "clips": table}, indent=2))


if __name__ == "__main__":
    main()
