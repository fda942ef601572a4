"""The one typed configuration object that travels through a run.

Every field has a comment; the CLI maps its options onto these fields one to one, and the
run record stores this object as JSON so a run can be repeated or resumed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from .errors import StylevidError

#: Layers of the paper (Gatys et al. 2016, section 2): content at relu4_2, style at relu1_1…relu5_1.
DEFAULT_CONTENT_LAYER = "relu4_2"
DEFAULT_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

OPTIMIZERS = ("lbfgs", "adam")
POOLINGS = ("max", "avg")
PRECISIONS = ("auto", "fp32", "bf16")
WEIGHTS_FORMATS = ("caffe", "torchvision")
NAMED_INITS = ("noise", "content", "style")


@dataclass(frozen=True)
class StyleConfig:
    """Settings of one stylisation (an image, or each frame of a video)."""

    # --- sizes -------------------------------------------------------------------------------
    size: int = 512  # long side of the processed (and saved) image in pixels
    style_scale: float = 1.0  # style image long side = size × style_scale

    # --- loss (paper notation: total = α·content + β·style + tv·TV (+ temporal for video)) ------
    content_layer: str = DEFAULT_CONTENT_LAYER  # VGG layer whose responses are matched (½Σ(F−P)²)
    style_layers: tuple[str, ...] = DEFAULT_STYLE_LAYERS  # layers whose Gram matrices are matched
    style_layer_weights: tuple[float, ...] | None = None  # w_l per style layer; None → equal, 1/L
    content_weight: float = 1.0  # α
    style_weight: float | None = None  # β; None → default for the weights' convention, scaled by area/512²
    tv_weight: float = 0.0  # weight of the squared total-variation smoothness term
    style_blend: tuple[float, ...] | None = None  # blend weights of several style images; None → equal

    # --- optimisation ----------------------------------------------------------------------------
    optimizer: str = "lbfgs"  # "lbfgs" (paper) or "adam"
    iters: int = 500  # optimisation iterations (one loss+gradient evaluation each)
    lr: float | None = None  # step size: L-BFGS 1.0, Adam 0.02 (pixels in 0–1) when None
    history_size: int = 100  # L-BFGS memory (pairs of steps and gradient changes)
    init: str = "content"  # "content", "noise" (seeded white noise, the paper's), "style", or an image path
    seed: int = 0  # seeds the noise; with the same seed a CPU run is bit-for-bit repeatable
    pooling: str = "max"  # "max" (VGG as trained) or "avg" (the paper's suggestion)
    preserve_colors: bool = False  # luminance-only transfer: keep the content's colours

    # --- model and machine -------------------------------------------------------------------------
    weights: str | None = None  # None → $STYLEVID_WEIGHTS, else "torchvision" (download on first use); or a state-dict file path
    weights_format: str | None = None  # input convention of `weights`: "caffe" or "torchvision"
    device: str = "auto"  # "auto", "cpu", "cuda" or "cuda:N"
    precision: str = "auto"  # "fp32" (reference), "bf16" (fast path on CUDA), "auto" picks per device
    cuda_graphs: bool = False  # CUDA: replay each iteration's loss and gradient from a recorded CUDA graph

    def __post_init__(self) -> None:
        validate(self)

    def replace(self, **changes: Any) -> "StyleConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "StyleConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in known}
        return cls(**values)


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise StylevidError(f"{name} must be a positive whole number, got {value!r}")


def _finite(name: str, value: Any, *, positive: bool = False, allow_zero: bool = True) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise StylevidError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero) or (positive and value <= 0):
        raise StylevidError(f"{name} must be {'positive' if positive or not allow_zero else 'zero or more'}, got {value!r}")


def _one_of(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise StylevidError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def validate(config: StyleConfig) -> None:
    """Check every field; raise StylevidError naming the first bad one."""
    from .engine.vgg import LAYER_NAMES  # local import: vgg imports torch, config should stay light

    _positive_int("size", config.size)
    if config.size < 16:
        raise StylevidError(f"size must be at least 16 px (VGG pools four times), got {config.size}")
    _finite("style scale", config.style_scale, positive=True)
    _positive_int("iterations", config.iters)
    _positive_int("L-BFGS history size", config.history_size)
    for name in (config.content_layer, *config.style_layers):
        if name not in LAYER_NAMES:
            raise StylevidError(
                f"unknown VGG layer {name!r}; use names like relu1_1 … relu5_1, relu4_2 (see `stylevid --help`)"
            )
    if not config.style_layers:
        raise StylevidError("at least one style layer is needed")
    if config.style_layer_weights is not None:
        if len(config.style_layer_weights) != len(config.style_layers):
            raise StylevidError(
                f"{len(config.style_layer_weights)} style layer weights given for {len(config.style_layers)} style layers"
            )
        for w in config.style_layer_weights:
            _finite("style layer weight", w)
    _finite("content weight", config.content_weight)
    if config.style_weight is not None:
        _finite("style weight", config.style_weight)
    _finite("TV weight", config.tv_weight)
    if config.style_blend is not None:
        for w in config.style_blend:
            _finite("style blend weight", w)
        if sum(config.style_blend) <= 0:
            raise StylevidError("style blend weights must not all be zero")
    if config.lr is not None:
        _finite("learning rate", config.lr, positive=True)
    _one_of("optimizer", config.optimizer, OPTIMIZERS)
    _one_of("pooling", config.pooling, POOLINGS)
    _one_of("precision", config.precision, PRECISIONS)
    if config.weights_format is not None:
        _one_of("weights format", config.weights_format, WEIGHTS_FORMATS)
    if not isinstance(config.cuda_graphs, bool):
        raise StylevidError(f"cuda_graphs must be true or false, got {config.cuda_graphs!r}")
    if not isinstance(config.seed, int) or isinstance(config.seed, bool):
        raise StylevidError(f"seed must be a whole number, got {config.seed!r}")
    if not config.init:
        raise StylevidError("init must be content, noise, style or an image file")
