"""Tests for stylevid.pipeline.engine.snapshots: which iterations a run keeps, at what size, and
that the memory estimate's snapshot term is what a run really keeps."""

from __future__ import annotations

import numpy as np
import pytest

from stylevid.pipeline.budget import estimate_run
from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine import snapshots
from stylevid.pipeline.engine.pyramid import stylize_in_stages
from stylevid.pipeline.engine.snapshots import snapshot_bytes, snapshot_iterations, snapshot_size
from stylevid.pipeline.engine.transfer import StyleTransfer
from stylevid.pipeline.io.images import resize


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


def test_snapshots_are_at_most_the_gif_size_and_8_bit():
    assert snapshot_size(768, 1024) == (768, 1024)  # up to SNAPSHOT_LONG_SIDE: the picture's own size
    assert snapshot_size(3072, 4096) == (768, 1024)
    assert snapshot_size(4096, 3000) == (1024, 750)
    # a 4096 px pyramid (500, 250, 125, 62 iterations): 37 snapshots of 1024×768 RGB bytes, not 4096×3072 floats
    assert snapshot_bytes(3072, 4096, [500, 250, 125, 62]) == (10 + 10 + 9 + 8) * 3 * 768 * 1024


def test_the_estimate_s_snapshot_term_is_what_a_run_keeps(monkeypatch, extractor, content_picture, style_picture):
    monkeypatch.setattr(snapshots, "SNAPSHOT_LONG_SIDE", 48)  # a 96-px run's snapshots at half size, as 4096 px at 1024
    config = StyleConfig(size=96, pyramid=(64, 96), iters=2, device="cpu")
    engine = StyleTransfer(config, [style_picture], extractor=extractor)
    content = engine.prepare_content(content_picture)  # 96×72
    stages = engine.stages()
    result = stylize_in_stages(engine, content, stages, snapshots=True)
    assert [i for i, _ in result.snapshots] == [0, 1, 2, 3]  # stage 1: 0, 1, 2; stage 2 (1 iteration): 3
    assert all(p.shape == (36, 48, 3) and p.dtype == np.uint8 for _, p in result.snapshots)
    # while the last stage runs, every stage's start is kept too (joining drops the later ones)
    kept = sum(p.nbytes for _, p in result.snapshots) + (len(stages) - 1) * 36 * 48 * 3
    assert estimate_run(72, 96, config, device="cpu").parts["snapshots"] == kept
    # one scale: exactly what it keeps
    one = engine.stylize(content, iters=2, snapshot_at=[0, *snapshot_iterations(2)])
    one_config = config.replace(pyramid="off")
    assert estimate_run(72, 96, one_config, device="cpu").parts["snapshots"] == sum(p.nbytes for _, p in one.snapshots)
    # shrunk on the device by area averaging: the last snapshot is the result at half size (to rounding)
    half = resize(one.picture, 48, 36)  # Pillow's box filter on the 8-bit result
    assert np.abs(one.snapshots[-1][1].astype(int) - half.astype(int)).max() <= 1
    assert estimate_run(72, 96, one_config, device="cpu", snapshots=False).parts["snapshots"] == 0


def test_shrunk_snapshots_keep_the_content_colours(monkeypatch, extractor, content_picture, style_picture):
    monkeypatch.setattr(snapshots, "SNAPSHOT_LONG_SIDE", 48)
    config = StyleConfig(size=96, iters=2, device="cpu", preserve_colors=True, pyramid="off")
    engine = StyleTransfer(config, [style_picture], extractor=extractor)
    result = engine.stylize(engine.prepare_content(content_picture), snapshot_at=[2])
    # luminance and the content's chroma shrunk, then recombined: the result shrunk, to rounding
    half = resize(result.picture, 48, 36)
    assert np.abs(result.snapshots[-1][1].astype(int) - half.astype(int)).max() <= 2
