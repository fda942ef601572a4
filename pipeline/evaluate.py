"""`stylevid eval`: the warping error of any stylised clip against its original.

Measured twice when a flow folder is given: with DIS flow estimated on the original frames (what
the pipeline itself uses, so a stylisation that follows DIS's mistakes scores well), and with the
given flow (ground truth, e.g. MPI Sintel's, or any method's ``.flo`` files; see
:mod:`.motion.given_flow` for which file serves which pair). Pairs across a scene cut are left
out of both.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import StylevidError

if TYPE_CHECKING:
    import numpy as np

    from .motion.warping_error import WarpingErrorResult


@dataclass(frozen=True)
class ClipEvaluation:
    """Warping errors of a stylised clip: through estimated flow, and through the given flow."""

    estimated: WarpingErrorResult  # flow estimated on the original frames (``flow_method``, DIS by default)
    given: WarpingErrorResult | None  # flow from ``--flow-dir``; None without one


def evaluate_pair(
    stylised: Path, original: Path, *, flow_method: str = "dis", cuts: str | tuple[int, ...] = "auto"
) -> WarpingErrorResult:
    """Mean masked warping error over consecutive frame pairs; flows from the original frames.

    Both may be videos or frame folders; frames pair up in order and the originals are
    resized to the stylised size. Pairs across a scene cut are left out: ``cuts`` "auto"
    (detected on the originals, :mod:`.motion.cuts`), "off", or the positions that open shots.
    """
    return evaluate_clips(stylised, original, flow_method=flow_method, cuts=cuts).estimated


def evaluate_clips(
    stylised: Path,
    original: Path,
    *,
    flow_method: str = "dis",
    flow_dir: Path | None = None,
    cuts: str | tuple[int, ...] = "auto",
) -> ClipEvaluation:
    """:func:`evaluate_pair`, and with ``flow_dir`` also the warping error through its ``.flo`` files.

    The original's frames are numbered from 1 in order (the flow files' numbering).
    """
    from .config import check_cuts

    check_cuts(cuts)
    for path in (stylised, original):
        if not Path(path).exists():
            raise StylevidError(f"{path} does not exist")
    from .io.flow_folder import FlowFolder
    from .io.images import resize
    from .motion.cuts import CutFinder, change_score, flow_estimator, shrink
    from .motion.given_flow import pair_motion
    from .motion.warping_error import GivenFlowMeter, WarpingErrorMeter  # torch, OpenCV, PyAV: only now
    from .video.frames import open_source

    folder = FlowFolder(flow_dir) if flow_dir is not None else None
    given = GivenFlowMeter()
    meter = WarpingErrorMeter(flow_method)
    finder = CutFinder() if cuts == "auto" else None
    dis = flow_estimator()
    opening = set(cuts) if isinstance(cuts, tuple) else set()
    # frames waiting for their pair's cut decision: position, original, stylised, given motion
    pending: deque[tuple[int, np.ndarray, np.ndarray, Any]] = deque()

    def measure(position: int, original_picture: np.ndarray, stylised_picture: np.ndarray, motion: Any) -> None:
        opens = position in opening
        meter.update(original_picture, stylised_picture, opens_shot=opens)
        if folder is not None:
            given.update(stylised_picture, None if opens else motion)

    previous_small: np.ndarray | None = None
    previous_number = 0
    stylised_frames = open_source(Path(stylised)).frames()
    count = 0
    for original_frame in open_source(Path(original)).frames():
        stylised_frame = next(stylised_frames, None)
        if stylised_frame is None:
            break
        if finder is not None:
            small = shrink(resize(original_frame.picture, *stylised_frame.picture.shape[1::-1]))
            if previous_small is not None:
                opening.update(finder.add(change_score(previous_small, small, dis)))
            previous_small = small
        motion = None
        if folder is not None:
            number = original_frame.index + 1  # the flow files number frames from 1
            if count > 0:
                height, width = stylised_frame.picture.shape[:2]
                sizes = [(height, width), original_frame.picture.shape[:2]]
                folder.check([(previous_number, number)], sizes, run=False)
                motion = pair_motion(*folder.pair(previous_number, number, height, width).arrays())
            previous_number = number
        pending.append((count, original_frame.picture, stylised_frame.picture, motion))
        while pending and (finder is None or pending[0][0] <= finder.decided):
            measure(*pending.popleft())
        count += 1
    if finder is not None:
        opening.update(finder.finish())
    while pending:
        measure(*pending.popleft())
    if count < 2:
        raise StylevidError("need at least two frames in both clips to measure a warping error")
    if not meter.values:
        raise StylevidError("every pair of frames straddles a cut: no warping error to measure")
    return ClipEvaluation(meter.result(), given.result() if folder is not None else None)
