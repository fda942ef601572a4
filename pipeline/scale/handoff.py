"""The seam inside a shot: the last frames of a segment meet the next segment's keyframe.

A frame near the end of a segment has two temporal targets: its predecessor, stylised and warped
into it (Ruder et al. 2016), and the next segment's keyframe, stylised already and warped back
into it through the flow from the frame to the keyframe. The temporal loss is a per-pixel
weighted squared distance, and a sum of two such terms is, up to a constant, one term towards
their weighted mean with the summed weights:

    c₁(x − a)² + w·c₂(x − b)² = (c₁ + w·c₂)·(x − t)² + const,  t = (c₁a + w·c₂b) / (c₁ + w·c₂)

so the engine's single temporal target carries both, unchanged. The frame also starts from that
blended target, so the hand-off moves the picture itself, not only its loss.

The optimiser gives way only in part (it re-textures every frame). :func:`settle` can also mix
each hand-off frame with the warped keyframe once the segment is done, a fraction j/(n + 1) for
the j-th of n; measured (benchmarks/seam_handoff.py) it made the ramp's own pairs worse, so the
runner leaves it off. What made the seam vanish was the pre-roll (:func:`.plan.opening_frame`):
a keyframe stylised afresh is sharper than a frame deep in a chain, whose texture has been
resampled by every warp, so the seam pair compared two different kinds of picture.
"""

from __future__ import annotations

import numpy as np
import torch

from ..io.images import to_picture, to_tensor
from ..motion.warp import warp


def blended_target(
    warped_previous: np.ndarray,
    reliable: torch.Tensor,
    keyframe: np.ndarray,
    key_flow: torch.Tensor,
    key_reliable: torch.Tensor,
    weight: float,
) -> tuple[np.ndarray, torch.Tensor]:
    """(target picture, per-pixel weights) of a frame pulled towards its predecessor and, with
    ``weight``, towards ``keyframe`` warped into it by ``key_flow`` (the frame's pixel x was at
    x + key_flow(x) in the keyframe) where ``key_reliable`` trusts that flow."""
    with torch.no_grad():
        previous = to_tensor(warped_previous)
        towards_key = warp(to_tensor(keyframe), key_flow)
        pull = weight * key_reliable
        total = reliable + pull
        mixed = (reliable * previous + pull * towards_key) / total.clamp_min(1e-6)
        target = torch.where(total > 0, mixed, previous)
        return to_picture(target), total


def settle(picture: np.ndarray, key_warped: np.ndarray, key_reliable: np.ndarray, fraction: float) -> np.ndarray:
    """``picture`` moved ``fraction`` of the way towards ``key_warped`` where ``key_reliable`` (H×W, 0–1) trusts it."""
    start = picture.astype(np.float32)
    amount = fraction * key_reliable.astype(np.float32)[..., None]
    mixed = start + amount * (key_warped.astype(np.float32) - start)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
