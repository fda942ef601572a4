"""Speed, loss and memory of the project's fast path against a plain paper-faithful reference.

For every resolution both implementations stylise the same content picture towards the same
style picture from the same start (the content picture), for the same number of L-BFGS
iterations, with the same VGG19 weights and the same α = 1, β. The table gives:

* ms/iteration of each (a discarded warm-up run first: cuDNN autotuning, allocator; then a
  fresh timed run from the start; CUDA timings are bracketed by torch.cuda.synchronize);
* the final loss of each, both evaluated by the REFERENCE's loss function in fp32 (IEEE fp32
  convolutions and matmuls on CUDA), their relative difference, and whether the fast path's is
  within LOSS_TOLERANCE (2 %) of the reference's: outcomes are compared, not pixels (L-BFGS
  trajectories are chaotic, and CUDA kernels are not bit-reproducible);
* peak GPU memory of each timed run (torch.cuda.max_memory_allocated, reset after the warm-up
  run, so it counts what stays allocated — weights, targets — but not cuDNN's autotuning trials);
  --memory-cap-gb 24 makes a bigger GPU behave like a 24 GB card.

    python benchmarks/speed.py                                   # CUDA: 256², 512², 1024², 1920×1080
    python benchmarks/speed.py --device cpu --sizes 64x64 --iters 5
    python benchmarks/speed.py --sizes 512x512,1920x1080 --json out/speed.json

REFERENCE: written here, independently of stylevid.pipeline: its own VGG19 up to relu5_1, fp32
(true fp32 on CUDA: TF32 off for its convolutions and matmuls, unless --reference-math says
otherwise), G = F Fᵀ, the losses of Gatys et al. (2016), torch.optim.LBFGS(history_size=100, max_iter=1 per
step, lr=1). FAST: the project's own StyleTransfer(StyleConfig(precision="bf16" on CUDA, ...)),
i.e. exactly what `stylevid` runs; its time is Stylized.seconds / iterations. GRAPHS (CUDA
only): the fast path with `cuda_graphs=True` (`--cuda-graphs`), the loss and gradient replayed
from a CUDA graph after two eager iterations.

Weights: --weights FILE (with --weights-format or $STYLEVID_WEIGHTS_FORMAT), `torchvision`, or
`random` (a seeded random VGG19 in the Caffe convention: for timing only). The default is
$STYLEVID_WEIGHTS when set, else random.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from stylevid.pipeline.engine.device import fp32_math, pick_device  # device settings, not part of the method
from stylevid.pipeline.errors import StylevidError

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONTENT = REPO / "samples" / "tuebingen.jpg"
DEFAULT_STYLE = REPO / "samples" / "starry_night.jpg"
CUDA_SIZES = "256x256,512x512,1024x1024,1920x1080"
CPU_SIZES = "64x64,128x128"
HISTORY_SIZE = 100
LOSS_TOLERANCE = 0.02  # the fast path's final loss may exceed the reference's by this fraction
TORCHVISION_VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"


# =============================================================================================
# The REFERENCE: a plain Gatys et al. implementation. Nothing below this line up to the next
# banner imports stylevid; it shares only the state dict (keys features.N.weight/bias, as in
# torchvision's vgg19().features) and the RGB 0–1 pictures.
# =============================================================================================

# VGG19 up to conv5_1: channels per conv, "M" for 2×2 max pooling (the project's default pooling).
_REF_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512)
# torchvision vgg19().features indices of the layers the losses read
REF_LAYERS = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 20, "relu4_2": 22, "relu5_1": 29}
REF_CONTENT_LAYER = "relu4_2"
REF_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


class ReferenceVGG(nn.Module):
    """VGG19 conv1_1 … relu5_1 in fp32, fed RGB in 0–1, converted to the weights' convention."""

    def __init__(self, state_dict: dict[str, torch.Tensor], convention: str) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in _REF_CFG:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU(inplace=False)]
                channels = item
        self.features = nn.Sequential(*layers)  # indices 0…29 = torchvision's
        own = self.features.state_dict()
        self.features.load_state_dict({k: state_dict[f"features.{k}"].float() for k in own})
        self.requires_grad_(False)
        self.eval()
        if convention == "caffe":  # BGR, 0–255, minus the Caffe mean
            self.register_buffer("order", torch.tensor([2, 1, 0]))
            self.register_buffer("mul", torch.full((1, 3, 1, 1), 255.0))
            self.register_buffer("sub", torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1))
        elif convention == "torchvision":  # RGB, ImageNet mean/std
            std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
            self.register_buffer("order", torch.tensor([0, 1, 2]))
            self.register_buffer("mul", 1.0 / std)
            self.register_buffer("sub", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) / std)
        else:
            raise ValueError(f"unknown convention {convention!r}")

    def forward(self, rgb01: torch.Tensor) -> dict[str, torch.Tensor]:
        x = rgb01.index_select(1, self.order) * self.mul - self.sub
        wanted = {index: name for name, index in REF_LAYERS.items()}
        out = {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in wanted:
                out[wanted[index]] = x
        return out


def ref_gram(feature: torch.Tensor) -> torch.Tensor:
    """G = F Fᵀ for a (1, N, H, W) response, F ∈ R^{N×M}, M = H·W (unnormalised)."""
    n = feature.shape[1]
    f = feature.reshape(n, -1)
    return f @ f.t()


class ReferenceLoss:
    """L = α·½Σ(F−P)² (relu4_2) + β·Σ_l (1/5)·Σ(G−A)²/(4N²M²) (relu1_1 … relu5_1), in fp32."""

    def __init__(
        self, model: ReferenceVGG, content: torch.Tensor, style: torch.Tensor, alpha: float, beta: float
    ) -> None:
        self.model, self.alpha, self.beta = model, alpha, beta
        with torch.no_grad():
            self.P = model(content)[REF_CONTENT_LAYER].detach()
            feats = model(style)
            self.A = {layer: ref_gram(feats[layer]).detach() for layer in REF_STYLE_LAYERS}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.model(x)
        content = 0.5 * (feats[REF_CONTENT_LAYER] - self.P).pow(2).sum()
        style = x.new_zeros(())
        for layer in REF_STYLE_LAYERS:
            f = feats[layer]
            n, m = f.shape[1], f.shape[2] * f.shape[3]
            style = style + (1.0 / len(REF_STYLE_LAYERS)) * (ref_gram(f) - self.A[layer]).pow(2).sum() / (
                4.0 * n * n * m * m
            )
        return self.alpha * content + self.beta * style


def reference_stylize(loss_fn: ReferenceLoss, start: torch.Tensor, iters: int) -> torch.Tensor:
    """``iters`` L-BFGS iterations from ``start``; returns the final image (0–1, detached)."""
    x = start.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
    # tolerance_grad/change = 0: with torch's defaults (1e-7, 1e-9) a step whose max|g| falls
    # below 1e-7 returns without moving, and the reference would look faster by doing less.
    optimizer = torch.optim.LBFGS(
        [x], lr=1.0, max_iter=1, history_size=HISTORY_SIZE, tolerance_grad=0.0, tolerance_change=0.0
    )
    # The objective is divided by its value at the start. L-BFGS's first step is
    # t = min(1, 1/|g|₁)·lr along −g: with paper-scale losses (1e10–1e14 with the Caffe weights)
    # |g|₁ is huge, that step is tiny, the gradient change it produces is below fp32 resolution
    # and the first curvature pair (hence the scaling γ = sᵀy/yᵀy of every later step) is noise.
    # A positive constant factor keeps the minimiser and the geometry of later iterates. The
    # project's optimize() does the same, so both runs follow the same iterates.
    scale: list[float] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_fn(x)
        if not scale:
            scale.append(1.0 / max(float(loss.detach()), 1e-30))
        loss = loss * scale[0]
        loss.backward()
        return loss

    for _ in range(iters):
        optimizer.step(closure)
        with torch.no_grad():
            x.clamp_(0, 1)  # pixels stay in 0–1, as the project's loop does
    return x.detach()


def ref_to_tensor(picture: np.ndarray, device: torch.device) -> torch.Tensor:
    """H×W×3 uint8 → (1, 3, H, W) float32 in 0–1."""
    return (
        torch.from_numpy(np.ascontiguousarray(picture))
        .permute(2, 0, 1)[None]
        .to(device, torch.float32)
        .div(255.0)
        .contiguous()
    )


def ref_round_to_uint8(image: torch.Tensor) -> torch.Tensor:
    """What saving the picture as 8-bit does to it (0–1 float, rounded to 1/255)."""
    return image.clamp(0, 1).mul(255).round().div(255)


# =============================================================================================
# The harness: weights, pictures, timing, memory, the FAST path (the project's own code).
# =============================================================================================


def random_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """A seeded random VGG19 (He-normal convs, zero biases) with torchvision's key names."""
    generator = torch.Generator().manual_seed(seed)
    state, channels, index = {}, 3, 0
    for item in _REF_CFG:
        if item == "M":
            index += 1
            continue
        std = math.sqrt(2.0 / (9 * channels))
        state[f"features.{index}.weight"] = torch.randn(item, channels, 3, 3, generator=generator) * std
        state[f"features.{index}.bias"] = torch.zeros(item)
        channels, index = item, index + 2
    return state


def load_weights(choice: str, weights_format: str | None) -> tuple[dict[str, torch.Tensor], str]:
    """(features.* fp32 state dict, input convention) for --weights; read here, not by stylevid."""
    if choice == "random":
        return random_state_dict(), "caffe"
    if choice == "torchvision":
        state = torch.hub.load_state_dict_from_url(TORCHVISION_VGG19_URL, progress=False, weights_only=True)
        convention = "torchvision"
    else:
        if not weights_format:
            raise SystemExit(
                f"say which input convention {choice} uses: --weights-format caffe|torchvision "
                "(or $STYLEVID_WEIGHTS_FORMAT)"
            )
        state = torch.load(choice, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        convention = weights_format
    return {k: v.float() for k, v in state.items() if k.startswith("features.")}, convention


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        width, _, height = part.strip().lower().partition("x")
        if not (width.isdigit() and height.isdigit()) or min(int(width), int(height)) < 16:
            raise SystemExit(f"bad size {part!r}: use WxH with both sides >= 16, e.g. 512x512,1920x1080")
        sizes.append((int(width), int(height)))
    return sizes


def picture(path: Path | None, width: int, height: int, seed: int) -> np.ndarray:
    """The file resized to exactly width×height (aspect not kept), or seeded random pixels."""
    if path is None:
        return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)).copy()


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return (
            f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()})"
        )
    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return f"CPU {name}, {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}"


