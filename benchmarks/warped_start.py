"""What the warped start of a frame costs in style: per-layer style loss of each way to build it.

A later frame of ``prev-warped`` starts from the previous stylised frame resampled along the
backward flow. The style loss (Gram matrices of VGG responses) is measured on the whole picture,
so anything that resampling blurs (the fine brush texture relu1_1 and relu2_1 see) shows up in
it, and the frame's iterations must paint it back. This script runs ``prev-warped`` once on a
generated true-motion clip (``benchmarks/true_motion.py``), then, for every later frame t, takes
the finished frame t − 1 and measures the style loss, layer by layer, of

  prev               frame t − 1 as it is (the start of plain ``prev``)
  bilinear           warped by the run's flow with bilinear sampling (today's ``prev-warped`` start)
  bicubic            the same with bicubic sampling (cubic convolution, a = −0.75), clamped
  lanczos4           the same with OpenCV's Lanczos (8 × 8) resampling
  nearest            the same with nearest-pixel sampling (no blur; up to ½ px out of place)
  bicubic sharpened  bicubic, then an unsharp mask (1 + a)·s − a·G_σ(s), a = 0.5, σ = 1 px
  bilinear exact     bilinear, through the generator's exact flow (how much is the flow's error)
  bicubic exact      bicubic, through the exact flow
  bilinear held      bilinear where the run's flow is reliable, frame t − 1 unwarped elsewhere
  shifted 1 px       frame t − 1 moved one whole pixel left (an exact copy, edge column repeated):
                     what moving the painting costs with no resampling at all
  final t            the run's finished frame t (what its iterations reach)

Every figure is β·w_l·E_l (the optimised term), averaged over the later frames; the ratios are
against ``prev``. Nothing here is graded with the warp it tests: the style loss does not know
about motion.

    nice python benchmarks/warped_start.py --size 64 --frames 5 --iters 40 --frame-iters 80 --threads 1
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import cv2
import numpy as np
import torch
from true_motion import MEDIA, clips

from stylevid.pipeline import VideoConfig, stylize_video
from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine.losses import normalized_gram, style_layer_loss
from stylevid.pipeline.engine.transfer import StyleTransfer
from stylevid.pipeline.io.images import load_image, resize_long_side, to_picture, to_tensor
from stylevid.pipeline.io.true_motion import save_true_motion_clip
from stylevid.pipeline.motion.flow import FlowEstimator, flow_to_tensor
from stylevid.pipeline.motion.warp import warp


def style_by_layer(engine: StyleTransfer, style: np.ndarray, picture: np.ndarray) -> dict[str, float]:
    """β·w_l·E_l of ``picture`` against ``style``'s Grams, per style layer (as the objective weighs them)."""
    layers = list(engine.layer_weights)
    with torch.no_grad():
        target = engine.features(to_tensor(style), layers)
        feats = engine.features(to_tensor(picture), layers)
    beta = engine.style_weight_for(picture)
    return {
        layer: float(
            beta
            * weight
            * style_layer_loss(normalized_gram(feats[layer]), normalized_gram(target[layer]), feats[layer].shape[1])[0]
        )
        for layer, weight in engine.layer_weights.items()
    }


def remap(picture: np.ndarray, flow_bw: torch.Tensor, interpolation: int) -> np.ndarray:
    """OpenCV's resampling of ``picture`` at x + flow_bw(x) (border replicated, like :func:`warp`)."""
    flow = flow_bw[0].permute(1, 2, 0).numpy()
    height, width = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(picture, xs + flow[..., 0], ys + flow[..., 1], interpolation, borderMode=cv2.BORDER_REPLICATE)


def unsharp(picture: np.ndarray, amount: float, sigma: float) -> np.ndarray:
    """(1 + amount)·picture − amount·(picture blurred by a Gaussian of ``sigma`` px), clipped."""
    image = picture.astype(np.float32)
    blurred = cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    return np.clip((1 + amount) * image - amount * blurred + 0.5, 0, 255).astype(np.uint8)


