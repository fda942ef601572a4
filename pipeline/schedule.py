"""Which frames of a video are optimised together (``--batch-frames``).

Frame 1 gets the full budget on its own, and so does the frame whose optimisation the progress
GIF shows; the other frames go in runs of ``batch_frames`` consecutive frames, counted from fixed
anchors so that a resumed run groups them exactly as an uninterrupted one.
"""

from __future__ import annotations


def starts_batch(position: int, batch_frames: int, gif_frame: int = 0) -> bool:
    """True when frame ``position`` (0-based) is the first of its batch."""
    if batch_frames < 1:
        raise ValueError(f"batch_frames must be 1 or more, got {batch_frames}")
    if position < 0:
        raise ValueError(f"position must be 0 or more, got {position}")
    if position in (0, 1, gif_frame, gif_frame + 1):
        return True
    anchor = 1 if position < gif_frame else gif_frame + 1
    return (position - anchor) % batch_frames == 0

