"""Which iterations a run keeps as snapshots (the frames of its progress GIF)."""

from __future__ import annotations

import numpy as np


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
