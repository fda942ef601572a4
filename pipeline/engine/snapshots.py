"""Which iterations a run keeps as snapshots (the frames of its progress GIF), at what size, and
what they hold.

A snapshot only feeds the progress GIF, so it is kept as the GIF shows it: an 8-bit RGB picture
(3 bytes a pixel) in host memory, its long side at most :data:`SNAPSHOT_LONG_SIDE` — not the
optimiser's fp32 image at full size. At 4096×3072 that is 2.4 MB a snapshot instead of 151 MB;
a coarse-to-fine run keeps about 35 (engine/pyramid.py). :func:`snapshot_bytes` is what the
memory estimate (pipeline/budget.py) counts for them.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

#: Snapshots (and so the progress GIF) have a long side of at most this many pixels; smaller runs
#: keep their own size. A GIF frame this big is already a large file (tens of MB for ~35 frames).
SNAPSHOT_LONG_SIDE = 1024
#: A snapshot is an H×W×3 uint8 picture.
SNAPSHOT_BYTES_PER_PIXEL = 3


def snapshot_iterations(total: int) -> list[int]:
    """Paper-style log-spaced iterations 1, 2, 5, 10, 20, 50, ... up to ``total``, plus ``total``."""
    if isinstance(total, bool) or not isinstance(total, (int, np.integer)) or total < 1:
        raise ValueError(f"total must be an integer >= 1, got {total!r}")
    total = int(total)
    out: set[int] = {total}
    decade = 1
    while decade <= total:
        out.update(m * decade for m in (1, 2, 5) if m * decade <= total)
        decade *= 10
    return sorted(out)


def snapshot_size(height: int, width: int) -> tuple[int, int]:
    """(height, width) of the snapshots of a height × width picture: the long side at most
    :data:`SNAPSHOT_LONG_SIDE` (never enlarged), rounded as ``--size`` resizes a picture."""
    long_side = max(height, width)
    if long_side <= SNAPSHOT_LONG_SIDE:
        return height, width
    scale = SNAPSHOT_LONG_SIDE / long_side
    return max(1, round(height * scale)), max(1, round(width * scale))


def snapshot_bytes(height: int, width: int, stage_iters: Iterable[int]) -> int:
    """What the snapshots of a run at height × width hold at most: per stage (its iteration
    budget in ``stage_iters``; one for a run of one scale) its start and :func:`snapshot_iterations`,
    each at the final picture's :func:`snapshot_size` (no stage's snapshots are larger)."""
    count = sum(1 + len(snapshot_iterations(iters)) for iters in stage_iters)
    small_height, small_width = snapshot_size(height, width)
    return count * SNAPSHOT_BYTES_PER_PIXEL * small_height * small_width
