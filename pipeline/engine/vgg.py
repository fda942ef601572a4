"""VGG19 feature extractor with named layers, built only as deep as the losses need.

Layer names follow the paper (``conv1_1``, ``relu1_1``, ``pool1`` …); indices match torchvision's
``vgg19().features`` so a torchvision state dict loads directly.
The extractor takes RGB images in 0–1 and converts them to its weights' input convention itself.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from ..errors import StylevidError
from .layers import BLOCK_CHANNELS, LAYER_NAMES
from .weights import WeightsSpec, load_state_dict

_INDEX = {name: i for i, name in enumerate(LAYER_NAMES)}

# Input conventions: what the weights were trained on.
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def channels_of(layer: str) -> int:
    """Number of feature channels (N_l in the paper) of a named layer."""
    block = int(next(c for c in layer if c.isdigit()))  # conv4_2 → 4, pool3 → 3
    return BLOCK_CHANNELS[block - 1][0]


class InputConvention(nn.Module):
    """Maps RGB images in 0–1 to the network input its weights expect."""

    order: torch.Tensor  # channel order (buffers, registered in __init__)
    scale: torch.Tensor
    shift: torch.Tensor

    def __init__(self, convention: str) -> None:
        super().__init__()
        if convention == "caffe":
            scale = torch.full((3,), 255.0)
            shift = torch.tensor(CAFFE_MEAN_BGR)
            order = [2, 1, 0]  # RGB → BGR
        elif convention == "torchvision":
            scale = 1.0 / torch.tensor(IMAGENET_STD_RGB)
            shift = torch.tensor(IMAGENET_MEAN_RGB) / torch.tensor(IMAGENET_STD_RGB)
            order = [0, 1, 2]
        else:
            raise StylevidError(f"unknown input convention {convention!r}; use caffe or torchvision")
        self.convention = convention
        self.register_buffer("order", torch.tensor(order), persistent=False)
        self.register_buffer("scale", scale.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", shift.view(1, 3, 1, 1), persistent=False)

    def forward(self, rgb01: torch.Tensor) -> torch.Tensor:
        return rgb01.index_select(1, self.order) * self.scale - self.shift


class VGG19Features(nn.Module):
    """VGG19 convolution stack up to ``last_layer``, returning the named layers asked for."""

    def __init__(
        self, state_dict: dict[str, torch.Tensor], convention: str, *, last_layer: str, pooling: str = "max"
    ) -> None:
        super().__init__()
        if last_layer not in _INDEX:
            raise StylevidError(f"unknown VGG layer {last_layer!r}")
        if pooling not in ("max", "avg"):
            raise StylevidError(f"pooling must be max or avg, got {pooling!r}")
        self.normalize = InputConvention(convention)
        layers: list[nn.Module] = []
        in_channels = 3
        for name in LAYER_NAMES[: _INDEX[last_layer] + 1]:
            if name.startswith("conv"):
                out_channels = channels_of(name)
                layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
                in_channels = out_channels
            elif name.startswith("relu"):
                layers.append(nn.ReLU(inplace=False))
            else:
                pool = nn.MaxPool2d if pooling == "max" else nn.AvgPool2d
                layers.append(pool(kernel_size=2, stride=2))
        self.features = nn.Sequential(*layers)
        self._load(state_dict)
        self.requires_grad_(False)
        self.eval()

    def _load(self, state_dict: dict[str, torch.Tensor]) -> None:
        own = self.features.state_dict()
        wanted = {f"features.{key}": key for key in own}
        missing = [k for k in wanted if k not in state_dict]
        if missing:
            raise StylevidError(
                f"the weights lack {len(missing)} tensors this model needs (first: {missing[0]}); "
                "is this a VGG19 state dict with torchvision's key names?"
            )
        for full_key, key in wanted.items():
            if tuple(state_dict[full_key].shape) != tuple(own[key].shape):
                raise StylevidError(
                    f"weights tensor {full_key} has shape {tuple(state_dict[full_key].shape)}, "
                    f"VGG19 needs {tuple(own[key].shape)}; is this a VGG19 file?"
                )
        self.features.load_state_dict({key: state_dict[full].float() for full, key in wanted.items()})

    @property
    def convention(self) -> str:
        return self.normalize.convention

    def _memory_format(self, rgb01: torch.Tensor) -> torch.memory_format:
        """The layout the convolutions work in: channels-last when the weights are (the engine
        converts them on CUDA, where cuDNN is fastest so) or the input is, as a convolution would
        choose. Applied after normalising, whose ``index_select`` returns NCHW."""
        channels_last = torch.channels_last
        input_channels_last = rgb01.is_contiguous(memory_format=channels_last) and not rgb01.is_contiguous()
        first = self.features[0]
        assert isinstance(first, nn.Conv2d)
        weights_channels_last = first.weight.is_contiguous(memory_format=channels_last)
        return channels_last if input_channels_last or weights_channels_last else torch.contiguous_format

    def forward(self, rgb01: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        """Responses of ``layers`` (names) to a (B, 3, H, W) RGB image in 0–1."""
        wanted = set(layers)
        unknown = wanted - set(_INDEX)
        if unknown:
            raise StylevidError(f"unknown VGG layer(s): {', '.join(sorted(unknown))}")
        last = max(_INDEX[name] for name in wanted)
        if last >= len(self.features):
            raise StylevidError(f"layer {LAYER_NAMES[last]} is deeper than this extractor was built")
        out: dict[str, torch.Tensor] = {}
        x = self.normalize(rgb01).contiguous(memory_format=self._memory_format(rgb01))
        for index, layer in enumerate(list(self.features)[: last + 1]):
            x = layer(x)
            name = LAYER_NAMES[index]
            if name in wanted:
                out[name] = x
        return out


def deepest(layers: Iterable[str]) -> str:
    return max(layers, key=_INDEX.__getitem__)


def build_extractor(spec: WeightsSpec, layers: Iterable[str], *, pooling: str = "max") -> VGG19Features:
    """Load weights per ``spec`` and build VGG19 up to the deepest of ``layers``."""
    return VGG19Features(load_state_dict(spec), spec.convention, last_layer=deepest(layers), pooling=pooling)


def caffe_to_torchvision_state(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Fold the Caffe input convention into conv1_1 so the weights take torchvision-convention input.

    caffe_input = 255·rgb[BGR] − mean_bgr and rgb = std·tv_input + mean, so conv1_1 stays affine:
    W' = W[:, BGR→RGB]·255·std, b' = b + Σ W[:, BGR→RGB]·(255·mean − mean_bgr[RGB]).
    (Zero padding differs slightly at the border: padded zeros mean the ImageNet mean colour.)
    Used by tests and benchmarks to exercise the torchvision code path offline.
    """
    out = dict(state_dict)
    w = state_dict["features.0.weight"].float()[:, [2, 1, 0]]
    b = state_dict["features.0.bias"].float()
    std = torch.tensor(IMAGENET_STD_RGB).view(1, 3, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN_RGB).view(1, 3, 1, 1)
    caffe_mean_rgb = torch.tensor(CAFFE_MEAN_BGR[::-1]).view(1, 3, 1, 1)
    out["features.0.weight"] = w * 255.0 * std
    out["features.0.bias"] = b + (w * (255.0 * mean - caffe_mean_rgb)).sum(dim=(1, 2, 3))
    return out
