"""Long-term consistency (Ruder, Dosovitskiy & Brox 2016, sec. 3.2): pure tensor maths, no I/O.

Frame ``i`` is held to several earlier stylised frames ``x^(i−j)``, ``j ∈ J`` (e.g. ``J = {1, 2, 4}``),
each warped onto frame ``i`` by the flow between the *original* frames ``i`` and ``i − j``:

.. math::

    L_{long}(x^{(i)}) = \\sum_{j \\in J} \\frac{1}{D} \\sum_k c^{(i,i-j)}_{long,k}
                        \\big(x^{(i)}_k - \\omega_{i-j}^{i}(x^{(i-j)})_k\\big)^2

with weights taken **closest first**:

.. math::

    c^{(i,i-j)}_{long} = \\max\\Big(c^{(i,i-j)} - \\sum_{l \\in J,\\, l < j} c^{(i,i-l)},\\; 0\\Big)

where ``c^(i,i−j)`` is the reliability mask of that flow (:mod:`.occlusion`, or the given masks of
:mod:`.given_flow`). A pixel is held to the nearest earlier frame in which it was visible, so a
region hidden in frame ``i − 1`` but seen in ``i − 4`` comes back as it was there.

With masks in ``{0, 1}`` the weights are disjoint (each pixel has at most one ``j`` with weight 1),
so the sum of the terms is one temporal term (:func:`~..engine.losses.temporal_loss`) against a
single target: per pixel, the warped frame whose weight is 1, with the sum of the weights as its
mask (:func:`combined_target`). For fractional weights the gradient is still exactly the sum's
(the target is the weighted mean); only the loss value then differs by a constant.

Conventions (flows, masks, images): see :mod:`stylevid.pipeline.motion`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["combined_target", "long_term_weights"]


def long_term_weights(reliable: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """``c_long`` of each gap, closest first: ``max(c_j − Σ_{closer l} c_l, 0)``.

    ``reliable`` holds the masks ``c^(i,i−j)`` ``(B, 1, H, W)`` in the order of increasing ``j``
    (the first is the frame before). Returns one weight tensor per mask, same shapes and dtypes.
    """
    if not reliable:
        raise ValueError("long-term weights need at least one mask")
    shape = reliable[0].shape
    for mask in reliable:
        if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape != shape:
            raise ValueError(f"masks must all be (B, 1, H, W) of one shape, got {[tuple(m.shape) for m in reliable]}")
    weights = []
    closer = torch.zeros_like(reliable[0])
    for mask in reliable:
        weights.append(torch.clamp(mask - closer, min=0.0))
        closer = closer + mask
    return weights


def combined_target(
    warped: Sequence[torch.Tensor], weights: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(target, mask)``: the one temporal term equal to the sum of the weighted terms (module doc).

    ``warped`` are the earlier stylised frames warped onto this one ``(B, C, H, W)``, ``weights``
    their ``c_long`` ``(B, 1, H, W)``, in the same order. ``mask = Σ c_long``; ``target`` is the
    weighted mean of the warped frames where ``mask > 0``, and the first (the frame before) elsewhere.
    """
    if len(warped) != len(weights) or not warped:
        raise ValueError(f"{len(warped)} warped frames for {len(weights)} weights")
    mask = torch.stack(list(weights)).sum(dim=0)
    weighted = torch.stack([w * picture for w, picture in zip(weights, warped, strict=True)]).sum(dim=0)
    covered = mask > 0
    target = torch.where(covered, weighted / torch.where(covered, mask, torch.ones_like(mask)), warped[0])
    return target, mask
