"""How much device memory one optimisation needs, and the settings that fit a budget.

A model, not a measurement: :func:`run_bytes` counts the large tensors of one run of
:class:`~.optimize.Optimisation` over a batch of pictures; :func:`weight_bytes` and
:func:`style_pass_bytes` the network's weights and the one pass of each style picture that makes
the style targets. It serves the advice given when a GPU runs out of memory
(``StyleTransfer.out_of_memory``) and the whole-run estimate checked before any work
(:mod:`stylevid.pipeline.budget`); pure arithmetic, no torch.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from .layers import BLOCK_CHANNELS, LAYER_NAMES, tile_halo

FP32_BYTES = 4
INDEX_BYTES = 8  # max pooling's indices (int64), kept for the backward pass
SIZE_STEP = 16  # --size advice comes in multiples of this
SMALLEST_SIZE = 64  # no advice below this long side


@dataclass(frozen=True)
class RunShape:
    """What decides an optimisation's memory, apart from the picture's size."""

    layers: Collection[str]  # every VGG layer the loss reads (content and style)
    style_layers: Collection[str]
    content_layer: str
    element_bytes: int = FP32_BYTES  # the network's activations: 4 (fp32) or 2 (bf16, fp16)
    items: int = 1  # pictures optimised together
    method: str = "lbfgs"  # "lbfgs" or "adam"
    history: int = 100  # L-BFGS curvature pairs (m)
    history_bytes: int = FP32_BYTES  # bytes per stored element of the pairs: 4 (fp32) or 2 (bf16, fp16)
    temporal: bool = False  # a temporal term (its targets, masks and flows per item)
    graphs: bool = False  # a CUDA graph's pool (about one evaluation's activations)
    pooling: str = "max"  # "max" keeps its indices for the backward pass; "avg" keeps none
    tile: int | None = None  # exact tiling (engine/tiling.py): the network sees one tile plus its halo at a time


def network_view(height: int, width: int, shape: RunShape) -> tuple[int, int]:
    """The largest picture the network sees at once: the whole one, or one tile with its halo."""
    if shape.tile is None:
        return height, width
    return tile_view(height, width, shape.tile, shape.layers)


def tile_view(height: int, width: int, tile: int, layers: Collection[str]) -> tuple[int, int]:
    """The crop one ``tile`` is optimised through: the tile and its halo, within the picture."""
    before, after, _ = tile_halo(layers)
    reach = tile + before + after
    return min(height, reach), min(width, reach)


def _channels(layer: str) -> int:
    return BLOCK_CHANNELS[int(layer[4]) - 1][0]  # conv4_2, relu4_2, pool4 → block 4


def layer_sizes(height: int, width: int, layers: Iterable[str]) -> dict[str, int]:
    """Elements of every VGG layer's output for one picture, up to the deepest of ``layers``."""
    deepest = max(LAYER_NAMES.index(name) for name in layers)
    sizes: dict[str, int] = {}
    h, w = height, width
    for name in LAYER_NAMES[: deepest + 1]:
        if name.startswith("pool"):
            h, w = h // 2, w // 2
        sizes[name] = _channels(name) * h * w
    return sizes


def activation_bytes(height: int, width: int, shape: RunShape) -> int:
    """One forward and backward pass over ``shape.items`` pictures: what autograd keeps for the
    backward pass — every ReLU's and pooling layer's output (a convolution keeps its input and a
    ReLU its output, so a convolution's own output lives only until its ReLU has run, unless the
    loss reads it) and max pooling's int64 indices — one convolution's output in flight, the fp32
    copies of the style layers that the Grams are made from (when the network runs in a narrower
    type), the Grams, and the two largest gradients alive at once."""
    sizes = layer_sizes(height, width, shape.layers)
    kept = sum(n for name, n in sizes.items() if not name.startswith("conv") or name in shape.layers)
    in_flight = max(sizes.values())
    activations = (kept + in_flight) * shape.element_bytes
    if shape.pooling == "max":
        activations += sum(n for name, n in sizes.items() if name.startswith("pool")) * INDEX_BYTES
    if shape.element_bytes < FP32_BYTES:
        activations += sum(sizes[name] for name in shape.style_layers) * FP32_BYTES
    grams = sum(_channels(name) ** 2 for name in shape.style_layers) * FP32_BYTES
    gradients = 2 * max(sizes.values()) * FP32_BYTES
    return shape.items * (activations + grams + gradients)


#: HISTORY_BYTES[--history-dtype]: bytes per stored element of the L-BFGS pairs
HISTORY_BYTES = {"fp32": FP32_BYTES, "bf16": 2, "fp16": 2}


