"""Multi-pass (``--passes N``, Ruder et al. 2016 Sec. 3.3) graded with true motion.

On the generated clips of ``true_motion.py`` (exact flow and visibility), each clip is stylised
with a style the defaults were not tuned on (Turner) twice:

  prev              warm start from the previous stylised frame, no temporal loss (the reference)
  passes            the defaults (prev-warped + temporal loss, DIS flow) with ``--passes N``

Pass k of an N-pass run does not depend on N, so the frames of pass k in the work folder
(``.work/frames`` for pass 1, ``.work/passK/frames``) are exactly what ``--passes k`` outputs:
one run gives the rows for 1, 2, … N passes. Columns as in ``true_motion.py``: true-motion warping
error, DIS warping error, long-range error (t against t−4 through exact flow), mean style and
content loss, and the optimisation seconds per frame summed over the passes so far; ratios
against ``prev``. With ``--same-budget`` a one-pass run whose later frames get as many iterations
as the N passes together is added, to tell the passes from the extra iterations.

It also times what the later passes add besides optimising, at ``--cost-size``: keeping a frame at
processing size as PNG (write + read) and estimating the flow of a pair again (DIS, both ways,
and the consistency mask).

    nice python benchmarks/multi_pass.py --size 96 --frames 6 --iters 60 --frame-iters 30 --passes 4 --threads 1

Weights: $STYLEVID_WEIGHTS / $STYLEVID_WEIGHTS_FORMAT (e.g. the shared Caffe file) or torchvision's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from true_motion import LONG_GAP, MEDIA, clips, true_error  # noqa: E402

from stylevid.pipeline import VideoConfig, stylize_video  # noqa: E402
from stylevid.pipeline.config import StyleConfig  # noqa: E402
from stylevid.pipeline.engine.transfer import StyleTransfer  # noqa: E402
from stylevid.pipeline.io.images import load_image  # noqa: E402
from stylevid.pipeline.io.true_motion import save_true_motion_clip  # noqa: E402
from stylevid.pipeline.motion.flow import FlowEstimator  # noqa: E402
from stylevid.pipeline.motion.synthetic import TrueMotionClip, camera_clip  # noqa: E402
from stylevid.pipeline.motion.warping_error import warping_error_sequence  # noqa: E402


def frames_in(folder: Path) -> list[np.ndarray]:
    return [load_image(p) for p in sorted(folder.glob("*.png"))]


def grade(clip: TrueMotionClip, stylised: list[np.ndarray], style: float, content: float, seconds: float) -> dict:
    """One row: the errors of ``stylised`` against ``clip``'s true motion and DIS, and the given losses and time."""
    return {
        "true_motion_warping_error": true_error(clip, stylised, 1),
        "dis_warping_error": warping_error_sequence(stylised, clip.frames).mean,
        "long_range_error": true_error(clip, stylised, LONG_GAP),
        "mean_style_loss": style,
        "mean_content_loss": content,
        "seconds_per_frame": seconds,
    }


