"""Reliability mask of the backward flow (Ruder, Dosovitskiy & Brox 2016, sec. 3.2).

Conventions (flows, masks): see :mod:`stylevid.pipeline.motion`.
"""

from __future__ import annotations

import torch

from ..checks import check_batch
from .warp import inside_mask, warp

__all__ = ["consistency_mask"]


def consistency_mask(flow_fw: torch.Tensor, flow_bw: torch.Tensor) -> torch.Tensor:
    """Pixels of frame t whose backward flow can be trusted (Ruder et al. 2016).

    With the forward flow of frame t-1 carried to frame t,

    .. math::

        \\tilde w(x) = w(x + \\hat w(x))   \\quad\\text{(= warp(flow\\_fw, flow\\_bw))}

    a pixel ``x`` is **unreliable** (mask 0) if any of these holds:

    1. disocclusion (forward and backward flow are not inverse of each other):

       .. math::  |\\tilde w + \\hat w|^2 > 0.01\\,(|\\tilde w|^2 + |\\hat w|^2) + 0.5

    2. motion boundary:

       .. math::  |\\nabla \\hat u|^2 + |\\nabla \\hat v|^2 > 0.01\\,|\\hat w|^2 + 0.002

       with spatial derivatives by central differences ``(f(x+1) - f(x-1)) / 2`` in the
       interior and one-sided differences ``f(x+1) - f(x)`` / ``f(x) - f(x-1)`` on the
       first/last row and column (``torch.gradient``, ``edge_order=1``);

    3. ``x + ŵ(x)`` falls outside frame t-1 (see :func:`~stylevid.pipeline.warp.inside_mask`).

    Otherwise the mask is 1.  As in the paper the mask is used as is: no dilation,
    erosion or smoothing, and no separate value for motion boundaries.

    Args:
        flow_fw: ``(B, 2, H, W)`` forward flow of frame t-1.
        flow_bw: ``(B, 2, H, W)`` backward flow of frame t.

    Returns:
        ``(B, 1, H, W)`` tensor of ``flow_bw``'s dtype, values in ``{0, 1}``, not
        differentiable.
    """
    check_batch("flow_fw", flow_fw, channels=2, floating=True)
    check_batch("flow_bw", flow_bw, channels=2, floating=True)
    if flow_fw.shape != flow_bw.shape:
        raise ValueError(
            f"flow_fw and flow_bw must have the same shape, got {tuple(flow_fw.shape)} and {tuple(flow_bw.shape)}"
        )
    if flow_fw.device != flow_bw.device:
        raise ValueError(f"flow_fw is on {flow_fw.device} but flow_bw is on {flow_bw.device}")

    with torch.no_grad():
        w_hat = flow_bw
        w_tilde = warp(flow_fw.to(w_hat.dtype), w_hat, padding_mode="border")

        sum_sq = (w_tilde + w_hat).pow(2).sum(dim=1, keepdim=True)
        mag_tilde = w_tilde.pow(2).sum(dim=1, keepdim=True)
        mag_hat = w_hat.pow(2).sum(dim=1, keepdim=True)
        disoccluded = sum_sq > 0.01 * (mag_tilde + mag_hat) + 0.5

        h, w = w_hat.shape[2:]
        if h > 1 and w > 1:
            d_dy, d_dx = torch.gradient(w_hat, dim=(2, 3), edge_order=1)
            grad_sq = (d_dx.pow(2) + d_dy.pow(2)).sum(dim=1, keepdim=True)
        else:  # torch.gradient needs at least two samples per differentiated dim
            grad_sq = torch.zeros_like(mag_hat)
        motion_boundary = grad_sq > 0.01 * mag_hat + 0.002

        outside = inside_mask(w_hat) < 0.5

        unreliable = disoccluded | motion_boundary | outside
    return (~unreliable).to(w_hat.dtype)


def photometric_mask(prev: torch.Tensor, cur: torch.Tensor, flow_bw: torch.Tensor, tolerance: float) -> torch.Tensor:
    """Pixels of frame t whose colour matches frame t-1 where the backward flow points.

    A pixel is unreliable (mask 0) where the mean absolute RGB difference between frame t and frame
    t-1 warped by ``flow_bw`` exceeds ``tolerance`` (images in 0–1). The forward-backward check of
    :func:`consistency_mask` misses occlusions wherever a dense, smooth flow is consistent in both
    directions across an occluder's edge (DeepFlow passed 79 % of the pixels hidden at t-1 on a
    generated clip; ``benchmarks/occlusion_masks.py``); ground just uncovered rarely has the colour
    of the occluder that hid it, so this check catches most of them. The pipeline does not use it:
    through the whole video it did not lower the errors (docs/method.md, "A photometric check").

    Args:
        prev, cur: ``(B, 3, H, W)`` frames t-1 and t, values in 0–1.
        flow_bw: ``(B, 2, H, W)`` backward flow of frame t.
        tolerance: largest mean absolute difference still called the same surface.

    Returns:
        ``(B, 1, H, W)`` tensor of ``flow_bw``'s dtype, values in ``{0, 1}``.
    """
    check_batch("prev", prev, channels=3, floating=True)
    check_batch("cur", cur, channels=3, floating=True)
    check_batch("flow_bw", flow_bw, channels=2, floating=True)
    if not (prev.shape == cur.shape and prev.shape[2:] == flow_bw.shape[2:] and prev.shape[0] == flow_bw.shape[0]):
        raise ValueError(
            f"prev, cur and flow_bw must share batch and size, got {tuple(prev.shape)}, {tuple(cur.shape)} "
            f"and {tuple(flow_bw.shape)}"
        )
    if not tolerance > 0:
        raise ValueError(f"tolerance must be positive, got {tolerance}")
    with torch.no_grad():
        difference = (cur - warp(prev.to(cur.dtype), flow_bw.to(cur.dtype))).abs().mean(dim=1, keepdim=True)
        return (difference <= tolerance).to(flow_bw.dtype)
