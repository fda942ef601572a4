"""The loss of one optimisation together with its targets (Gatys et al. 2016; Ruder et al. 2016).

An :class:`Objective` is made for a batch of ``items`` pictures of one size. It holds what each
term compares against — content features per item, the (blended) style Gram matrices, and for
videos the temporal targets — and, called on an image batch, returns the weighted terms per item:
``{"content": (B,), "style": (B,), ["tv"], ["temporal"], "total": (B,)}``.

Targets are set by methods, per item, and copied into buffers the objective keeps for its whole
life: a CUDA graph recorded over a call (:mod:`.cuda_graph`) replays with whatever they hold now.
The temporal target of an item is either a fixed picture (the previous frame, stylised and warped
into this one) or, with ``moving_targets``, another item of the batch *as it is being optimised*,
warped by a flow — so neighbouring frames optimised together settle on each other.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import cast

import torch

from ..motion.warp import warp
from .losses import content_loss, style_loss, temporal_loss, tv_loss
from .tiling import FeatureLoss, tiled_feature_terms, tiled_features

#: VGG responses of an image batch (RGB 0–1) at the named layers.
Encoder = Callable[[torch.Tensor, Collection[str]], dict[str, torch.Tensor]]


class Objective:
    """α·content + β·style (+ λ_tv·TV) (+ λ_t·temporal) of each of ``items`` pictures of height × width.

    ``encode`` gives the VGG responses (at the engine's precision); ``layer_weights`` are the
    style layers' w_l. A temporal term exists when ``temporal_weight`` > 0; with
    ``moving_targets`` an item's target may be another item (:meth:`follow`). The content and
    style targets must be set before the first call. With ``tile`` the network's terms and their
    gradient are computed in tiles of that many pixels a side (:mod:`.tiling`: the same values as
    the whole picture's, in bounded memory); the pixel terms (TV, temporal) stay whole.
    """

    def __init__(
        self,
        encode: Encoder,
        *,
        items: int,
        height: int,
        width: int,
        device: torch.device,
        content_layer: str,
        layer_weights: Mapping[str, float],
        content_weight: float,
        style_weight: float,
        tv_weight: float = 0.0,
        temporal_weight: float = 0.0,
        moving_targets: bool = False,
        tile: int | None = None,
    ) -> None:
        if items < 1:
            raise ValueError(f"an objective needs at least one item, got {items}")
        self.encode = encode
        self.items = items
        self.content_layer = content_layer
        self.layer_weights = dict(layer_weights)
        self.content_weight, self.style_weight = content_weight, style_weight
        self.tv_weight, self.temporal_weight = tv_weight, temporal_weight
        self.moving_targets = moving_targets and temporal_weight > 0
        self.tile = tile if tile is not None and tile < max(height, width) else None  # None: one piece
        self._layers = {content_layer, *self.layer_weights}  # every layer the loss reads
        self._content: torch.Tensor | None = None  # (items, C, h, w) content-layer responses
        self._grams: dict[str, torch.Tensor] | None = None  # G/M per style layer, shared by all items
        if temporal_weight > 0:
            self._fixed = torch.zeros(items, 3, height, width, device=device)  # fixed targets
            self._reliable = torch.zeros(items, 1, height, width, device=device)  # c: 0 = not compared
        if self.moving_targets:
            self._flows = torch.zeros(items, 2, height, width, device=device)  # backward flow to the predecessor
            self._predecessor = torch.arange(items, device=device)  # item followed (its own index if none)
            self._live = torch.zeros(items, 1, 1, 1, dtype=torch.bool, device=device)  # follows an item

    # --- targets ----------------------------------------------------------------------------------
    def set_content(self, images: torch.Tensor, items: Sequence[int] | None = None) -> None:
        """Make ``images`` (n, 3, H, W, as optimised) the content of ``items`` (default: every item)."""
        index = list(range(self.items)) if items is None else list(items)
        if images.shape[0] != len(index):
            raise ValueError(f"{images.shape[0]} content images for {len(index)} items")
        with torch.no_grad():
            if self.tile is not None:
                target = tiled_features(self.encode, images, [self.content_layer], self.tile)[self.content_layer]
            else:
                target = self.encode(images, [self.content_layer])[self.content_layer].detach()
        if self._content is None:
            if items is None:
                self._content = target
                return
            self._content = target.new_zeros(self.items, *target.shape[1:])
        for row, item in enumerate(index):
            self._content[item].copy_(target[row])

    def set_style(self, grams: Mapping[str, torch.Tensor]) -> None:
        """Make ``grams`` (G/M per style layer, blended) the style targets of every item."""
        if self._grams is None:
            self._grams = {layer: grams[layer].detach().clone() for layer in self.layer_weights}
            return
        for layer, target in self._grams.items():
            target.copy_(grams[layer])

    @property
    def has_style(self) -> bool:
        return self._grams is not None

    def set_temporal_target(self, item: int, target: torch.Tensor, reliable: torch.Tensor | None = None) -> None:
        """Pull ``item`` towards a fixed ``target`` (1, 3, H, W) where ``reliable`` (1, 1, H, W) is 1
        (default: its mask so far); it follows no other item from now on."""
        self._need_temporal()
        with torch.no_grad():
            self._fixed[item].copy_(target[0])
            if reliable is not None:
                self._reliable[item].copy_(reliable[0])
            if self.moving_targets:
                self._live[item] = False
                self._predecessor[item] = item

    def follow(self, item: int, predecessor: int, flow: torch.Tensor, reliable: torch.Tensor) -> None:
        """Pull ``item`` towards item ``predecessor`` as it is being optimised, warped by ``flow``
        (1, 2, H, W: the item's backward flow), where ``reliable`` (1, 1, H, W) is 1."""
        self._need_temporal()
        if not self.moving_targets:
            raise ValueError("this objective was made without moving_targets")
        with torch.no_grad():
            self._flows[item].copy_(flow[0])
            self._reliable[item].copy_(reliable[0])
            self._predecessor[item] = predecessor
            self._live[item] = True

    def _need_temporal(self) -> None:
        if self.temporal_weight <= 0:
            raise ValueError("this objective has no temporal term (temporal_weight 0)")

    # --- the loss -----------------------------------------------------------------------------------
    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """The weighted terms and their sum, "total", per item of ``image`` (items, 3, H, W)."""
        if self._content is None or self._grams is None:
            raise RuntimeError("set the content and style targets first")
        if self.tile is not None:
            content, style = tiled_feature_terms(image, self._feature_loss(self._content, self._grams, self.tile))
            terms = {"content": content, "style": style}
        else:
            feats = self.encode(image, self._layers)
            terms = {
                "content": self.content_weight * content_loss(feats[self.content_layer], self._content),
                "style": self.style_weight * style_loss(feats, self._grams, self.layer_weights),
            }
        if self.tv_weight > 0:
            terms["tv"] = self.tv_weight * tv_loss(image)
        if self.temporal_weight > 0:
            target = self._fixed
            if self.moving_targets:
                target = torch.where(self._live, warp(image[self._predecessor], self._flows), self._fixed)
            terms["temporal"] = self.temporal_weight * temporal_loss(image, target, self._reliable)
        terms["total"] = cast(torch.Tensor, sum(terms.values()))
        return terms

    def _feature_loss(self, content: torch.Tensor, grams: Mapping[str, torch.Tensor], tile: int) -> FeatureLoss:
        return FeatureLoss(
            self.encode,
            self.content_layer,
            content,
            self.content_weight,
            grams,
            self.layer_weights,
            self.style_weight,
            tile,
        )
