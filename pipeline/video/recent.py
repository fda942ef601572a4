"""The last few stylised frames of a run, which ``--long-term`` holds later frames to.

A small ring buffer keyed by frame position, as deep as the longest gap. A resumed run fills it
again from the work folder (:meth:`RecentStylised.reload`): the frames there are the same pixels
(lossless PNG), so it continues exactly as an uninterrupted run would.
"""

from __future__ import annotations

import numpy as np

from .workdir import WorkFolder


class RecentStylised:
    """Stylised frames (H×W×3 uint8) of the last ``depth`` positions."""

    def __init__(self, depth: int) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.depth = depth
        self._pictures: dict[int, np.ndarray] = {}

    def add(self, position: int, picture: np.ndarray) -> None:
        """Keep ``picture`` as frame ``position``'s; forget frames ``depth`` or more positions before it."""
        self._pictures[position] = picture
        for old in [p for p in self._pictures if p <= position - self.depth]:
            del self._pictures[old]

    def get(self, position: int) -> np.ndarray:
        """The stylised frame at ``position``; KeyError when it is not kept."""
        return self._pictures[position]

    def __contains__(self, position: int) -> bool:
        return position in self._pictures

    def reload(self, work: WorkFolder, resume_at: int) -> None:
        """Fill in the frames before ``resume_at`` from ``work`` (as far back as ``depth`` reaches)."""
        for position in range(max(0, resume_at - self.depth), resume_at):
            self.add(position, work.load_frame(position)[0])
