"""Temporal coherence on a real clip: independent frames vs warm start vs flow-warped + temporal loss.

Runs three stylisations of the same clip and prints, for each, the warping error (Lai et al.
2018; lower is steadier) and the mean per-frame style loss:

  (a) independent   every frame from its own white noise, full budget
  (b) prev          warm start from the previous stylised frame, no temporal loss
  (c) prev-warped   warm start from the previous frame warped by optical flow, + temporal loss

    python benchmarks/video_coherence.py --clip samples/cockatoo.mp4 --size 256 --end 2s --every 2

Weights: $STYLEVID_WEIGHTS / $STYLEVID_WEIGHTS_FORMAT (e.g. the shared Caffe file) or torchvision's.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from stylevid.pipeline import VideoConfig, stylize_video
from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine.transfer import StyleTransfer
from stylevid.pipeline.io.images import load_image
from stylevid.pipeline.io.timecode import parse_time_or_index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=Path("samples/cockatoo.mp4"))
    parser.add_argument("--style", type=Path, default=Path("samples/starry_night.jpg"))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--end", default="2s")
    parser.add_argument("--every", type=int, default=2)
    parser.add_argument("--iters", type=int, default=100, help="first frame (and every frame in (a))")
    parser.add_argument("--frame-iters", type=int, default=50)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("out/coherence"))
    parser.add_argument("--json", type=Path, default=None, help="also write the table as JSON here")
    args = parser.parse_args()

    styles = [load_image(args.style)]
    base = StyleConfig(size=args.size, iters=args.iters, device=args.device)
    engine = StyleTransfer(base, styles)
    common = dict(end=parse_time_or_index(args.end), every=args.every, frame_iters=args.frame_iters)
    runs = {
        "a_independent_noise": (
            VideoConfig(style=base.replace(init="noise"), frame_init="independent", temporal_weight=0, **common),
            True,
        ),
        "b_prev": (VideoConfig(style=base, frame_init="prev", temporal_weight=0, **common), False),
        "c_prev_warped_temporal": (VideoConfig(style=base, frame_init="prev-warped", **common), False),
    }
    table = {}
    print(
        f"{'run':<26}{'frames':>7}{'warping error':>15}{'mean style':>13}{'mean content':>14}"
        f"{'iters/frame':>13}{'s/frame':>9}"
    )
    for name, (config, own_engine) in runs.items():
        began = time.perf_counter()
        result = stylize_video(
            args.clip,
            styles,
            args.out / name,
            config,
            restart=True,
            engine=StyleTransfer(config.style, styles) if own_engine else engine,
        )
        seconds = time.perf_counter() - began
        record = result.record
        table[name] = {
            "frames": result.frames,
            "warping_error": result.warping_error,
            "mean_style_loss": result.mean_style_loss,
            "mean_content_loss": record["mean_content_loss"],
            "mean_iterations": record["mean_iterations"],
            "seconds_per_frame": seconds / result.frames,
            "temporal_weight": record["temporal_weight"],
        }
        row = table[name]
        print(
            f"{name:<26}{row['frames']:>7}{row['warping_error']:>15.6f}{row['mean_style_loss']:>13.4g}"
            f"{row['mean_content_loss']:>14.4g}{row['mean_iterations']:>13.1f}{row['seconds_per_frame']:>9.2f}",
            flush=True,
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