def costs(size: int, repeats: int = 5) -> dict[str, float]:
    """Milliseconds to keep one frame at processing size (PNG write + read) and to estimate one pair's flow."""
    photo = load_image(MEDIA / "content" / "tuebingen_neckarfront.jpg")
    clip = camera_clip(photo, size=(round(size * 3 / 4), size), frames=2, shift=(3.0, 1.0), zoom=1.01)
    first, second = clip.frames
    began = time.perf_counter()
    kept = 0
    for _ in range(repeats):
        buffer = io.BytesIO()
        Image.fromarray(first).save(buffer, format="PNG", compress_level=1)
        kept = buffer.tell()
        buffer.seek(0)
        np.asarray(Image.open(buffer).convert("RGB"))
    png_ms = (time.perf_counter() - began) / repeats * 1e3
    flow = FlowEstimator("dis")
    began = time.perf_counter()
    for _ in range(repeats):
        flow.reliable_backward(first, second)
    flow_ms = (time.perf_counter() - began) / repeats * 1e3
    return {"size": size, "png_write_read_ms": png_ms, "png_kilobytes": kept / 1024, "flow_pair_ms": flow_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", type=Path, default=MEDIA / "styles" / "turner_shipwreck_of_the_minotaur.jpg")
    parser.add_argument("--size", type=int, default=96, help="long side of the generated frames (= processing size)")
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--iters", type=int, default=60, help="first frame")
    parser.add_argument("--frame-iters", type=int, default=30)
    parser.add_argument("--pass-iters", type=int, default=None, help="default: the run's default (frame-iters // 2)")
    parser.add_argument("--passes", type=int, default=4)
    parser.add_argument("--same-budget", action="store_true", help="add a one-pass run with the N passes' iterations")
    parser.add_argument("--clips", default="camera_slow,camera_fast,object")
    parser.add_argument("--cost-size", type=int, default=512)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=Path("out/multi_pass"))
    parser.add_argument("--json", type=Path, default=None, help="also write the table as JSON here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    styles = [load_image(args.style)]
    base = StyleConfig(size=args.size, iters=args.iters, device=args.device)
    engine = StyleTransfer(base, styles)
    common = dict(style=base, frame_iters=args.frame_iters)
    multi = VideoConfig(passes=args.passes, pass_iters=args.pass_iters, **common)
    runs = {"prev": VideoConfig(frame_init="prev", temporal_weight=0, **common), "passes": multi}
    if args.same_budget:
        budget = args.frame_iters + (args.passes - 1) * multi.later_pass_iters
        runs[f"1 pass, {budget} it"] = VideoConfig(style=base, frame_iters=budget)
    load = os.getloadavg()
    report: dict = {"settings": {k: str(v) for k, v in vars(args).items()}, "load_average": load, "clips": {}}
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; pass iterations {multi.later_pass_iters}")
    print(
        f"{'clip':<12}{'run':<16}{'true-motion':>12}{'×prev':>7}{'DIS':>10}{'×prev':>7}{'long t-4':>10}{'×prev':>7}"
        f"{'style':>10}{'×prev':>7}{'content':>10}{'s/frame':>9}"
    )
    for clip_name, clip in clips(args.size, args.frames).items():
        if clip_name not in args.clips.split(","):
            continue
        folder = args.out / clip_name
        frames_dir, flow_dir = folder / "frames", folder / "flow"
        save_true_motion_clip(clip, frames_dir, flow_dir)
        rows: dict[str, dict] = {}

        for run_name, config in runs.items():
            out = folder / run_name.replace(" ", "_").replace(",", "")
            result = stylize_video(frames_dir, styles, out, config, restart=True, engine=engine)
            if run_name != "passes":
                rows[run_name] = grade(
                    clip,
                    frames_in(result.output),
                    result.mean_style_loss,
                    result.record["mean_content_loss"],
                    result.record["seconds"]["per_frame_mean"],
                )
                continue
            seconds = 0.0
            for summary in result.record["passes"]:
                number = summary["pass"]
                seconds += summary["seconds"] / result.frames
                work = out / ".work" / ("frames" if number == 1 else f"pass{number}/frames")
                row = grade(clip, frames_in(work), summary["mean_style_loss"], summary["mean_content_loss"], seconds)
                row["run_json_warping_error"] = summary["warping_error"]
                rows[f"{number} pass{'es' if number > 1 else ''}"] = row
        prev = rows["prev"]
        for run_name, row in rows.items():
            for key in ("true_motion_warping_error", "dis_warping_error", "long_range_error", "mean_style_loss"):
                row[f"{key}_vs_prev"] = row[key] / prev[key]
            print(
                f"{clip_name:<12}{run_name:<16}{row['true_motion_warping_error']:>12.5f}"
                f"{row['true_motion_warping_error_vs_prev']:>7.2f}{row['dis_warping_error']:>10.5f}"
                f"{row['dis_warping_error_vs_prev']:>7.2f}{row['long_range_error']:>10.5f}"
                f"{row['long_range_error_vs_prev']:>7.2f}{row['mean_style_loss']:>10.4g}"
                f"{row['mean_style_loss_vs_prev']:>7.2f}{row['mean_content_loss']:>10.4g}{row['seconds_per_frame']:>9.2f}",
                flush=True,
            )
        report["clips"][clip_name] = rows
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(report, indent=2))
    report["costs"] = costs(args.cost_size)
    report["load_average_end"] = os.getloadavg()
    c = report["costs"]
    print(
        f"at {c['size']} px: keeping a frame (PNG write + read) {c['png_write_read_ms']:.1f} ms, "
        f"{c['png_kilobytes']:.0f} kB; one pair's flow again {c['flow_pair_ms']:.1f} ms; "
        f"load average {report['load_average_end'][0]:.1f}"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
