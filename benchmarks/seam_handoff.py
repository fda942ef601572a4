"""How the seam between two segments of one shot looks under each hand-off setting (choose by measurement).

One shot of the sample clip is cut at frame ``s`` into segment A (from keyframe 0) and segment B
(from keyframe s, stylised on its own). For each hand-off setting (frames pulled towards keyframe
s, strength of the pull) the last frames of A are made again, and the warping error of every
consecutive pair of the composed clip is measured afresh from the stylised frames and the
original frames (motion/warping_error — the same measure run.json reports). Reported: the seam
pair's error ÷ the median pair of the same clip, and the error of the same pair in the
uninterrupted single-segment run (the reference). CPU, one thread.

    python benchmarks/seam_handoff.py [--size 64] [--seam 12] [--after 6] [--json out.json] [--gif docs/img/seam.gif]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from stylevid.pipeline.config import StyleConfig, VideoConfig
from stylevid.pipeline.engine.weights import load_state_dict, resolve_weights
from stylevid.pipeline.io.images import load_image, resize_long_side
from stylevid.pipeline.motion.warping_error import warping_error_sequence
from stylevid.pipeline.scale.handoff import settle
from stylevid.pipeline.scale.plan import Segment, handoff_weight, settle_fraction
from stylevid.pipeline.scale.worker import FrameJob, StyleWorker, WorkerSetup
from stylevid.pipeline.video.frame_pairs import warp_into
from stylevid.pipeline.video.frames import open_source

SHARED = Path(__file__).resolve().parents[2] / "shared"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, default=SHARED / "media" / "video" / "cockatoo.mp4")
    parser.add_argument("--style", type=Path, default=SHARED / "media" / "styles" / "vangogh_starry_night.jpg")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--frame-iters", type=int, default=40)
    parser.add_argument("--seam", type=int, default=12, help="first frame of segment B")
    parser.add_argument("--after", type=int, default=6, help="frames of B measured")
    parser.add_argument("--variants", default="0:0,4:1,8:1,8:3", help="frames:strength, comma-separated")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--preroll", type=int, default=0, help="segment B opens this many frames before s")
    parser.add_argument("--cache", type=Path, help="folder keeping the segments without hand-off between runs")
    parser.add_argument("--gif", type=Path, help="frames around the seam, best variant beside the reference")
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("STYLEVID_WEIGHTS", str(SHARED / "weights" / "vgg19-caffe-conv-fp16.pth"))
    os.environ.setdefault("STYLEVID_WEIGHTS_FORMAT", "caffe")
    style = StyleConfig(size=args.size, iters=args.iters, device="cpu")
    config = VideoConfig(style=style, frame_iters=args.frame_iters)
    spec = resolve_weights(None, None)
    worker = StyleWorker(WorkerSetup(config, [load_image(args.style)], load_state_dict(spec), spec.convention), 1)
    s, total = args.seam, args.seam + args.after
    source = open_source(args.clip, start=None, end=total, every=1, fps=None)
    metas, contents = [], []
    for frame in source.frames():
        metas.append(frame)
        contents.append(resize_long_side(frame.picture, args.size))

    def job(p: int, keyframe: bool = False, weight: float = 0.0) -> FrameJob:
        m = metas[p]
        return FrameJob(p, m.index, m.time, m.name, keyframe=keyframe, handoff_weight=weight)

    stem = f"{args.size}-{args.iters}-{args.frame_iters}-{s}-{args.after}"
    ref_cache = args.cache / f"reference-{stem}.npz" if args.cache else None
    b_cache = args.cache / f"segment-b-{stem}-preroll{args.preroll}.npz" if args.cache else None
    if ref_cache is not None and ref_cache.exists():  # the one-segment run, from an earlier run
        saved = np.load(ref_cache)
        reference, per_frame = list(saved["pictures"]), float(saved["per_frame"])
    else:
        began = time.perf_counter()
        reference = [worker.frame(job(0, True), contents[0]).picture]
        for p in range(1, total):
            reference.append(worker.frame(job(p), contents[p], contents[p - 1], reference[-1]).picture)
        per_frame = (time.perf_counter() - began) / total
        if ref_cache is not None:
            ref_cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(ref_cache, pictures=np.stack(reference), per_frame=per_frame)
    if b_cache is not None and b_cache.exists():
        segment_b = list(np.load(b_cache)["pictures"])
    else:
        opening = s - args.preroll  # segment B starts this many frames early; those frames are dropped
        segment_b = [worker.frame(job(opening, True), contents[opening]).picture]
        for p in range(opening + 1, total):
            segment_b.append(worker.frame(job(p), contents[p], contents[p - 1], segment_b[-1]).picture)
        segment_b = segment_b[args.preroll :]
        if b_cache is not None:
            np.savez(b_cache, pictures=np.stack(segment_b))
    key = segment_b[0]

    def errors(pictures: list) -> list[float]:
        return list(warping_error_sequence(pictures, contents[: len(pictures)], config.flow_method).values)

    reference_errors = errors(reference)
    rows = []
    composed_of: dict[str, list] = {}
    for variant in args.variants.split(","):
        frames, strength = int(variant.split(":")[0]), float(variant.split(":")[1])
        segment = Segment(0, 0, 0, s, s)
        first = s - max(0, min(frames, s - 1)) if frames else s
        side_a = list(reference[:first])
        made = []
        for p in range(first, s):
            w = handoff_weight(segment, p, frames, strength)
            if w == 0:  # strength 0: the keyframe only mixed in afterwards
                made.append(worker.frame(job(p), contents[p], contents[p - 1], side_a[-1]))
                made[-1].key_warped, made[-1].key_reliable = _warped_key(worker, contents[s], key, contents[p])
            else:
                made.append(worker.frame(job(p, weight=w), contents[p], contents[p - 1], side_a[-1], contents[s], key))
            side_a.append(made[-1].picture)
        settled = list(reference[:first]) + [
            settle(d.picture, d.key_warped, d.key_reliable, settle_fraction(segment, d.position, frames)) for d in made
        ]
        base = f"{frames} frames, strength {strength:g}" if frames else "no hand-off"
        for name, side in ((base, side_a), (f"{base} + settle", settled)):
            if not frames and side is settled:
                continue
            composed = side + segment_b
            e = errors(composed)
            median = statistics.median(e)
            composed_of[name] = composed
            rows.append(
                {
                    "variant": name,
                    "seam_error": e[s - 1],
                    "median_pair": median,
                    "seam_ratio": e[s - 1] / median,
                    "worst_ramp_ratio": max(e[first - 1 : s - 1]) / median if first < s else None,
                    "reference_seam_pair": reference_errors[s - 1],
                    "seam_vs_reference": e[s - 1] / reference_errors[s - 1],
                }
            )
            print(json.dumps(rows[-1]))
    result = {
        "clip": str(args.clip),
        "size": args.size,
        "iters": args.iters,
        "frame_iters": args.frame_iters,
        "seam": s,
        "seconds_per_frame": per_frame,
        "reference_median_pair": statistics.median(reference_errors),
        "variants": rows,
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.gif:
        from stylevid.pipeline.render.animation import save_clip_gif

        best = min(rows, key=lambda r: r["seam_ratio"])["variant"]
        around = range(max(0, s - 4), min(total, s + 4))
        tiles = [
            np.concatenate([composed_of["no hand-off"][p], composed_of[best][p], reference[p]], axis=1) for p in around
        ]
        tiles = [np.asarray(resize_long_side(t, 3 * 160)) for t in tiles]
        save_clip_gif(tiles, args.gif, fps=2.0)
        print("gif:", args.gif, "left: no hand-off, middle:", best, ", right: one segment")


def _warped_key(worker: StyleWorker, key_content, key, content):
    """The keyframe warped into ``content`` and the trust in that warp (as a hand-off frame's worker returns them)."""
    key_flow, key_reliable = worker.flow.reliable_backward(key_content, content)
    return warp_into(key, key_flow), key_reliable[0, 0].numpy().astype(np.float32)


if __name__ == "__main__":
    main()