def history_bytes(height: int, width: int, shape: RunShape) -> int:
    """The L-BFGS pairs alone: 2·m image-sized buffers per item of ``shape.history_bytes`` each."""
    if shape.method != "lbfgs":
        return 0
    return 2 * shape.history * 3 * height * width * shape.items * shape.history_bytes


def optimiser_bytes(height: int, width: int, shape: RunShape) -> int:
    """The image, its gradient and the optimiser's state: L-BFGS keeps 2·m image-sized buffers per
    item (:func:`history_bytes`) and the newest pair in fp32, and needs about 6 more fp32 buffers for
    a moment during a step — 3 more with a narrow history: the pair as stored, the slot's old pair and
    a block of the ring upcast (engine/lbfgs.py); Adam 2 + 2."""
    pixels = 3 * height * width * shape.items
    if shape.method != "lbfgs":
        return (2 + 4) * pixels * FP32_BYTES
    narrow = 3 if shape.history_bytes < FP32_BYTES else 0
    return (2 + 2 + 6 + narrow) * pixels * FP32_BYTES + history_bytes(height, width, shape)


def target_bytes(height: int, width: int, shape: RunShape) -> int:
    """Content features per item, the style Grams, and per item the temporal target, mask and flow."""
    sizes = layer_sizes(height, width, shape.layers)
    content = sizes[shape.content_layer] * shape.element_bytes * shape.items
    grams = sum(_channels(name) ** 2 for name in shape.style_layers) * FP32_BYTES
    temporal = (3 + 1 + 2) * height * width * shape.items * FP32_BYTES if shape.temporal else 0
    return content + grams + temporal


def run_bytes(height: int, width: int, shape: RunShape) -> int:
    """The estimated device memory of one optimisation of ``shape.items`` pictures of height × width
    (with tiling, the network's share is that of one tile and its halo)."""
    activations = activation_bytes(*network_view(height, width, shape), shape)
    graph_pool = activations if shape.graphs else 0
    return activations + graph_pool + optimiser_bytes(height, width, shape) + target_bytes(height, width, shape)


def conv_params(layers: Iterable[str]) -> int:
    """Weights and biases of VGG19's convolutions up to the deepest of ``layers`` (3×3 kernels)."""
    deepest = max(LAYER_NAMES.index(name) for name in layers)
    params, inputs = 0, 3
    for name in LAYER_NAMES[: deepest + 1]:
        if name.startswith("conv"):
            outputs = _channels(name)
            params += inputs * outputs * 9 + outputs
            inputs = outputs
    return params


def weight_bytes(layers: Iterable[str]) -> int:
    """The network's fp32 weights, kept up to the deepest layer the loss reads."""
    return conv_params(layers) * FP32_BYTES


def style_pass_bytes(height: int, width: int, shape: RunShape) -> int:
    """One style picture of height × width through the network without gradients: its style
    layers' outputs (kept until their Grams are made), the two largest outputs alive at once
    (a layer's input and output), and the Grams."""
    sizes = layer_sizes(*network_view(height, width, shape), shape.style_layers)
    kept = sum(sizes[name] for name in shape.style_layers) * shape.element_bytes
    moving = 2 * max(sizes.values()) * shape.element_bytes
    grams = sum(_channels(name) ** 2 for name in shape.style_layers) * FP32_BYTES
    return kept + moving + grams


def scaled(height: int, width: int, long_side: int) -> tuple[int, int]:
    """height × width with the long side made ``long_side`` (as --size resizes a picture)."""
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def largest_fitting(estimate: Callable[[int], int], budget: int, candidates: Iterable[int]) -> int | None:
    """The largest of ``candidates`` whose ``estimate`` (bytes) is within ``budget``; None if none is."""
    fitting = [value for value in candidates if estimate(value) <= budget]
    return max(fitting) if fitting else None


def largest_fitting_sorted(estimate: Callable[[int], int], budget: int, candidates: Sequence[int]) -> int | None:
    """:func:`largest_fitting` by bisection, for ascending ``candidates`` whose ``estimate`` never
    falls as they grow (a picture's size): about log2(n) estimates instead of n."""
    low, high = 0, len(candidates)  # candidates[:low] fit, candidates[high:] do not
    while low < high:
        middle = (low + high) // 2
        if estimate(candidates[middle]) <= budget:
            low = middle + 1
        else:
            high = middle
    return candidates[low - 1] if low > 0 else None


def size_candidates(long_side: int) -> range:
    """--size values to suggest for a picture whose long side is ``long_side``: multiples of 16 below it."""
    top = (long_side - 1) // SIZE_STEP * SIZE_STEP
    return range(SMALLEST_SIZE, top + 1, SIZE_STEP)
