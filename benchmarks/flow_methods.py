"""Optical-flow methods graded against exact motion: end-point error, reliability mask, time per frame.

Every clip comes from :mod:`stylevid.pipeline.motion.synthetic`, so the backward flow of each
frame and the pixels truly visible in the frame before are known exactly. Clips (at ``--size``
px wide, 3:4):

  slow      a photo panned 1.5 px, zoomed 0.5 % and turned 0.4° per frame (easy footage)
  pan       a photo panned 12 px right and 5 px down per frame (large motion)
  rot_zoom  a photo panned (4, 2) px, zoomed 5 % and turned 5° per frame (large rotation and zoom)
  object    a disc (the cat) moving (-14, 4) px and turning 8° per frame over a background
            panning (3, 1) px: occlusion, and two motions in one frame

Per method and clip, over the pairs (t-1, t) of ``--frames`` frames:

* EPE: mean end-point error ‖F - F_true‖ of the backward flow (what the warped init and the
  temporal loss use), over the truly visible pixels (exact validity mask); also its median and
  the share of visible pixels off by more than 1 px;
* reliable: share of pixels the method's reliability mask (motion/occlusion.py, Ruder et al.'s
  forward-backward check, from the method's own two flows) keeps, against the share truly
  visible; and how many of the kept pixels are wrong (off by > 1 px or not visible at all);
* time per frame: the two flows (forward and backward) a frame needs, the fastest of the pairs
  (the least disturbed by other work on a shared machine).

OpenCV runs on ``--threads`` threads (default 1: the machine may be shared; the pipeline
leaves OpenCV's own default). RAFT runs where torchvision's optical-flow models import; its EPE
needs its pretrained weights (torch.hub's cache; downloaded with ``--download``); with
``--raft-random`` it is timed with random weights and its EPE is not reported.

    nice python benchmarks/flow_methods.py --size 320 --json out/flow_methods.json
    nice python benchmarks/flow_methods.py --size 256 --methods dis,dis-fine,deepflow --frames 3
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from stylevid.pipeline.config import FLOW_METHODS
from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io.images import load_image
from stylevid.pipeline.motion.flow import FlowEstimator, flow_to_tensor
from stylevid.pipeline.motion.occlusion import consistency_mask
from stylevid.pipeline.motion.raft import RAFT_MODELS, RaftFlow, load_raft, raft_weights_cached
from stylevid.pipeline.motion.synthetic import TrueMotionClip, camera_clip, object_clip

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media"  # benchmarks/gpu_session.sh makes it from samples/ on the GPU machine


def clips(size: int, frames: int) -> dict[str, TrueMotionClip]:
    photo = load_image(MEDIA / "content" / "tuebingen_neckarfront.jpg")
    coffee = load_image(MEDIA / "content" / "coffee.png")
    cat = load_image(MEDIA / "content" / "chelsea_cat.png")
    shape = (round(size * 3 / 4), size)
    scale = size / 320  # the motions below are per frame at 320 px; they scale with the frame
    return {
        "slow": camera_clip(
            photo, size=shape, frames=frames, shift=(1.5 * scale, 0.5 * scale), zoom=1.005, rotate_degrees=0.4
        ),
        "pan": camera_clip(photo, size=shape, frames=frames, shift=(12 * scale, 5 * scale), zoom=1.0, rotate_degrees=0),
        "rot_zoom": camera_clip(
            coffee, size=shape, frames=frames, shift=(4 * scale, 2 * scale), zoom=1.05, rotate_degrees=5.0
        ),
        "object": object_clip(
            photo,
            cat,
            size=shape,
            frames=frames,
            background_shift=(3 * scale, 1 * scale),
            object_velocity=(-14 * scale, 4 * scale),
            object_turn_degrees=8.0,
        ),
    }


def grade(estimator: FlowEstimator, clip: TrueMotionClip, *, score: bool) -> dict[str, float]:
    epe_all, kept, visible, kept_wrong, seconds = [], [], [], [], []
    for t in range(1, len(clip)):
        began = time.perf_counter()
        flow_fw, flow_bw = estimator(clip.frames[t - 1], clip.frames[t])
        seconds.append(time.perf_counter() - began)
        true_flow, valid = clip.backward(t, 1)
        reliable = consistency_mask(flow_to_tensor(flow_fw), flow_to_tensor(flow_bw))[0, 0].numpy() > 0.5
        error = np.linalg.norm(flow_bw - true_flow, axis=-1)
        epe_all.append(error[valid])
        kept.append(reliable.mean())
        visible.append(valid.mean())
        kept_wrong.append(((error > 1.0) | ~valid)[reliable].mean() if reliable.any() else 0.0)
    errors = np.concatenate(epe_all)
    row = {"seconds_per_frame": float(np.min(seconds)), "visible": float(np.mean(visible))}
    if score:
        row |= {
            "epe": float(errors.mean()),
            "epe_median": float(np.median(errors)),
            "over_1px": float((errors > 1.0).mean()),
            "reliable": float(np.mean(kept)),
            "reliable_wrong": float(np.mean(kept_wrong)),
        }
    return row


def estimator_for(method: str, device: torch.device, args: argparse.Namespace) -> tuple[FlowEstimator, bool] | None:
    """The estimator and whether its EPE means anything (False: RAFT with random weights)."""
    if method not in RAFT_MODELS:
        return FlowEstimator(method, device), True
    try:
        if args.download or raft_weights_cached(method):
            return FlowEstimator(method, device), True
        if args.raft_random:
            return FlowEstimator(method, device, raft=RaftFlow(load_raft(method, pretrained=False), device)), False
    except StylevidError as error:
        print(f"{method}: skipped: {error}")
        return None
    print(f"{method}: skipped: its weights are not cached (--download fetches them; --raft-random times it)")
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=320, help="frame width in pixels (height = 3/4 of it)")
    parser.add_argument("--frames", type=int, default=3, help="frames per clip (frames - 1 pairs)")
    parser.add_argument("--methods", default=",".join(m for m in FLOW_METHODS if m != "auto"))
    parser.add_argument("--clips", default="slow,pan,rot_zoom,object")
    parser.add_argument("--device", default="cpu", help="where RAFT runs")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV and torch CPU threads")
    parser.add_argument("--download", action="store_true", help="let RAFT download its weights")
    parser.add_argument("--raft-random", action="store_true", help="time RAFT with random weights when it has none")
    parser.add_argument("--json", type=Path, default=None, help="also write the table as JSON here")
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    load = os.getloadavg()
    print(
        f"size {args.size}×{round(args.size * 3 / 4)}, {args.frames} frames per clip, {args.threads} thread(s), "
        f"device {device}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    wanted = args.clips.split(",")
    generated = {name: clip for name, clip in clips(args.size, args.frames).items() if name in wanted}
    table: dict[str, dict[str, dict[str, float]]] = {}
    print(
        f"{'method':<11}{'clip':<10}{'EPE':>7}{'median':>8}{'>1px':>7}{'reliable':>10}{'visible':>9}"
        f"{'kept wrong':>11}{'s/frame':>9}"
    )
    for method in args.methods.split(","):
        made = estimator_for(method, device, args)
        if made is None:
            continue
        estimator, score = made
        try:
            estimator(generated[wanted[0]].frames[0], generated[wanted[0]].frames[1])  # warm up (RAFT: kernels)
        except StylevidError as error:  # e.g. DeepFlow where OpenCV lacks its contrib modules
            print(f"{method}: skipped: {error}")
            continue
        table[method] = {}
        for name, clip in generated.items():
            row = grade(estimator, clip, score=score)
            table[method][name] = row
            if score:
                print(
                    f"{method:<11}{name:<10}{row['epe']:>7.2f}{row['epe_median']:>8.2f}{row['over_1px']:>7.1%}"
                    f"{row['reliable']:>10.1%}{row['visible']:>9.1%}{row['reliable_wrong']:>11.1%}"
                    f"{row['seconds_per_frame']:>9.3f}",
                    flush=True,
                )
            else:
                print(
                    f"{method:<11}{name:<10}{'(random weights: timing only)':>52}{row['seconds_per_frame']:>9.3f}",
                    flush=True,
                )
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            meta = {
                "size": args.size,
                "frames": args.frames,
                "threads": args.threads,
                "device": str(device),
                "load_average": load,
            }
            args.json.write_text(json.dumps({"setup": meta, "results": table}, indent=1))


if __name__ == "__main__":
    main()
