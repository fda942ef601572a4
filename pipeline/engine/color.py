"""Colour preservation by luminance-only transfer (Gatys, Bethge, Hertzmann & Shechtman 2016).

The style is transferred on luminance alone: content and style are turned into their luminance
(the style's matched in mean and spread to the content's), the optimiser works on that grey
image, and the result's luminance is recombined with the content's own colour (YIQ chroma).
Pure tensor functions on (B, 3, H, W) RGB in 0–1.
"""

from __future__ import annotations

import torch

# NTSC YIQ: rows give Y, I, Q from R, G, B.
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]])


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    if image.dim() != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be (B, 3, H, W), got {tuple(image.shape)}")
    matrix = _RGB_TO_YIQ.to(image.device, image.dtype)
    return torch.einsum("ij,bjhw->bihw", matrix, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    if image.dim() != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be (B, 3, H, W), got {tuple(image.shape)}")
    matrix = torch.linalg.inv(_RGB_TO_YIQ.double()).to(image.device, image.dtype)
    return torch.einsum("ij,bjhw->bihw", matrix, image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """Y of YIQ, as a grey 3-channel image (B, 3, H, W) the network can take."""
    y = rgb_to_yiq(image)[:, :1]
    return y.expand(-1, 3, -1, -1).contiguous()


def match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The style's luminance shifted and scaled to the content's mean and standard deviation."""
    ys = rgb_to_yiq(style)[:, :1]
    yc = rgb_to_yiq(content)[:, :1]
    matched = (ys - ys.mean()) * (yc.std() / ys.std().clamp_min(1e-6)) + yc.mean()
    return matched.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def recombine(stylised_luminance: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """RGB image with the luminance of ``stylised_luminance`` and the chroma (I, Q) of ``content``."""
    yiq = rgb_to_yiq(content).clone()
    yiq[:, :1] = rgb_to_yiq(stylised_luminance)[:, :1]
    return yiq_to_rgb(yiq).clamp(0, 1)
