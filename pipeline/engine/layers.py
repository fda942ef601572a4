"""VGG19's layer names in order, importable without torch (the configuration checks them)."""

from __future__ import annotations

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
