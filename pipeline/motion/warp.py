"""Backward warping of an image by a dense flow (bilinear or bicubic sampling).

Conventions (images, flows, pixel centres): see :mod:`stylevid.pipeline.motion`.

So ``warp(stylised_{t-1}, flow_bw)`` aligns frame t-1's stylisation to frame t.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..checks import check_batch

__all__ = ["PADDING_MODES", "SAMPLING_MODES", "inside_mask", "warp"]

PADDING_MODES: tuple[str, ...] = ("border", "zeros", "reflection")
#: "bilinear": what the temporal loss and the warping error use; "bicubic": Keys' cubic
#: convolution (a = −0.75), sharper, used for the warped start of a frame (``--init-sampling``).
SAMPLING_MODES: tuple[str, ...] = ("bilinear", "bicubic")


def _sample_points(flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Absolute sampling positions ``(x + u(x), y + v(x))`` in pixels, each (B, H, W)."""
    _, _, h, w = flow.shape
    ys = torch.arange(h, device=flow.device, dtype=flow.dtype).view(1, h, 1)
    xs = torch.arange(w, device=flow.device, dtype=flow.dtype).view(1, 1, w)
    return xs + flow[:, 0], ys + flow[:, 1]


def warp(image: torch.Tensor, flow: torch.Tensor, padding_mode: str = "border", mode: str = "bilinear") -> torch.Tensor:
    """Backward-warp ``image`` by ``flow`` with bilinear (default) or bicubic sampling.

    .. math::

        \\text{out}(x) = \\text{image}(x + \\text{flow}(x))

    where ``image`` at non-integer positions is interpolated per ``mode``.  Implemented
    with ``torch.nn.functional.grid_sample(align_corners=True)``; pixel positions
    ``p`` are normalised as ``p_n = 2 p / (S - 1) - 1`` (``S`` = width or height),
    so ``-1`` and ``+1`` are the centres of the first and last pixels and the
    warp of a zero flow is the identity.  Points outside the image are filled per
    ``padding_mode`` (``"border"``: nearest edge pixel, ``"zeros"``,
    ``"reflection"``); use :func:`inside_mask` to know which they are.

    Differentiable with respect to ``image`` (and to ``flow``).  Pure torch, so it
    runs on any device; ``flow`` must be on the image's device and is cast to its dtype.

    Args:
        image: ``(B, C, H, W)`` floating tensor.
        flow: ``(B, 2, H, W)`` floating tensor in pixels (channel 0 = x, 1 = y);
            ``B`` must match the image's, or be 1 to broadcast over the batch.
        padding_mode: ``"border"`` (default), ``"zeros"`` or ``"reflection"``.
        mode: ``"bilinear"`` (default) or ``"bicubic"`` (cubic convolution, a = −0.75: keeps
            more of the fine texture a bilinear resampling blurs, may overshoot the input's range
            a little, so clamp where a picture is wanted). Both copy exactly at integer shifts.

    Returns:
        ``(B, C, H, W)`` tensor, same dtype and device as ``image``.
    """
    if not isinstance(image, torch.Tensor):
        raise ValueError(f"image must be a torch.Tensor, got {type(image).__name__}")
    if image.ndim != 4:
        raise ValueError(f"image must have shape (B, C, H, W), got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise ValueError(f"image must be floating point, got dtype {image.dtype}")
    check_batch("flow", flow, channels=2, floating=True)
    b, _, h, w = image.shape
    if flow.shape[2:] != image.shape[2:]:
        raise ValueError(f"flow spatial size {tuple(flow.shape[2:])} does not match image {tuple(image.shape[2:])}")
    if flow.shape[0] not in (b, 1):
        raise ValueError(f"flow batch {flow.shape[0]} must be 1 or match image batch {b}")
    if flow.device != image.device:
        raise ValueError(f"flow is on {flow.device} but image is on {image.device}")
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    if mode not in SAMPLING_MODES:
        raise ValueError(f"mode must be one of {SAMPLING_MODES}, got {mode!r}")

    px, py = _sample_points(flow.to(image.dtype))
    # align_corners=True: -1 <-> pixel 0, +1 <-> pixel S-1.  For S == 1 any value maps
    # to pixel 0, so the max() only avoids a division by zero.
    gx = 2.0 * px / max(w - 1, 1) - 1.0
    gy = 2.0 * py / max(h - 1, 1) - 1.0
    grid = torch.stack((gx, gy), dim=-1)
    if grid.shape[0] != b:
        grid = grid.expand(b, -1, -1, -1)
    return F.grid_sample(image, grid, mode=mode, padding_mode=padding_mode, align_corners=True)


def inside_mask(flow: torch.Tensor) -> torch.Tensor:
    """Where ``x + flow(x)`` falls inside the image.

    .. math::

        M(x) = [\\,0 \\le x_1 + u(x) \\le W - 1\\,] \\cdot [\\,0 \\le x_2 + v(x) \\le H - 1\\,]

    i.e. the sampled point lies within the hull of the pixel centres, where bilinear
    interpolation needs no padding.

    Args:
        flow: ``(B, 2, H, W)`` floating tensor in pixels (channel 0 = x, 1 = y).

    Returns:
        ``(B, 1, H, W)`` tensor of the flow's dtype with values in ``{0, 1}``
        (not differentiable).
    """
    check_batch("flow", flow, channels=2, floating=True)
    _, _, h, w = flow.shape
    with torch.no_grad():
        px, py = _sample_points(flow)
        inside = (px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)
    return inside.unsqueeze(1).to(flow.dtype)
