"""Precomputed flow for a run (``--flow-dir``): checked against the selected frames before any work.

Which file serves which pair, and how reliability is decided: :mod:`..motion.given_flow`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import VideoConfig
from ..errors import StylevidError
from ..io.flow_folder import FlowFolder
from ..io.folder import header_size, to_index
from ..io.images import fit_long_side
from ..motion.given_flow import pair_motion
from .frames import FolderSource, FrameSource, VideoSource


def selected_numbers(source: FrameSource) -> list[int] | None:
    """1-based source numbers of the frames a run reads (None when a video cannot tell beforehand)."""
    if isinstance(source, FolderSource):
        return [index + 1 for index in source.indices]
    if isinstance(source, VideoSource):
        count = source.expected_count()
        if count is None:
            return None
        first = to_index(source.start, source.fps, 0)
        return [first + source.every * k + 1 for k in range(count)]
    return None


def _original_size(source: FrameSource) -> tuple[int, int]:
    """(height, width) of the source's decoded frames."""
    if isinstance(source, FolderSource):
        size = header_size(source.files[0])  # upright, as the frames are decoded
        if size is None:
            raise StylevidError(f"cannot read {source.files[0]} (not a picture?)")
        return size[1], size[0]
    assert isinstance(source, VideoSource)
    return source.info.height, source.info.width  # display size: rotation applied, as frames are decoded


@dataclass(frozen=True)
class RunFlow:
    """The given flow of a run: its folder and the flow sizes the frames accept, (height, width) each."""

    folder: FlowFolder
    sizes: tuple[tuple[int, int], ...]  # processing size, original size

    def reliable_backward(
        self, previous: int, number: int, height: int, width: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(flow_bw, reliable)`` of frame ``number`` against frame ``previous`` (1-based), at height × width."""
        self.folder.check([(previous, number)], self.sizes, run=True)  # a header read; videos of unknown length
        motion = pair_motion(*self.folder.pair(previous, number, height, width).arrays())
        assert motion.flow_bw is not None and motion.reliable_bw is not None
        return motion.flow_bw, motion.reliable_bw


def open_given_flow(source: FrameSource, config: VideoConfig) -> RunFlow | None:
    """The run's given flow, with a ``backward_J_I.flo`` of processing or original size for
    every consecutive pair of selected frames (and, with ``--long-term``, every pair that many
    selected frames apart); None without ``--flow-dir``. StylevidError otherwise."""
    if config.flow_dir is None:
        return None
    folder = FlowFolder(Path(config.flow_dir))
    numbers = selected_numbers(source)
    height, width = _original_size(source)
    processing_width, processing_height = fit_long_side(width, height, config.style.size)
    sizes = ((processing_height, processing_width), (height, width))
    if numbers is not None:
        folder.check([pair for gap in config.long_term for pair in zip(numbers, numbers[gap:])], sizes, run=True)
    return RunFlow(folder, sizes)
