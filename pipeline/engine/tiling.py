"""Exact tiling: the loss and gradient of a whole picture, computed tile by tile in bounded memory.

The style loss is not a sum over positions — it compares Gram matrices G_l = Σ_k F_k F_kᵀ of the
whole picture — so stitching tiles that are each optimised alone changes the problem (seams, and
textures that match the style per tile rather than over the picture). Here the problem stays the
whole picture's; only the work is split:

1. **Pass 1** (no gradient): each tile runs through VGG with a halo of input pixels around it, wide
   enough for the deepest layer's receptive field (:func:`~.layers.receptive_field`), and adds
   the Gram sum over the feature positions it *owns* (its own pixels' positions at that layer's
   stride) to each style layer's G_l. The owned positions of all tiles partition every layer, and
   each owned response equals the whole picture's, so Σ_tiles G_l(tile) = G_l exactly.
2. The style loss of the whole picture follows from the G_l, and ∂L/∂G_l from autograd on those
   small N_l × N_l matrices alone.
3. **Pass 2**: each tile runs through VGG again, with gradient, and backpropagates the surrogate
   Σ_l ⟨∂L/∂G_l, G_l(tile)⟩ + (content loss of its owned positions). Its gradient — on the halo
   pixels too — is added into the picture's gradient. Since ∂L/∂x = Σ_l Σ_k ∂L/∂G_l · ∂G_l/∂F_k ·
   ∂F_k/∂x and every position k is owned by exactly one tile, the sum is the whole picture's.

Tiles start on the pooling grid of the deepest layer (multiples of 16 up to relu5_1), so a tile's
pools pair the same pixels as the whole picture's. The halo is clipped to the picture: at the
picture's border a tile's network pads with zeros exactly where the whole picture's does.

The content loss is a sum over positions, so it splits over owned positions too; the pixel terms
(TV, temporal) need no network and stay with the caller, on the whole picture.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .layers import receptive_field, tile_halo
from .losses import content_loss, gram_matrix, style_layer_loss

#: VGG responses of an image batch (RGB 0–1) at the named layers.
Encoder = Callable[[torch.Tensor, Collection[str]], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class Tile:
    """One tile: the input pixels it owns, and the larger crop (owned pixels + halo) run through VGG."""

    top: int  # owned rows top … bottom − 1 (top on the pooling grid)
    bottom: int
    left: int  # owned columns left … right − 1 (left on the pooling grid)
    right: int
    crop_top: int  # rows crop_top … crop_bottom − 1 go through the network (on the pooling grid)
    crop_bottom: int
    crop_left: int
    crop_right: int

    def crop(self, image: torch.Tensor) -> torch.Tensor:
        """The part of ``image`` (B, C, H, W) the network sees for this tile."""
        return image[:, :, self.crop_top : self.crop_bottom, self.crop_left : self.crop_right]

    def owned(self, features: torch.Tensor, stride: int) -> torch.Tensor:
        """The positions this tile owns of ``features``: a layer of stride ``stride`` computed on the crop."""
        top, bottom = (self.top - self.crop_top) // stride, (self.bottom - self.crop_top) // stride
        left, right = (self.left - self.crop_left) // stride, (self.right - self.crop_left) // stride
        return features[:, :, top:bottom, left:right]


def halo(layers: Collection[str]) -> tuple[int, int, int]:
    """See :func:`.layers.tile_halo` (before, after, grid)."""
    return tile_halo(layers)


def tile_grid(height: int, width: int, tile: int, layers: Collection[str]) -> list[Tile]:
    """Tiles of ``tile`` × ``tile`` owned pixels (smaller at the bottom and right edges) covering a
    height × width picture, each with the halo ``layers`` need, clipped to the picture."""
    before, after, grid = halo(layers)
    if tile < grid or tile % grid:
        raise ValueError(f"tile must be a positive multiple of {grid} (the pooling grid of these layers), got {tile}")

    def spans(extent: int) -> list[tuple[int, int, int, int]]:
        out = []
        for start in range(0, extent, tile):
            end = min(extent, start + tile)
            out.append((start, end, max(0, start - before), min(extent, end + after)))
        return out

    return [
        Tile(top, bottom, left, right, crop_top, crop_bottom, crop_left, crop_right)
        for top, bottom, crop_top, crop_bottom in spans(height)
        for left, right, crop_left, crop_right in spans(width)
    ]


def tiled_features(encode: Encoder, image: torch.Tensor, layers: Collection[str], tile: int) -> dict[str, torch.Tensor]:
    """The responses of ``layers`` to the whole ``image``, assembled from tiles (no gradient)."""
    tiles = tile_grid(image.shape[2], image.shape[3], tile, layers)
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for t in tiles:
            feats = encode(t.crop(image), layers)
            for layer in layers:
                stride = receptive_field(layer).stride
                part = t.owned(feats[layer], stride)
                if layer not in out:
                    f = feats[layer]
                    out[layer] = f.new_zeros(*f.shape[:2], image.shape[2] // stride, image.shape[3] // stride)
                top, left = t.top // stride, t.left // stride
                out[layer][:, :, top : top + part.shape[2], left : left + part.shape[3]] = part
    return out


def tiled_grams(encode: Encoder, image: torch.Tensor, layers: Collection[str], tile: int) -> dict[str, torch.Tensor]:
    """G_l / M_l of the whole ``image`` per layer (as :func:`~.losses.normalized_gram`), from tiles."""
    tiles = tile_grid(image.shape[2], image.shape[3], tile, layers)
    with torch.no_grad():
        grams = _gram_sums(encode, image, tiles, layers)
    return {layer: g / _positions(image, layer) for layer, g in grams.items()}


def _positions(image: torch.Tensor, layer: str) -> int:
    """M_l: positions of ``layer`` for the whole picture."""
    stride = receptive_field(layer).stride
    return (image.shape[2] // stride) * (image.shape[3] // stride)


def _gram_sums(
    encode: Encoder,
    image: torch.Tensor,
    tiles: list[Tile],
    layers: Collection[str],
    content: tuple[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Pass 1: unnormalised Gram sums G_l of the whole picture per style layer; with ``content``
    (layer, target responses of the whole picture) also ``"content"``: ½Σ(F − P)² per item."""
    wanted = set(layers) | ({content[0]} if content is not None else set())
    sums: dict[str, torch.Tensor] = {}
    for t in tiles:
        feats = encode(t.crop(image), wanted)
        for layer in layers:
            g = gram_matrix(t.owned(feats[layer], receptive_field(layer).stride))
            sums[layer] = sums[layer] + g if layer in sums else g
        if content is not None:
            part = _content_part(t, feats, *content)
            sums["content"] = sums["content"] + part if "content" in sums else part
        del feats
    return sums


