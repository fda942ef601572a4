"""RAFT optical flow (Teed & Deng 2020) through torchvision's ``models.optical_flow``, for GPUs.

Conventions: see :mod:`stylevid.pipeline.motion`. torchvision's RAFT returns, for images
``(image1, image2)``, the flow ``F`` on image1's grid with ``image1(x) ≈ image2(x + F(x))``,
channel 0 = x, channel 1 = y, in pixels: exactly :func:`~.flow.compute_flow`'s ``(src, dst)``
convention, so :class:`RaftFlow` only reshapes it.

What :class:`RaftFlow` does around the network:

* frames (``uint8`` RGB) become floats in ``[-1, 1]`` (torchvision's ``OpticalFlow`` preset:
  ``x / 255``, then mean 0.5 and std 0.5 per channel);
* both frames are padded on the right and bottom, by repeating their last column and row, to a
  multiple of 8 (RAFT works at 1/8 resolution) and to at least :data:`MIN_SIDE` px (its
  correlation pyramid halves that 1/8 grid three more times); the flow is cropped back, so
  coordinates are unchanged;
* the network runs on the engine's device in float32 without gradients, with
  :data:`FLOW_UPDATES` recurrent updates; the last estimate is used.

Weights: torchvision's ``DEFAULT`` for each model (``raft``: ``Raft_Large_Weights.C_T_SKHT_V2``,
``raft-small``: ``Raft_Small_Weights.C_T_V2``), downloaded on first use into torch.hub's cache
(``~/.cache/torch/hub/checkpoints``) as VGG19's are; offline with an empty cache, loading raises
a one-line ``StylevidError``. Tests build the networks with random weights (``pretrained=False``),
which never downloads anything.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import StylevidError

__all__ = ["RAFT_MODELS", "MIN_SIDE", "FLOW_UPDATES", "RaftFlow", "load_raft", "raft_weights_cached"]

#: --flow name → (torchvision builder, its weights enum)
RAFT_MODELS = {"raft": ("raft_large", "Raft_Large_Weights"), "raft-small": ("raft_small", "Raft_Small_Weights")}
MIN_SIDE = 128  # padded frames are at least this high and wide: RAFT needs 16 × 16 features at 1/8 resolution
FLOW_UPDATES = 12  # recurrent refinement steps (torchvision's default, and the paper's at test time)


def _optical_flow_module() -> ModuleType:
    try:
        import torchvision.models.optical_flow as optical_flow
    except Exception as error:  # noqa: BLE001 - a missing or mismatched torchvision: no RAFT
        first = (str(error).strip().splitlines() or [""])[0][:120]
        raise StylevidError(
            f"RAFT needs torchvision's optical-flow models, which do not import here ({type(error).__name__}: "
            f"{first}); install a torchvision built for this torch, or choose another --flow"
        ) from None
    return optical_flow


def _weights_url(method: str) -> str:
    enum_name = RAFT_MODELS[method][1]
    return str(getattr(_optical_flow_module(), enum_name).DEFAULT.url)


def raft_weights_cached(method: str = "raft") -> bool:
    """Whether torch.hub's cache already holds the weights of ``method`` (no download, no network)."""
    try:
        url = _weights_url(method)
    except StylevidError:
        return False
    return (Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]).is_file()


def load_raft(method: str = "raft", *, pretrained: bool = True) -> torch.nn.Module:
    """The RAFT network of ``method`` (``"raft"`` or ``"raft-small"``) in eval mode, on the CPU.

    ``pretrained=False`` gives random weights and never touches the network (tests).
    """
    if method not in RAFT_MODELS:
        raise ValueError(f"not a RAFT method: {method!r}")
    optical_flow = _optical_flow_module()
    model: torch.nn.Module = getattr(optical_flow, RAFT_MODELS[method][0])(weights=None)
    if pretrained:
        url = _weights_url(method)
        try:
            state = torch.hub.load_state_dict_from_url(url, progress=True, check_hash=True, weights_only=True)
        except (OSError, RuntimeError, ValueError) as error:  # URL/HTTP/SSL/OS errors, a bad hash: no weights
            raise StylevidError(
                f"RAFT's weights ({url.rsplit('/', 1)[-1]}) are not cached and could not be downloaded "
                f"({type(error).__name__}); connect once to the internet, or choose another --flow "
                "(deepflow, dis-fine, dis)"
            ) from None
        model.load_state_dict(state)
    return model.eval()


def _padded_size(size: int) -> int:
    return max(MIN_SIDE, 8 * math.ceil(size / 8))


def _network_input(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """``(B, H, W, 3)`` uint8 RGB → ``(B, 3, H', W')`` float in [-1, 1] on ``device``, padded (module doc)."""
    batch = torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2).float()
    batch = batch / 127.5 - 1.0  # (x / 255 - 0.5) / 0.5
    h, w = batch.shape[2:]
    pad_w, pad_h = _padded_size(w) - w, _padded_size(h) - h
    if pad_w or pad_h:
        batch = F.pad(batch, (0, pad_w, 0, pad_h), mode="replicate")
    return batch.contiguous()


class RaftFlow:
    """Flow from each ``sources[i]`` to ``targets[i]`` with a RAFT network, in our convention.

    Args:
        model: a torchvision RAFT network (:func:`load_raft`), or any module with its call
            signature ``model(image1, image2, num_flow_updates=N) -> list of (B, 2, H, W)``.
        device: where it runs (the engine's device).
    """

    def __init__(self, model: torch.nn.Module, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()

    def __call__(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """``(B, H, W, 3)`` uint8 RGB sources and targets → ``(B, H, W, 2)`` float32 flows ``F`` with
        ``source(x) ≈ target(x + F(x))``."""
        if sources.shape != targets.shape or sources.ndim != 4 or sources.shape[3] != 3:
            raise ValueError(f"need two (B, H, W, 3) batches of one shape, got {sources.shape} and {targets.shape}")
        h, w = sources.shape[1:3]
        with torch.inference_mode():
            estimates = self.model(
                _network_input(sources, self.device),
                _network_input(targets, self.device),
                num_flow_updates=FLOW_UPDATES,
            )
            flow = estimates[-1][:, :, :h, :w].float()
        return np.ascontiguousarray(flow.permute(0, 2, 3, 1).cpu().numpy(), dtype=np.float32)

    def __repr__(self) -> str:
        return f"RaftFlow({type(self.model).__name__}, device={self.device})"