def effective_fp32_math(device: torch.device, mode: str) -> str:
    """What ``fp32_math(device, mode)`` gives, as 'conv X, matmul Y'."""
    if device.type != "cuda":
        return "fp32 (CPU)"
    with fp32_math(device, mode):
        try:
            if hasattr(torch.backends.cudnn, "conv"):
                conv, matmul = torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision
                if matmul == "none":  # inherited: IEEE unless set_float32_matmul_precision changed it
                    matmul = "tf32" if torch.get_float32_matmul_precision() != "highest" else "ieee"
            else:
                conv = "tf32" if torch.backends.cudnn.allow_tf32 else "ieee"
                matmul = "tf32" if torch.backends.cuda.matmul.allow_tf32 else "ieee"
            return f"conv {conv}, matmul {matmul}"
        except RuntimeError:  # legacy and new TF32 APIs mixed by someone
            return "unknown (legacy and new TF32 flags mixed)"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak(device: torch.device) -> int | None:
    return torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None


def fmt_bytes(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**30:.2f} GiB"


def fmt_ratio(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


@dataclass
class Inputs:
    width: int
    height: int
    content: np.ndarray
    style: np.ndarray
    beta: float


class Evaluator:
    """The judge of both results: the reference's loss in fp32, with IEEE fp32 convolutions and matmuls on CUDA."""

    def __init__(self, model: ReferenceVGG, inputs: Inputs, device: torch.device) -> None:
        self.device = device
        with fp32_math(device, "ieee"):
            self.loss = ReferenceLoss(
                model,
                ref_to_tensor(inputs.content, device),
                ref_to_tensor(inputs.style, device),
                alpha=1.0,
                beta=inputs.beta,
            )

    def __call__(self, image: torch.Tensor) -> float:
        with fp32_math(self.device, "ieee"), torch.no_grad():
            return float(self.loss(image.to(self.device, torch.float32)))


def run_reference(args, device, state, convention, inputs: Inputs, evaluate: Evaluator) -> dict:
    """Warm-up run, then a timed run of args.iters iterations; losses by the fp32 evaluator."""
    model = ReferenceVGG(state, convention).to(device)
    content = ref_to_tensor(inputs.content, device)
    style = ref_to_tensor(inputs.style, device)
    with fp32_math(device, args.reference_math):
        loss_fn = ReferenceLoss(model, content, style, alpha=1.0, beta=inputs.beta)
        if args.warmup > 0:
            reference_stylize(loss_fn, content, args.warmup)
        sync(device)
        reset_peak(device)
        began = time.perf_counter()
        final = reference_stylize(loss_fn, content, args.iters)
        sync(device)
        seconds = time.perf_counter() - began
    memory = peak(device)
    loss = evaluate(final)
    loss_uint8 = evaluate(ref_round_to_uint8(final))
    return {
        "ms_per_iter": 1e3 * seconds / args.iters,
        "iterations": args.iters,
        "final_loss": loss,
        "final_loss_uint8": loss_uint8,
        "peak_memory_bytes": memory,
        "precision": "fp32",
        "fp32_math": effective_fp32_math(device, args.reference_math),
    }


def run_fast(args, device, state, convention, inputs: Inputs, evaluate: Evaluator, cuda_graphs: bool = False) -> dict:
    """The project's StyleTransfer, as users run it; judged on its float result (Stylized.image)."""
    from stylevid.pipeline.config import StyleConfig
    from stylevid.pipeline.engine.transfer import StyleTransfer
    from stylevid.pipeline.engine.vgg import VGG19Features

    config = StyleConfig(
        size=max(inputs.width, inputs.height),
        iters=args.iters,
        style_weight=inputs.beta,
        content_weight=1.0,
        tv_weight=0.0,
        init="content",
        optimizer="lbfgs",
        history_size=HISTORY_SIZE,
        pooling="max",
        device=str(device),
        precision=args.precision,
        cuda_graphs=cuda_graphs,
        weights=None if args.weights == "random" else args.weights,
        weights_format=None if args.weights in ("random", "torchvision") else args.weights_format,
    )
    extractor = VGG19Features(state, convention, last_layer="relu5_1") if args.weights == "random" else None
    engine = StyleTransfer(config, [inputs.style], extractor=extractor)
    if args.warmup > 0:
        engine.stylize(inputs.content, iters=args.warmup)
    sync(device)
    reset_peak(device)
    result = engine.stylize(inputs.content, iters=args.iters)
    if result.graph_failure:
        print(f"note: CUDA graph not recorded: {result.graph_failure}")
    memory = peak(device)
    image = result.image
    float_result = image is not None
    if image is None:  # no float result: fall back to the saved picture
        image = ref_to_tensor(result.picture, device)
    saved = ref_to_tensor(result.picture, device)
    loss = evaluate(image)
    loss_uint8 = evaluate(saved)
    return {
        "ms_per_iter": 1e3 * result.seconds / result.iterations,
        "iterations": result.iterations,
        "final_loss": loss,
        "final_loss_uint8": loss_uint8,
        "final_loss_is_float_result": float_result,
        "self_reported_loss": result.final["total"],
        "peak_memory_bytes": memory,
        "precision": engine.precision + ("+graphs" if cuda_graphs else ""),
        "replayed_iterations": result.replayed,
        "graph_failure": result.graph_failure,
    }


def guarded(run, *args) -> dict:
    """``run(*args)``, or an error row when it runs out of memory: the next run and size go on."""
    from stylevid.pipeline.errors import StylevidError  # the fast path reports its out-of-memory errors so

    try:
        return run(*args)
    except torch.cuda.OutOfMemoryError as error:
        return {"error": f"out of memory: {str(error).splitlines()[0][:200]}"}
    except StylevidError as error:
        return {"error": str(error)[:300]}


def benchmark_size(args, device, state, convention, width: int, height: int) -> dict:
    from stylevid.pipeline.engine.transfer import default_style_weight

    content_path = None if args.random_images else args.content
    style_path = None if args.random_images else args.style
    beta = args.style_weight if args.style_weight is not None else default_style_weight(convention, width, height)
    inputs = Inputs(
        width, height, picture(content_path, width, height, seed=1), picture(style_path, width, height, seed=2), beta
    )

    evaluate = Evaluator(ReferenceVGG(state, convention).to(device), inputs, device)
    initial = evaluate(ref_to_tensor(inputs.content, device))
    reference = guarded(run_reference, args, device, state, convention, inputs, evaluate)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    fast = guarded(run_fast, args, device, state, convention, inputs, evaluate)
    graphs = None
    if device.type == "cuda":
        torch.cuda.empty_cache()
        graphs = guarded(run_fast, args, device, state, convention, inputs, evaluate, True)
        torch.cuda.empty_cache()
    ok = "error" not in reference and "error" not in fast
    ok_graphs = graphs is not None and "error" not in reference and "error" not in graphs
    return {
        "size": f"{width}x{height}",
        "width": width,
        "height": height,
        "iters": args.iters,
        "warmup": args.warmup,
        "style_weight": beta,
        "initial_loss": initial,
        "reference": reference,
        "fast": fast,
        "speedup": reference["ms_per_iter"] / fast["ms_per_iter"] if ok else None,
        "loss_rel_diff": (fast["final_loss"] - reference["final_loss"]) / reference["final_loss"] if ok else None,
        "loss_within_tolerance": fast["final_loss"] <= (1 + LOSS_TOLERANCE) * reference["final_loss"] if ok else None,
        "loss_rel_diff_uint8": (fast["final_loss_uint8"] - reference["final_loss_uint8"])
        / reference["final_loss_uint8"]
        if ok
        else None,
        "graphs": graphs,
        "speedup_graphs": reference["ms_per_iter"] / graphs["ms_per_iter"] if ok_graphs else None,
        "loss_rel_diff_graphs": (graphs["final_loss"] - reference["final_loss"]) / reference["final_loss"]
        if ok_graphs
        else None,
    }


def print_size(row: dict) -> None:
    print(
        f"\n== {row['size']}: {row['iters']} iterations (after {row['warmup']} warm-up), "
        f"α=1, β={row['style_weight']:.4g}, loss at start {row['initial_loss']:.5g} =="
    )
    print(
        f"{'path':<11}{'precision':<11}{'ms/iter':>10}{'final loss (fp32 ref.)':>24}{'of start':>10}"
        f"{'uint8 result':>15}{'peak GPU mem':>15}"
    )
    for name in ("reference", "fast", "graphs"):
        r = row[name]
        if r is None:
            continue
        if "error" in r:
            print(f"{name:<11}{'':<11}{r['error']}")
            continue
        print(
            f"{name:<11}{r['precision']:<11}{r['ms_per_iter']:>10.2f}{r['final_loss']:>24.6g}"
            f"{r['final_loss'] / row['initial_loss']:>10.4f}{r['final_loss_uint8']:>15.6g}"
            f"{fmt_bytes(r['peak_memory_bytes']):>15}"
        )
    if row["speedup"] is not None:
        verdict = "within" if row["loss_within_tolerance"] else "NOT within"
        print(
            f"speed-up {row['speedup']:.2f}x   final loss fast vs reference {100 * row['loss_rel_diff']:+.3f}% "
            f"({verdict} +{100 * LOSS_TOLERANCE:g}%; uint8 results: {100 * row['loss_rel_diff_uint8']:+.3f}%)"
        )
    if row.get("speedup_graphs") is not None:
        print(
            f"with CUDA graphs: speed-up {row['speedup_graphs']:.2f}x   final loss vs reference "
            f"{100 * row['loss_rel_diff_graphs']:+.3f}%   ({row['graphs']['replayed_iterations']} iterations replayed)"
        )
    fast = row["fast"]
    if "error" not in fast and not fast["final_loss_is_float_result"]:
        print("note: the fast path's float result could not be captured; its loss is that of the uint8 picture")


def print_summary(rows: list[dict]) -> None:
    print(
        f"\n{'size':<11}{'ref ms/it':>11}{'fast ms/it':>12}{'speed-up':>10}{'Δ loss':>10}"
        f"{'ref mem':>12}{'fast mem':>12}"
        f"{'graphs ms/it':>14}{'speed-up':>10}{'Δ loss':>10}"
    )
    for row in rows:
        ref, fast, graphs = row["reference"], row["fast"], row.get("graphs") or {}
        graphs_diff = row.get("loss_rel_diff_graphs")
        graphs_diff = "-" if graphs_diff is None else fmt_ratio(100 * graphs_diff, "+.2f") + "%"
        print(
            f"{row['size']:<11}{fmt_ratio(ref.get('ms_per_iter'), '.2f') or '-':>11}"
            f"{fmt_ratio(fast.get('ms_per_iter'), '.2f') or '-':>12}"
            f"{fmt_ratio(row['speedup'], '.2f') + 'x' if row['speedup'] is not None else '-':>10}"
            f"{fmt_ratio(100 * row['loss_rel_diff'], '+.2f') + '%' if row['loss_rel_diff'] is not None else '-':>10}"
            f"{fmt_bytes(ref.get('peak_memory_bytes')):>12}{fmt_bytes(fast.get('peak_memory_bytes')):>12}"
            f"{fmt_ratio(graphs.get('ms_per_iter'), '.2f') or '-':>14}"
            f"{fmt_ratio(row.get('speedup_graphs'), '.2f') + 'x' if row.get('speedup_graphs') is not None else '-':>10}"
            f"{graphs_diff:>10}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--sizes", default=None, help=f"WxH list; default {CUDA_SIZES} on CUDA, {CPU_SIZES} on CPU")
    parser.add_argument(
        "--iters", type=int, default=None, help="timed iterations per run (default 50 on CUDA, 10 on CPU)"
    )
    parser.add_argument(
        "--warmup", type=int, default=None, help="iterations of the discarded warm-up run (default 5 on CUDA, 2 on CPU)"
    )
    parser.add_argument(
        "--weights",
        default=None,
        help="state-dict FILE, 'torchvision' or 'random' (default $STYLEVID_WEIGHTS, else random)",
    )
    parser.add_argument(
        "--weights-format", default=None, help="caffe|torchvision for a FILE (default $STYLEVID_WEIGHTS_FORMAT)"
    )
    parser.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "bf16", "fp32"),
        help="the fast path's precision; auto = the project's choice (bf16 on GPUs with native bf16, else fp32)",
    )
    parser.add_argument(
        "--style-weight",
        type=float,
        default=None,
        help="β for both (default: the project's default for the convention, scaled by area/512²)",
    )
    parser.add_argument(
        "--reference-math",
        default="ieee",
        choices=("ieee", "tf32", "torch-default"),
        help="fp32 convolutions and matmuls of the reference on CUDA: ieee (true fp32, the default), "
        "tf32, or torch-default (TF32 convolutions, IEEE matmuls unless changed)",
    )
    parser.add_argument("--content", type=Path, default=DEFAULT_CONTENT)
    parser.add_argument("--style", type=Path, default=DEFAULT_STYLE)
    parser.add_argument("--random-images", action="store_true", help="seeded random pixels instead of the pictures")
    parser.add_argument(
        "--memory-cap-gb",
        type=float,
        default=None,
        help="CUDA: cap this process's GPU memory at this many GB (1e9 bytes), e.g. 24 to act as a 24 GB card",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: a shared CPU)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    torch.set_num_threads(max(1, args.threads))
    try:
        device = pick_device(args.device)  # "cuda" gets its index: the memory fraction needs one
    except StylevidError as error:
        raise SystemExit(str(error)) from None
    on_cuda = device.type == "cuda"
    sizes = parse_sizes(args.sizes or (CUDA_SIZES if on_cuda else CPU_SIZES))
    args.iters = args.iters if args.iters is not None else (50 if on_cuda else 10)
    args.warmup = args.warmup if args.warmup is not None else (5 if on_cuda else 2)
    if args.iters < 1 or args.warmup < 0:
        raise SystemExit("--iters must be >= 1 and --warmup >= 0")
    args.weights = args.weights or os.environ.get("STYLEVID_WEIGHTS") or "random"
    args.weights_format = args.weights_format or os.environ.get("STYLEVID_WEIGHTS_FORMAT") or None
    if on_cuda:
        torch.backends.cudnn.benchmark = True  # the reference gets cuDNN autotuning too, as the project sets it
    memory_cap = None
    if on_cuda and args.memory_cap_gb:
        # cuDNN autotuning picks algorithms by the memory it may use: on a big GPU the chosen
        # ones can need workspaces a 24 GB card would not grant. Under the cap they are chosen
        # as they would be there (and an allocation beyond it fails as it would there).
        total = torch.cuda.get_device_properties(device).total_memory
        memory_cap = min(1.0, args.memory_cap_gb * 1e9 / total)
        torch.cuda.set_per_process_memory_fraction(memory_cap, device)
    state, convention = load_weights(args.weights, args.weights_format)

    from stylevid.pipeline.engine.device import resolve_precision

    command = (
        shlex.join(["python", *sys.argv]) if argv is None else shlex.join(["python", "benchmarks/speed.py", *argv])
    )
    header = {
        "machine": machine(device),
        "device": str(device),
        "torch": torch.__version__,
        "command": command,
        "weights": args.weights,
        "convention": convention,
        "fast_precision": resolve_precision(args.precision, device),
        "reference_fp32_math": effective_fp32_math(device, args.reference_math),
        "loss_tolerance": LOSS_TOLERANCE,
        "threads": torch.get_num_threads(),
        "images": "random" if args.random_images else f"{args.content.name} × {args.style.name}",
        "history_size": HISTORY_SIZE,
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark) if on_cuda else None,
        "memory_cap_gb": args.memory_cap_gb if memory_cap is not None else None,
    }
    print(f"machine: {header['machine']}")
    print(f"torch {header['torch']}   device {header['device']}")
    print(f"command: {command}")
    print(f"weights: {args.weights} ({convention} convention)   images: {header['images']}   init: content")
    if memory_cap is not None:
        print(f"GPU memory capped at {args.memory_cap_gb:g} GB ({100 * memory_cap:.1f}% of the card)")
    print(
        f"reference: own VGG19, fp32 ({header['reference_fp32_math']}), torch.optim.LBFGS(history {HISTORY_SIZE})"
        f"   fast: stylevid StyleTransfer, precision {header['fast_precision']}"
    )
    rows = []
    for width, height in sizes:
        row = benchmark_size(args, device, state, convention, width, height)
        print_size(row)
        rows.append(row)
        if args.json:  # after every size: a run cut short by a time limit keeps the sizes before it
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({**header, "complete": len(rows) == len(sizes), "results": rows}, indent=2))
    print_summary(rows)
    if args.json:
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
