"""VGG19's layer names in order and their receptive fields, importable without torch (the
configuration checks them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: VGG19's convolution channels, block by block (each block ends in a pooling layer).
BLOCK_CHANNELS = ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512), (512, 512, 512, 512))


def _layer_names() -> tuple[str, ...]:
    names = []
    for block, convs in enumerate(BLOCK_CHANNELS, start=1):
        for index in range(1, len(convs) + 1):
            names += [f"conv{block}_{index}", f"relu{block}_{index}"]
        names.append(f"pool{block}")
    return tuple(names)


#: Every layer name in order; the position in this tuple is the torchvision ``features`` index.
LAYER_NAMES = _layer_names()


@dataclass(frozen=True)
class ReceptiveField:
    """Which input pixels one position of a layer's output depends on.

    Position p of the layer sees input pixels p·stride − before … p·stride + after (inclusive),
    counting the zero padding of every convolution on the way; ``stride`` is 2^(pools before it).
    """

    stride: int  # input pixels between two neighbouring positions of the layer
    before: int  # reach towards smaller coordinates, in input pixels
    after: int  # reach towards larger coordinates, in input pixels


def receptive_field(layer: str) -> ReceptiveField:
    """The receptive field of ``layer`` of VGG19 (3×3 convolutions with padding 1, 2×2 pools of stride 2).

    A 3×3 convolution widens the reach by one position of its input on each side; a 2×2 pool of
    stride 2 reads positions 2p and 2p+1, so it reaches one more input position after and doubles
    the stride. relu5_1: stride 16, 70 pixels before, 85 after.
    """
    if layer not in LAYER_NAMES:
        raise ValueError(f"unknown VGG layer {layer!r}")
    stride, before, after = 1, 0, 0
    for name in LAYER_NAMES[: LAYER_NAMES.index(layer) + 1]:
        if name.startswith("conv"):
            before, after = before + stride, after + stride
        elif name.startswith("pool"):
            after += stride
            stride *= 2
    return ReceptiveField(stride, before, after)


def pooling_grid(layers: Iterable[str]) -> int:
    """The input pixels between pooling-grid lines of the deepest of ``layers`` (its stride): a crop
    of the picture that starts on a multiple of this gives those layers' responses on the same grid."""
    return max(receptive_field(name).stride for name in layers)


def tile_halo(layers: Iterable[str]) -> tuple[int, int, int]:
    """(before, after, grid): input pixels a tile must see before and after the pixels it owns so
    that ``layers`` are exact at its owned positions, and the pooling grid its crop starts on.

    A tile owning pixels y0 … y1 − 1 (both on the grid) owns positions p = y0/s … y1/s − 1 of a
    layer of stride s, which reach pixels p·s − before_l … p·s + after_l: so y0 − before_l, rounded
    down to the grid (the crop must start on it), and y1 − s + after_l. relu5_1: 80 and 70.
    """
    layers = list(layers)
    grid = pooling_grid(layers)
    fields = [receptive_field(name) for name in layers]
    before = max(f.before for f in fields)
    return -(-before // grid) * grid, max(f.after - f.stride + 1 for f in fields), grid
