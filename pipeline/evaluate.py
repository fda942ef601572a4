"""`stylevid eval`: the warping error of any stylised clip against its original.

Measured twice when a flow folder is given: with DIS flow estimated on the original frames (what
the pipeline itself uses, so a stylisation that follows DIS's mistakes scores well), and with the
given flow (ground truth, e.g. MPI Sintel's, or any method's ``.flo`` files; see
:mod:`.motion.given_flow` for which file serves which pair).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import StylevidError

if TYPE_CHECKING:
    from .motion.warping_error import WarpingErrorResult


@dataclass(frozen=True)
class ClipEvaluation:
    """Warping errors of a stylised clip: through estimated flow, and through the given flow."""

    estimated: WarpingErrorResult  # flow estimated on the original frames (``flow_method``, DIS by default)
    given: WarpingErrorResult | None  # flow from ``--flow-dir``; None without one


def evaluate_pair(stylised: Path, original: Path, *, flow_method: str = "dis") -> WarpingErrorResult:
    """Mean masked warping error over consecutive frame pairs; flows from the original frames.

    Both may be videos or frame folders; frames pair up in order and the originals are
    resized to the stylised size.
    """
    return evaluate_clips(stylised, original, flow_method=flow_method).estimated


def evaluate_clips(
    stylised: Path, original: Path, *, flow_method: str = "dis", flow_dir: Path | None = None
) -> ClipEvaluation:
    """:func:`evaluate_pair`, and with ``flow_dir`` also the warping error through its ``.flo`` files.

    The original's frames are numbered from 1 in order (the flow files' numbering).
    """
    for path in (stylised, original):
        if not Path(path).exists():
            raise StylevidError(f"{path} does not exist")
    from .io.flow_folder import FlowFolder
    from .motion.given_flow import pair_motion
    from .motion.warping_error import GivenFlowMeter, WarpingErrorMeter  # torch, OpenCV, PyAV: only now
    from .video.frames import open_source

    folder = FlowFolder(flow_dir) if flow_dir is not None else None
    given = GivenFlowMeter()
    meter = WarpingErrorMeter(flow_method)
    previous_number = 0
    stylised_frames = open_source(Path(stylised)).frames()
    count = 0
    for original_frame in open_source(Path(original)).frames():
        stylised_frame = next(stylised_frames, None)
        if stylised_frame is None:
            break
        meter.update(original_frame.picture, stylised_frame.picture)
        if folder is not None:
            number, motion = original_frame.index + 1, None  # the flow files number frames from 1
            if count > 0:
                height, width = stylised_frame.picture.shape[:2]
                sizes = [(height, width), original_frame.picture.shape[:2]]
                folder.check([(previous_number, number)], sizes, run=False)
                motion = pair_motion(*folder.pair(previous_number, number, height, width).arrays())
            given.update(stylised_frame.picture, motion)
            previous_number = number
        count += 1
    if count < 2:
        raise StylevidError("need at least two frames in both clips to measure a warping error")
    return ClipEvaluation(meter.result(), given.result() if folder is not None else None)
