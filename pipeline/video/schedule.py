"""Which frames of a video are optimised together (``--batch-frames``).

Frame 1 gets the full budget on its own, and so does the frame whose optimisation the progress
GIF shows. With ``--batch-frames K`` > 1 the other frames go through a rolling batch
(:mod:`.rolling`) in *segments* of ``segment_frames(K)`` consecutive frames, counted from fixed
anchors: at the end of a segment the batch empties, so a run killed in the middle of one redoes
that segment from its start and ends exactly as an uninterrupted run.

A scene cut (``--cuts``) is an anchor too: the frame that opens a shot is optimised on its own,
as frame 1 is, and the segments of its shot count from the frame after it, so no segment spans
a cut.
"""

from __future__ import annotations

#: Segment length in batches: a longer segment wastes less of the batch while it fills and
#: empties ((K − 1) stages of a partly empty batch per segment: 8·K frames → ≈ 90% full at K = 8)
#: and redoes more frames after a kill (at most one segment).
SEGMENT_BATCHES = 8


def segment_frames(batch_frames: int) -> int:
    """Frames per segment of the rolling batch."""
    return SEGMENT_BATCHES * batch_frames


def starts_segment(position: int, length: int, gif_frame: int = 0, shot_start: int = 0) -> bool:
    """True when frame ``position`` (0-based) is the first of its segment of (at most) ``length`` frames.

    ``shot_start``: the first frame of the shot ``position`` belongs to.
    """
    if length < 1:
        raise ValueError(f"segment length must be 1 or more, got {length}")
    if position < 0:
        raise ValueError(f"position must be 0 or more, got {position}")
    if not 0 <= shot_start <= position:
        raise ValueError(f"shot start must be from 0 to the position ({position}), got {shot_start}")
    if position in (0, 1, gif_frame, gif_frame + 1, shot_start, shot_start + 1):
        return True
    anchor = max(1, shot_start + 1, gif_frame + 1 if position > gif_frame else 1)
    return (position - anchor) % length == 0
