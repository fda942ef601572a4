"""Where VGG19 weights come from, and which input convention they expect.

Two sources:

* ``torchvision`` — ``VGG19_Weights.IMAGENET1K_V1`` through torchvision's own download and cache.
  Input convention: RGB in 0–1, normalised by the ImageNet mean and std.
* a local state-dict file whose keys are torchvision's ``features.N.weight``/``.bias`` — in a
  declared convention, ``caffe`` (BGR, 0–255, mean-subtracted; the original Oxford weights) or
  ``torchvision``.

The convention travels with the weights (:class:`WeightsSpec`) into the feature extractor, which
converts the 0–1 RGB image itself: no caller ever prepares network input by hand.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import StylevidError

ENV_WEIGHTS = "STYLEVID_WEIGHTS"
ENV_WEIGHTS_FORMAT = "STYLEVID_WEIGHTS_FORMAT"
TORCHVISION = "torchvision"


@dataclass(frozen=True)
class WeightsSpec:
    source: str  # "torchvision" or the path of a state-dict file
    convention: str  # "caffe" or "torchvision": the input the weights were trained on


def resolve_weights(weights: str | None = None, weights_format: str | None = None) -> WeightsSpec:
    """Combine explicit settings with $STYLEVID_WEIGHTS / $STYLEVID_WEIGHTS_FORMAT.

    An explicit value wins over the environment; torchvision's download is the default source.
    A local file must declare its convention (there is no safe way to guess it).
    """
    explicit_source = weights not in (None, "", TORCHVISION)
    source = weights if explicit_source else None
    if source is None and weights in (None, ""):
        source = os.environ.get(ENV_WEIGHTS) or None
    source = source or TORCHVISION
    fmt = weights_format or os.environ.get(ENV_WEIGHTS_FORMAT) or None
    if source == TORCHVISION:
        if weights_format not in (None, "", TORCHVISION):  # $STYLEVID_WEIGHTS_FORMAT describes local files only
            raise StylevidError(
                f"torchvision's VGG19 weights use the torchvision input convention, not {weights_format!r}; "
                "drop --weights-format or point --weights at a local file"
            )
        return WeightsSpec(TORCHVISION, TORCHVISION)
    if fmt is None:
        raise StylevidError(
            f"say which input convention {source} uses: --weights-format caffe or torchvision "
            f"(or set ${ENV_WEIGHTS_FORMAT})"
        )
    if fmt not in ("caffe", TORCHVISION):
        raise StylevidError(f"weights format must be caffe or torchvision, got {fmt!r}")
    return WeightsSpec(str(Path(source).expanduser()), fmt)


def load_state_dict(spec: WeightsSpec) -> dict[str, torch.Tensor]:
    """The ``features.*`` tensors of VGG19 as float32, from the file or torchvision's cache."""
    if spec.source == TORCHVISION:
        state = _download_torchvision_state()
    else:
        state = _load_file(Path(spec.source))
    features = {k: v.float() for k, v in state.items() if k.startswith("features.")}
    if not features:
        raise StylevidError(f"{spec.source} holds no VGG19 convolution weights (expected keys like features.0.weight)")
    return features


def _load_file(path: Path) -> dict[str, torch.Tensor]:
    if not path.exists():
        raise StylevidError(f"weights file {path} does not exist; check --weights or ${ENV_WEIGHTS}")
    if path.is_dir():
        raise StylevidError(f"weights path {path} is a folder; give the .pth file inside it")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "unsafe content"
        raise StylevidError(
            f"refused to load {path}: it is not a plain tensor file ({first[:120]}); "
            "only weights loadable with weights_only=True are accepted"
        ) from None
    except Exception as error:  # noqa: BLE001 - any failure of the safe loader means: not a usable file
        raise StylevidError(
            f"cannot read weights file {path}: it is corrupt or not a PyTorch file ({type(error).__name__})"
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise StylevidError(f"{path} is not a state dict of tensors (features.N.weight …)")
    return state


#: Where torchvision's VGG19_Weights.IMAGENET1K_V1 lives (the file name carries its sha256 prefix).
TORCHVISION_VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"


def _download_torchvision_state() -> dict[str, torch.Tensor]:
    """torchvision's VGG19 ImageNet weights, from torch.hub's cache or downloaded into it.

    Goes through torchvision's own ``VGG19_Weights`` where torchvision imports; where it does
    not (a build that does not match the installed torch), the same file, URL and cache folder
    are used through ``torch.hub`` directly.
    """
    url = TORCHVISION_VGG19_URL
    try:
        from torchvision.models import VGG19_Weights

        url = VGG19_Weights.IMAGENET1K_V1.url
    except Exception:  # noqa: BLE001 - a missing or mismatched torchvision: use the URL directly
        pass
    try:
        return torch.hub.load_state_dict_from_url(url, progress=True, check_hash=True, weights_only=True)
    except (OSError, RuntimeError, ValueError) as error:  # URL/HTTP/SSL/OS errors, a bad hash: no weights
        raise StylevidError(
            "torchvision's VGG19 weights are not cached and could not be downloaded "
            f"({type(error).__name__}); connect once to the internet, or use a local file with "
            "--weights FILE --weights-format caffe|torchvision (or $STYLEVID_WEIGHTS)"
        ) from None
