"""The loss terms, as pure tensor functions (no I/O, no state).

Notation of Gatys, Ecker & Bethge (2016). For a layer l with N_l feature maps of M_l positions,
F^l ∈ R^{N_l×M_l} are the responses to the generated image x, P^l to the content photo p, and
G^l_ij = Σ_k F^l_ik F^l_jk is the Gram matrix (A^l for the style image a).

* content:  L_content = ½ Σ_ij (F^l_ij − P^l_ij)²                         (eq. 1)
* style:    E_l = 1/(4 N_l² M_l²) Σ_ij (G^l_ij − A^l_ij)²,   L_style = Σ_l w_l E_l   (eqs. 4–5)
* total:    L = α L_content + β L_style (+ λ_tv L_tv + λ_t L_temporal)      (eq. 7)

Every function takes a batch and returns one value per batch item, shape (B,), so several
frames can be optimised together while their losses are reported apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch


def _check_features(name: str, features: torch.Tensor) -> None:
    if features.dim() != 4:
        raise ValueError(f"{name} must be (B, C, H, W), got shape {tuple(features.shape)}")


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """G = F Fᵀ per batch item: (B, N, H, W) → (B, N, N), unnormalised, computed in fp32 (or fp64).

    Channels-last features (the CUDA path) are read as an M×N view, without a copy. The
    gradient is one product, (∂L/∂G + ∂L/∂Gᵀ)·F, in the features' own dtype; autograd of
    F·Fᵀ would make two fp32 products, add them and keep an fp32 copy of F for the backward.
    """
    _check_features("features", features)
    b, n, h, w = features.shape
    if features.is_contiguous(memory_format=torch.channels_last) and not features.is_contiguous():
        return _Gram.apply(features.permute(0, 2, 3, 1).reshape(b, h * w, n), True)
    return _Gram.apply(features.reshape(b, n, h * w), False)


class _Gram(torch.autograd.Function):
    """G = F Fᵀ from F as (B, N, M), or as (B, M, N) with ``positions_first``."""

    @staticmethod
    def forward(ctx, matrix: torch.Tensor, positions_first: bool) -> torch.Tensor:
        ctx.save_for_backward(matrix)
        ctx.positions_first = positions_first
        # at least fp32: a product of two bf16 values is exact in fp32, and the sums accumulate in fp32
        exact = matrix.to(torch.promote_types(matrix.dtype, torch.float32))
        with torch.autocast(matrix.device.type, enabled=False):
            if positions_first:
                return torch.bmm(exact.transpose(1, 2), exact)
            return torch.bmm(exact, exact.transpose(1, 2))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_gram: torch.Tensor) -> tuple[torch.Tensor, None]:
        (matrix,) = ctx.saved_tensors
        symmetric = (grad_gram + grad_gram.transpose(1, 2)).to(matrix.dtype)
        with torch.autocast(matrix.device.type, enabled=False):
            if ctx.positions_first:
                return torch.bmm(matrix, symmetric), None
            return torch.bmm(symmetric, matrix), None


def normalized_gram(features: torch.Tensor) -> torch.Tensor:
    """G / M (M = H·W positions): comparable between images of different sizes."""
    _check_features("features", features)
    return gram_matrix(features) / (features.shape[2] * features.shape[3])


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """½ Σ (F − P)² per batch item (eq. 1). ``target`` broadcasts over the batch."""
    _check_features("features", features)
    diff = features.float() - target.float()
    return 0.5 * diff.pow(2).flatten(1).sum(dim=1)


def style_layer_loss(gram_over_m: torch.Tensor, target_gram_over_m: torch.Tensor, channels: int) -> torch.Tensor:
    """E_l = Σ(G − A)² / (4 N² M²) per batch item (eq. 4), from Grams already divided by M.

    With Ĝ = G/M and Â = A/M this is Σ(Ĝ − Â)² / (4 N²): the paper's value when the style
    image has the same size as the content, and a size-independent one when it does not
    (``--style-scale``), where A is then normalised by the style image's own M.
    """
    if gram_over_m.dim() != 3:
        raise ValueError(f"gram must be (B, N, N), got shape {tuple(gram_over_m.shape)}")
    diff = gram_over_m - target_gram_over_m
    return diff.pow(2).flatten(1).sum(dim=1) / (4.0 * channels * channels)


def style_loss(
    features: Mapping[str, torch.Tensor],
    target_grams: Mapping[str, torch.Tensor],
    layer_weights: Mapping[str, float],
) -> torch.Tensor:
    """L_style = Σ_l w_l E_l (eq. 5) over the layers in ``layer_weights``; targets are G/M."""
    total: torch.Tensor | None = None
    for layer, weight in layer_weights.items():
        f = features[layer]
        e = style_layer_loss(normalized_gram(f), target_grams[layer], f.shape[1])
        total = weight * e if total is None else total + weight * e
    if total is None:
        raise ValueError("layer_weights is empty")
    return total


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Squared total variation Σ (x[i+1,j] − x[i,j])² + (x[i,j+1] − x[i,j])² per batch item.

    A smoothness prior (Mahendran & Vedaldi 2015) that suppresses high-frequency noise; zero
    for a constant image.
    """
    _check_features("image", image)
    dy = image[:, :, 1:, :] - image[:, :, :-1, :]
    dx = image[:, :, :, 1:] - image[:, :, :, :-1]
    return dy.float().pow(2).flatten(1).sum(dim=1) + dx.float().pow(2).flatten(1).sum(dim=1)


def temporal_loss(image: torch.Tensor, warped_previous: torch.Tensor, reliable: torch.Tensor) -> torch.Tensor:
    """Ruder et al. (2016), eq. 3: (1/D) Σ c · (x − ω(x_prev))² per batch item.

    ``warped_previous`` is the previous stylised frame warped into this frame by optical flow,
    ``reliable`` (B, 1, H, W) the per-pixel weight c (0 where the flow is disoccluded or at motion
    boundaries), D = C·H·W the number of values.
    """
    _check_features("image", image)
    if warped_previous.shape != image.shape:
        raise ValueError(f"warped_previous {tuple(warped_previous.shape)} must match image {tuple(image.shape)}")
    if reliable.dim() != 4 or reliable.shape[1] != 1 or reliable.shape[2:] != image.shape[2:]:
        raise ValueError(f"reliable must be (B, 1, H, W) like the image, got {tuple(reliable.shape)}")
    d = image.shape[1] * image.shape[2] * image.shape[3]
    return (reliable * (image.float() - warped_previous.float()).pow(2)).flatten(1).sum(dim=1) / d


def equal_layer_weights(layers: Sequence[str]) -> dict[str, float]:
    """w_l = 1/L for each of the L style layers (the paper's choice)."""
    return {layer: 1.0 / len(layers) for layer in layers}
