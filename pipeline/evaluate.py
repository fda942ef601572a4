"""`stylevid eval`: the warping error of any stylised clip against its original."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import StylevidError

if TYPE_CHECKING:
    import numpy as np

    from .motion.warping_error import WarpingErrorResult


def evaluate_pair(
    stylised: Path, original: Path, *, flow_method: str = "dis", cuts: str | tuple[int, ...] = "auto"
) -> WarpingErrorResult:
    """Mean masked warping error over consecutive frame pairs; flows from the original frames.

    Both may be videos or frame folders; frames pair up in order and the originals are
    resized to the stylised size. Pairs across a scene cut are left out: ``cuts`` "auto"
    (detected on the originals, :mod:`.motion.cuts`), "off", or the positions that open shots.
    """
    from .config import check_cuts

    check_cuts(cuts)
    for path in (stylised, original):
        if not Path(path).exists():
            raise StylevidError(f"{path} does not exist")
    from .io.images import resize
    from .motion.cuts import CutFinder, change_score, flow_estimator, shrink
    from .motion.warping_error import WarpingErrorMeter  # torch, OpenCV and PyAV: only once the paths exist
    from .video.frames import open_source

    meter = WarpingErrorMeter(flow_method)
    finder = CutFinder() if cuts == "auto" else None
    dis = flow_estimator()
    opening = set(cuts) if isinstance(cuts, tuple) else set()
    pending: deque[tuple[int, np.ndarray, np.ndarray]] = deque()  # waiting for their pair's cut decision
    previous_small: np.ndarray | None = None
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
        pending.append((count, original_frame.picture, stylised_frame.picture))
        while pending and (finder is None or pending[0][0] <= finder.decided):
            position, original_picture, stylised_picture = pending.popleft()
            meter.update(original_picture, stylised_picture, opens_shot=position in opening)
        count += 1
    if finder is not None:
        opening.update(finder.finish())
    for position, original_picture, stylised_picture in pending:
        meter.update(original_picture, stylised_picture, opens_shot=position in opening)
    if count < 2:
        raise StylevidError("need at least two frames in both clips to measure a warping error")
    if not meter.values:
        raise StylevidError("every pair of frames straddles a cut: no warping error to measure")
    return meter.result()
