"""Writing a clip of known motion (:mod:`..motion.synthetic`) to disk: frames and exact ``.flo`` files.

``save_true_motion_clip(clip, frames_dir, flow_dir)`` writes ``frame_0001.png`` … (numbered from 1,
as :mod:`..motion.given_flow` reads them) and, per pair of frames ``I = J - k`` for each gap ``k``:

* ``backward_J_I.flo`` (the backward flow of frame J) with ``occlusions/backward_J_I.png``;
* ``forward_I_J.flo`` (the forward flow of frame I) with ``occlusions/forward_I_J.png``;

the masks white where the flow is not valid (occluded, out of frame or beside a layer edge). The
folder then serves ``--flow-dir`` for a run and for ``stylevid eval``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .flo import write_flo, write_mask_png
from .images import save_image

if TYPE_CHECKING:
    from ..motion.synthetic import TrueMotionClip


def save_true_motion_clip(
    clip: TrueMotionClip, frames_dir: Path, flow_dir: Path, *, gaps: Sequence[int] = (1,), forward: bool = True
) -> None:
    """Write ``clip``'s frames into ``frames_dir`` and its exact flows into ``flow_dir`` (see module doc)."""
    frames_dir, flow_dir = Path(frames_dir), Path(flow_dir)
    frames_dir.mkdir(parents=True, exist_ok=True)
    (flow_dir / "occlusions").mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(clip.frames):
        save_image(frames_dir / f"frame_{t + 1:04d}.png", frame)
    for k in gaps:
        for t in range(k, len(clip)):
            j, i = t + 1, t + 1 - k
            flow, valid = clip.backward(t, k)
            write_flo(flow_dir / f"backward_{j}_{i}.flo", flow)
            write_mask_png(flow_dir / "occlusions" / f"backward_{j}_{i}.png", ~valid)
            if forward:
                flow, valid = clip.forward(t, k)
                write_flo(flow_dir / f"forward_{i}_{j}.flo", flow)
                write_mask_png(flow_dir / "occlusions" / f"forward_{i}_{j}.png", ~valid)