def _content_part(tile: Tile, feats: Mapping[str, torch.Tensor], layer: str, target: torch.Tensor) -> torch.Tensor:
    """½Σ(F − P)² over the positions ``tile`` owns of the content layer, per item."""
    stride = receptive_field(layer).stride
    owned = tile.owned(feats[layer], stride)
    top, left = tile.top // stride, tile.left // stride
    return content_loss(owned, target[:, :, top : top + owned.shape[2], left : left + owned.shape[3]])


@dataclass(frozen=True)
class FeatureLoss:
    """The network's part of the loss of a batch: α·content + β·Σ_l w_l E_l, with its targets."""

    encode: Encoder
    content_layer: str
    content_target: torch.Tensor  # (B, C, h, w) responses of the content pictures, whole picture
    content_weight: float  # α
    grams: Mapping[str, torch.Tensor]  # A_l / M_l^style per style layer, (1 or B, N, N)
    layer_weights: Mapping[str, float]  # w_l
    style_weight: float  # β
    tile: int  # owned pixels per tile side

    def style(self, gram_sums: Mapping[str, torch.Tensor], image: torch.Tensor) -> torch.Tensor:
        """β·Σ_l w_l E_l per item, from the whole picture's Gram sums."""
        total: torch.Tensor | None = None
        for layer, weight in self.layer_weights.items():
            g = gram_sums[layer] / _positions(image, layer)
            e = weight * style_layer_loss(g, self.grams[layer], g.shape[1])
            total = e if total is None else total + e
        assert total is not None
        return self.style_weight * total


def tiled_feature_terms(image: torch.Tensor, loss: FeatureLoss) -> tuple[torch.Tensor, torch.Tensor]:
    """(α·content, β·style) per item of ``image`` (B, 3, H, W), equal to the whole picture's, with
    a gradient computed tile by tile (the two passes of this module's description)."""
    content, style = _TiledTerms.apply(image, loss)
    return content, style


class _TiledTerms(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, image: torch.Tensor, loss: FeatureLoss) -> tuple[torch.Tensor, torch.Tensor]:
        layers = [loss.content_layer, *loss.layer_weights]
        tiles = tile_grid(image.shape[2], image.shape[3], loss.tile, layers)
        sums = _gram_sums(
            loss.encode, image.detach(), tiles, list(loss.layer_weights), (loss.content_layer, loss.content_target)
        )
        content = loss.content_weight * sums.pop("content")
        style = loss.style(sums, image)
        ctx.save_for_backward(image)
        ctx.loss, ctx.tiles, ctx.sums = loss, tiles, sums
        return content, style

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_content: torch.Tensor, grad_style: torch.Tensor) -> tuple[torch.Tensor, None]:
        (image,) = ctx.saved_tensors
        loss: FeatureLoss = ctx.loss
        with torch.enable_grad():
            # ∂L/∂G_l on the small Gram matrices alone, weighted per item by the incoming gradient
            sums = {layer: g.detach().requires_grad_(True) for layer, g in ctx.sums.items()}
            weighted = (loss.style(sums, image) * grad_style).sum()
            grad_grams = dict(zip(sums, torch.autograd.grad(weighted, list(sums.values()))))
            content_scale = (grad_content * loss.content_weight).view(-1)
            grad = torch.zeros_like(image)
            layers = {loss.content_layer, *loss.layer_weights}
            for t in ctx.tiles:
                crop = t.crop(image.detach()).requires_grad_(True)
                feats = loss.encode(crop, layers)
                surrogate = (content_scale * _content_part(t, feats, loss.content_layer, loss.content_target)).sum()
                for layer, dg in grad_grams.items():
                    g = gram_matrix(t.owned(feats[layer], receptive_field(layer).stride))
                    surrogate = surrogate + (dg * g).sum()
                (part,) = torch.autograd.grad(surrogate, crop)
                del feats, surrogate
                grad[:, :, t.crop_top : t.crop_bottom, t.crop_left : t.crop_right] += part
        ctx.sums = None
        return grad, None
