"""The settings objects refuse what they cannot run, before any work."""

from __future__ import annotations

import pytest

from stylevid.pipeline.config import StyleConfig, VideoConfig
from stylevid.pipeline.errors import StylevidError


def test_batch_frames_is_checked(tmp_path):
    with pytest.raises(StylevidError, match="--batch-frames"):
        VideoConfig(batch_frames=0)
    with pytest.raises(StylevidError, match="--batch-frames needs --optimizer lbfgs"):
        VideoConfig(style=StyleConfig(optimizer="adam"), batch_frames=2)
