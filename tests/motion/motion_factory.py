"""Tiny synthetic frames and flow fields for the motion tests (import as ``from motion_factory import ...``)."""

from __future__ import annotations

import cv2
import numpy as np
import torch

H, W = 48, 64
PAD = 24


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """uint8 RGB texture: blurred noise luminance with a smooth colour tint."""
    rng = np.random.default_rng(seed)
    lum = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.5)
    lum = (lum - lum.min()) / (lum.max() - lum.min())
    tint = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 6.0)
    tint = (tint - tint.min()) / (tint.max() - tint.min())
    img = 0.8 * lum[..., None] + 0.2 * tint
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def crop(big: np.ndarray, ox: int, oy: int, h: int = H, w: int = W) -> np.ndarray:
    """Frame whose pixel x shows big(x + (PAD - ox, PAD - oy)): content moved by (ox, oy)."""
    return np.ascontiguousarray(big[PAD - oy : PAD - oy + h, PAD - ox : PAD - ox + w])


def const_flow(u: float, v: float, b: int = 1, h: int = H, w: int = W) -> torch.Tensor:
    flow = torch.empty(b, 2, h, w)
    flow[:, 0], flow[:, 1] = u, v
    return flow