def starts(
    previous: np.ndarray, flow_bw: torch.Tensor, reliable: torch.Tensor, exact_flow: torch.Tensor
) -> dict[str, np.ndarray]:
    """Each candidate start of frame t built from the finished frame t − 1."""
    tensor = to_tensor(previous)
    with torch.no_grad():
        bilinear = warp(tensor, flow_bw)
        return {
            "prev": previous,
            "bilinear": to_picture(bilinear),
            "bicubic": to_picture(warp(tensor, flow_bw, mode="bicubic")),
            "lanczos4": remap(previous, flow_bw, cv2.INTER_LANCZOS4),
            "nearest": remap(previous, flow_bw, cv2.INTER_NEAREST),
            "bicubic sharpened": unsharp(to_picture(warp(tensor, flow_bw, mode="bicubic")), 0.5, 1.0),
            "bilinear exact": to_picture(warp(tensor, exact_flow)),
            "bicubic exact": to_picture(warp(tensor, exact_flow, mode="bicubic")),
            "bilinear held": to_picture(reliable * bilinear + (1 - reliable) * tensor),
            "shifted 1 px": np.ascontiguousarray(np.concatenate([previous[:, 1:], previous[:, -1:]], axis=1)),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", type=Path, default=MEDIA / "styles" / "turner_shipwreck_of_the_minotaur.jpg")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--iters", type=int, default=40)
    parser.add_argument("--frame-iters", type=int, default=80)
    parser.add_argument("--clips", default="object")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("out/warped_start"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="measure the frames of an earlier run in --out")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    style = load_image(args.style)
    base = StyleConfig(size=args.size, iters=args.iters)
    engine = StyleTransfer(base, [style])
    style_at_size = resize_long_side(style, max(16, round(args.size * base.style_scale)))  # as the engine has it
    everything: dict[str, dict] = {}
    for name, clip in clips(args.size, args.frames).items():
        if name not in args.clips.split(","):
            continue
        folder = args.out / name
        save_true_motion_clip(clip, folder / "frames", folder / "flow")
        config = VideoConfig(style=base, frame_init="prev-warped", frame_iters=args.frame_iters)
        output = folder / "run" / "frames"  # where stylize_video writes the frames of a folder input
        if not (args.reuse and output.exists()):
            run = stylize_video(folder / "frames", [style], folder / "run", config, restart=True, engine=engine)
            output = run.output
        stylised = [load_image(p) for p in sorted(output.glob("*.png"))]
        flow = FlowEstimator("auto", "cpu")
        sums: dict[str, dict[str, list[float]]] = {}
        for t in range(1, len(stylised)):
            flow_bw, reliable = flow.reliable_backward(clip.frames[t - 1], clip.frames[t])
            exact = flow_to_tensor(clip.backward(t, 1)[0])
            candidates = starts(stylised[t - 1], flow_bw, reliable, exact) | {"final t": stylised[t]}
            for kind, picture in candidates.items():
                for layer, value in style_by_layer(engine, style_at_size, picture).items():
                    sums.setdefault(kind, {}).setdefault(layer, []).append(value)
        means = {k: {layer: math.fsum(v) / len(v) for layer, v in by.items()} for k, by in sums.items()}
        everything[name] = means
        layers = list(engine.layer_weights)
        print(f"\n{name}: style loss β·w_l·E_l per layer, mean over frames 2..{len(stylised)} (×prev)")
        print(f"{'start':<16}" + "".join(f"{layer:>17}" for layer in layers) + f"{'total':>17}")
        prev_total = sum(means["prev"].values())
        for kind, by in means.items():
            cells = "".join(f"{by[layer]:>10.3g} {by[layer] / means['prev'][layer]:>5.2f}×" for layer in layers)
            total = sum(by.values())
            print(f"{kind:<16}{cells}{total:>10.3g} {total / prev_total:>5.2f}×", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(everything, indent=2))


if __name__ == "__main__":
    main()
