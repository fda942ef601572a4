"""`stylevid eval`: the warping error of any stylised clip against its original."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .errors import StylevidError

if TYPE_CHECKING:
    from .motion.warping_error import WarpingErrorResult


def evaluate_pair(stylised: Path, original: Path, *, flow_method: str = "dis") -> WarpingErrorResult:
    """Mean masked warping error over consecutive frame pairs; flows from the original frames.

    Both may be videos or frame folders; frames pair up in order and the originals are
    resized to the stylised size.
    """
    for path in (stylised, original):
        if not Path(path).exists():
            raise StylevidError(f"{path} does not exist")
    from .motion.warping_error import WarpingErrorMeter  # torch, OpenCV and PyAV: only once the paths exist
    from .video.frames import open_source

    meter = WarpingErrorMeter(flow_method)
    stylised_frames = open_source(Path(stylised)).frames()
    count = 0
    for original_frame in open_source(Path(original)).frames():
        stylised_frame = next(stylised_frames, None)
        if stylised_frame is None:
            break
        meter.update(original_frame.picture, stylised_frame.picture)
        count += 1
    if count < 2:
        raise StylevidError("need at least two frames in both clips to measure a warping error")
    return meter.result()
