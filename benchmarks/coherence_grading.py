"""Grade the grading: what a perfectly coherent painting scores on the true-motion warping error.

The true-motion warping error (``true_motion.py``) resamples frame t−1 with a *bilinear* warp
through the exact flow and compares it with frame t. A bilinear warp at fractional positions
blurs, so a sharp picture that moves exactly with the scene still scores an error, and a blurred
one scores less: the metric can reward blur. The temporal loss is built on the same bilinear warp,
so a run held by it is graded by the tool it optimises against, in the kernel if not in the flow.

This benchmark puts reference rows next to the runs of ``video_quality_table.py`` (read from its
``--out`` folder, ``CLIP/RUN/.work/frames``), with no optimisation at all:

  carried, bicubic   frame 1 of the ``defaults`` run carried to every frame t by ONE bicubic warp
                     through the exact flow t → 1: a painting that moves exactly with the scene,
                     resampled once (the sharpest coherent video of that painting we can make)
  carried, bilinear  the same with a bilinear warp (blurrier)
  originals          the unstylised clip

Columns:

  true        the true-motion warping error as ``true_motion.py`` and ``video_quality_table.py`` grade it
  low-pass    the same after a Gaussian blur of σ = ``--sigma`` px (1) on both frames: what differs
              between kernels is fine detail, so this grades motion, not the interpolation kernel
  detail      the later frames' fine detail (variance of the Laplacian of the grey picture) ÷ frame 1's
  style       the later frames' mean style loss (β·Σ w_l E_l, the optimised term), ÷ frame 1's

    python benchmarks/video_quality_table.py --size 96 --frames 8 --threads 1 --runs prev,defaults \\
        --clips camera_slow,camera_fast --out out/vqt
    python benchmarks/coherence_grading.py --runs-dir out/vqt --size 96 --frames 8 --json out/grading.json

(``benchmarks/video_quality_default_budget.json`` has the commands of the table runs graded in
``benchmarks/coherence_grading.json``: two processes, ``--out out/vqt/a`` and ``out/vqt/b``.)

Weights: $STYLEVID_WEIGHTS / $STYLEVID_WEIGHTS_FORMAT (e.g. the shared Caffe file) or torchvision's.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from true_motion import MEDIA, clips, true_error  # noqa: E402

from stylevid.pipeline.config import StyleConfig  # noqa: E402
from stylevid.pipeline.engine.transfer import StyleTransfer  # noqa: E402
from stylevid.pipeline.io.images import load_image, to_picture, to_tensor  # noqa: E402
from stylevid.pipeline.motion.flow import flow_to_tensor  # noqa: E402
from stylevid.pipeline.motion.synthetic import TrueMotionClip  # noqa: E402
from stylevid.pipeline.motion.warp import warp  # noqa: E402
from stylevid.pipeline.video.workdir import WorkFolder  # noqa: E402


def carried(clip: TrueMotionClip, painting: np.ndarray, mode: str) -> list[np.ndarray]:
    """``painting`` (frame 1's) moved to every frame by one warp through the exact flow t → 1."""
    start = to_tensor(painting)
    frames = [painting]
    with torch.no_grad():
        for t in range(1, len(clip)):
            frames.append(to_picture(warp(start, flow_to_tensor(clip.flow(t, 0)), mode=mode).clamp(0, 1)))
    return frames


def low_pass(frames: list[np.ndarray], sigma: float) -> list[np.ndarray]:
    return [cv2.GaussianBlur(frame, (0, 0), sigma) for frame in frames]


def detail(picture: np.ndarray) -> float:
    """Fine detail: the variance of the Laplacian of the grey picture."""
    grey = cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def style_losses(engine: StyleTransfer, clip: TrueMotionClip, frames: list[np.ndarray]) -> list[float]:
    height, width = frames[0].shape[:2]
    losses = []
    for t, frame in enumerate(frames):
        objective = engine.objective(1, height, width)
        engine.set_contents(objective, [clip.frames[t]])
        with torch.no_grad():
            losses.append(float(objective(to_tensor(frame, engine.device))["style"].sum()))
    return losses


def grade(engine: StyleTransfer, clip: TrueMotionClip, frames: list[np.ndarray], sigma: float) -> dict:
    styles = style_losses(engine, clip, frames)
    details = [detail(frame) for frame in frames]
    return {
        "true": true_error(clip, frames, 1),
        "low_pass": true_error(clip, low_pass(frames, sigma), 1),
        "detail_vs_frame_1": math.fsum(details[1:]) / (len(details) - 1) / details[0],
        "style_vs_frame_1": math.fsum(styles[1:]) / (len(styles) - 1) / styles[0],
        "style_later": math.fsum(styles[1:]) / (len(styles) - 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--runs-dir", type=Path, nargs="+", required=True, help="video_quality_table.py's --out folder(s)"
    )
    parser.add_argument("--runs", default="prev,defaults", help="its runs to grade (CLIP/RUN/.work/frames)")
    parser.add_argument("--clips", default="camera_slow,camera_fast,object_reveal")
    parser.add_argument("--style", type=Path, default=MEDIA / "styles" / "turner_shipwreck_of_the_minotaur.jpg")
    parser.add_argument("--size", type=int, default=96, help="as the table was run")
    parser.add_argument("--frames", type=int, default=8, help="as the table was run")
    parser.add_argument("--sigma", type=float, default=1.0, help="the low-pass column's Gaussian σ in pixels")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)

    engine = StyleTransfer(StyleConfig(size=args.size), [load_image(args.style)])
    report: dict[str, dict] = {}
    print(f"{'clip':<15}{'run':<20}{'true':>9}{'low-pass':>10}{'detail':>8}{'style':>8}   (detail, style: ÷ frame 1)")
    for name, clip in clips(args.size, args.frames).items():
        if name not in args.clips.split(","):
            continue
        runs: dict[str, list[np.ndarray]] = {}
        found = [folder for folder in args.runs_dir if (folder / name).is_dir()]
        if not found:
            continue
        for run in args.runs.split(","):
            work = WorkFolder(found[0] / name / run / ".work")
            runs[run] = [work.load_frame(p)[0] for p in range(len(clip))]
        painting = runs["defaults"][0] if "defaults" in runs else next(iter(runs.values()))[0]
        runs["carried, bicubic"] = carried(clip, painting, "bicubic")
        runs["carried, bilinear"] = carried(clip, painting, "bilinear")
        runs["originals"] = list(clip.frames)
        report[name] = {}
        for run, frames in runs.items():
            row = report[name][run] = grade(engine, clip, frames, args.sigma)
            print(
                f"{name:<15}{run:<20}{row['true']:>9.5f}{row['low_pass']:>10.5f}"
                f"{row['detail_vs_frame_1']:>8.2f}{row['style_vs_frame_1']:>8.2f}",
                flush=True,
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"settings": {k: str(v) for k, v in vars(args).items()}, "clips": report}, indent=1)
        )


if __name__ == "__main__":
    main()
