"""A folder of Middlebury ``.flo`` files (ground truth, or any method's flow): which file serves which pair.

Flows are numpy ``(H, W, 2)`` float32 as in :mod:`stylevid.pipeline.motion`. Frames are numbered from **1**
in their source's order (a frame folder's first file, sorted naturally, or a video's first
frame, before ``--start``/``--every``), as MPI Sintel and artistic-videos number them. Which file
serves which pair of frames ``I`` (earlier) and ``J`` (later) is said by its name:

=======================  =========================================  ===========================
file                     flow                                        direction, in our terms
=======================  =========================================  ===========================
``backward_J_I.flo``     frame J → frame I (artistic-videos' name)   ``flow_bw`` of frame J
``forward_I_J.flo``      frame I → frame J (artistic-videos' name)   ``flow_fw`` of frame I
``frame_NNNN.flo``       frame N → frame N+1 (MPI Sintel's name)     ``flow_fw`` of frame N
=======================  =========================================  ===========================

"Flow from A to B" is ``F`` with ``A(x) ≈ B(x + F(x))`` (pixel ``x`` of A shows what ``x + F(x)``
of B shows), as :func:`~stylevid.pipeline.motion.flow.compute_flow` returns it. So Sintel's
``frame_0001.flo`` lives on frame 1's grid and points into frame 2.

Masks (white = not to be trusted) for the file ``NAME.flo`` are looked up as
``occlusions/NAME.png`` and ``invalid/NAME.png`` inside the folder, or as Sintel ships them,
``<root>/occlusions/<scene>/NAME.png`` and ``<root>/invalid/<scene>/NAME.png`` beside
``<root>/flow/<scene>/``. Each mask lives on the same grid as its flow.

What the masks make of the flow (reliability) is :mod:`..motion.given_flow`'s business.

Flows (and masks) may be at the frames' processing size or their original size; original-size
ones are resized to the processing size and their vectors scaled by the same factors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import StylevidError
from .flo import read_flo, read_flo_size, read_mask_png

__all__ = ["FlowFolder", "GivenPair"]

_BACKWARD = re.compile(r"^backward_(\d+)_(\d+)\.flo$")
_FORWARD = re.compile(r"^forward_(\d+)_(\d+)\.flo$")
_SINTEL = re.compile(r"^frame_(\d+)\.flo$")


@dataclass(frozen=True)
class GivenPair:
    """The files' flows between frames ``I`` and ``J`` at the asked size, numpy, None where not given.

    ``flow_bw`` (frame J's grid) and ``flow_fw`` (frame I's) are ``(h, w, 2)`` float32;
    ``masked_*`` are ``(h, w)`` bool, True where a mask (occlusions, invalid, unknown flow) rules the
    pixel out, None when the flow came without an occlusion mask.
    """

    flow_bw: np.ndarray | None
    masked_bw: np.ndarray | None
    flow_fw: np.ndarray | None
    masked_fw: np.ndarray | None

    def arrays(self) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """``(flow_bw, masked_bw, flow_fw, masked_fw)``, as :func:`..motion.given_flow.pair_motion` takes them."""
        return self.flow_bw, self.masked_bw, self.flow_fw, self.masked_fw


def _resize_flow(flow: np.ndarray, height: int, width: int) -> np.ndarray:
    h, w = flow.shape[:2]
    if (h, w) == (height, width):
        return flow
    shrink = height * width < h * w
    resized = cv2.resize(flow, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    resized[..., 0] *= width / w
    resized[..., 1] *= height / h
    return resized


def _resize_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """A bool mask at another size; a pixel is marked where any part of its footprint was."""
    if mask.shape == (height, width):
        return mask
    shrink = height * width < mask.shape[0] * mask.shape[1]
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(mask.astype(np.float32), (width, height), interpolation=interpolation) > 1e-6


class FlowFolder:
    """The ``.flo`` files of one folder, indexed by the frame pairs they serve (see module doc).

    Raises StylevidError when ``path`` is not a folder or holds no flow file named as above.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise StylevidError(f"--flow-dir {self.path} is not a folder")
        self.backward: dict[tuple[int, int], Path] = {}  # (I, J) → backward_J_I.flo
        self.forward: dict[tuple[int, int], Path] = {}  # (I, J) → forward_I_J.flo or Sintel's frame_I.flo
        for file in self.path.iterdir():
            if m := _BACKWARD.match(file.name):
                self.backward[(int(m[2]), int(m[1]))] = file
            elif m := _FORWARD.match(file.name):
                self.forward[(int(m[1]), int(m[2]))] = file
            elif m := _SINTEL.match(file.name):
                self.forward[(int(m[1]), int(m[1]) + 1)] = file
        if not self.backward and not self.forward:
            raise StylevidError(
                f"--flow-dir {self.path} holds no flow files named backward_J_I.flo, forward_I_J.flo "
                "or frame_NNNN.flo (Sintel)"
            )

    def check(self, pairs: Sequence[tuple[int, int]], sizes: Sequence[tuple[int, int]], *, run: bool) -> None:
        """Every pair ``(I, J)`` has its flow, of one of ``sizes`` ((height, width) each).

        ``run``: a stylisation run needs backward flows; an evaluation takes either direction.
        """
        for first, second in pairs:
            if run:
                path = self.backward.get((first, second))
                if path is None:
                    also = " (it holds forward flows only, which `stylevid eval` can use)" if not self.backward else ""
                    raise StylevidError(
                        f"--flow-dir {self.path} has no backward_{second}_{first}.flo for frames {first} and "
                        f"{second} (numbered from 1 in the source){also}"
                    )
            else:
                path = self.backward.get((first, second)) or self.forward.get((first, second))
                if path is None:
                    raise StylevidError(
                        f"--flow-dir {self.path} has no flow for frames {first} and {second} (numbered from 1): "
                        f"backward_{second}_{first}.flo, forward_{first}_{second}.flo or frame_{first:04d}.flo"
                    )
            size = read_flo_size(path)
            if size not in sizes:
                wanted = " or ".join(f"{w}×{h}" for h, w in dict.fromkeys(sizes))
                raise StylevidError(f"{path} is a {size[1]}×{size[0]} flow; the frames need {wanted}")

    def _masks(self, flo: Path) -> tuple[Path | None, Path | None]:
        name = flo.with_suffix(".png").name
        found: list[Path | None] = []
        for kind in ("occlusions", "invalid"):
            candidates = [self.path / kind / name, self.path.parent.parent / kind / self.path.name / name]
            found.append(next((c for c in candidates if c.is_file()), None))
        return found[0], found[1]

    def _load(self, flo: Path | None, height: int, width: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(flow, unreliable-by-masks or None when no occlusion mask) at (height, width)."""
        if flo is None:
            return None, None
        raw = read_flo(flo)
        flow = _resize_flow(raw, height, width)
        occluded_path, invalid_path = self._masks(flo)
        masked: np.ndarray | None = None
        if occluded_path is not None:
            masked = _resize_mask(read_mask_png(occluded_path), height, width)
        if invalid_path is not None:
            invalid = _resize_mask(read_mask_png(invalid_path), height, width)
            masked = invalid if masked is None else masked | invalid
        unknown = ~np.isfinite(flow).all(axis=2) | (np.abs(flow) > 1e9).any(axis=2)  # Middlebury's "unknown"
        if unknown.any():
            flow = np.where(unknown[..., None], 0.0, flow).astype(np.float32)
            masked = unknown if masked is None else masked | unknown
        return flow, masked

    def pair(self, first: int, second: int, height: int, width: int) -> GivenPair:
        """The given flows between frames ``first`` (I) and ``second`` (J), at ``height`` × ``width``."""
        bw_path, fw_path = self.backward.get((first, second)), self.forward.get((first, second))
        if bw_path is None and fw_path is None:
            raise StylevidError(f"--flow-dir {self.path} has no flow for frames {first} and {second}")
        return GivenPair(*self._load(bw_path, height, width), *self._load(fw_path, height, width))
