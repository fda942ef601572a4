"""Tests for stylevid.pipeline.engine.snapshots: which iterations a run keeps."""

from __future__ import annotations

import numpy as np
import pytest

from stylevid.pipeline.engine.snapshots import snapshot_iterations


def test_snapshot_iterations():
    assert snapshot_iterations(500) == [1, 2, 5, 10, 20, 50, 100, 200, 500]
    assert snapshot_iterations(37) == [1, 2, 5, 10, 20, 37]
    assert snapshot_iterations(1) == [1]
    assert snapshot_iterations(1000)[-3:] == [200, 500, 1000]
    assert snapshot_iterations(6000)[-3:] == [2000, 5000, 6000]
    assert snapshot_iterations(np.int64(20)) == [1, 2, 5, 10, 20]
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError):
            snapshot_iterations(bad)
