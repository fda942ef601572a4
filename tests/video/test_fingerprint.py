"""The settings fingerprint: what changes the stylised frames changes it, encoding-only settings do not."""

from __future__ import annotations

import numpy as np
from PIL import Image

from stylevid.pipeline.config import StyleConfig, VideoConfig
from stylevid.pipeline.video.fingerprint import settings_fingerprint
from stylevid.pipeline.video.frames import open_source

STYLES = [np.full((8, 8, 3), 100, np.uint8)]
CONFIG = VideoConfig(style=StyleConfig(size=32, device="cpu"))


def folder_source(path, count: int = 2):
    path.mkdir(exist_ok=True)
    for i in range(count):
        Image.fromarray(np.full((12, 16, 3), 40 * i, np.uint8)).save(path / f"f{i}.png")
    return open_source(path)


def test_encoding_and_device_settings_leave_the_fingerprint_alone(tmp_path):
    source = folder_source(tmp_path / "in")
    same = [
        CONFIG.replace(codec="libvpx-vp9", crf=30),
        CONFIG.replace(output="video", output_size="original"),
        CONFIG.replace(audio=False),
        CONFIG.replace(style=CONFIG.style.replace(device="cuda")),
    ]
    for config in same:
        assert settings_fingerprint(source, config, STYLES) == settings_fingerprint(source, CONFIG, STYLES)


def test_what_changes_the_frames_changes_the_fingerprint(tmp_path):
    source = folder_source(tmp_path / "in")
    before = settings_fingerprint(source, CONFIG, STYLES)
    assert settings_fingerprint(source, CONFIG.replace(frame_iters=3), STYLES) != before
    assert settings_fingerprint(source, CONFIG.replace(style=CONFIG.style.replace(size=48)), STYLES) != before
    assert settings_fingerprint(source, CONFIG, [STYLES[0] + 1]) != before  # another style picture
    assert settings_fingerprint(folder_source(tmp_path / "in", count=3), CONFIG, STYLES) != before  # a frame added
    bilinear = settings_fingerprint(source, CONFIG.replace(init_sampling="bilinear"), STYLES)
    assert "init_sampling" not in bilinear  # work folders of earlier versions (bilinear starts) still resume
    assert settings_fingerprint(source, CONFIG.replace(init_sampling="bicubic"), STYLES) != bilinear


def test_the_pyramid_counts_only_when_it_plans_several_stages(tmp_path):
    source = folder_source(tmp_path / "in")
    before = settings_fingerprint(source, CONFIG, STYLES)
    assert "style.pyramid" not in before  # work folders of earlier versions still resume
    one_scale = CONFIG.replace(style=CONFIG.style.replace(pyramid="off"))
    assert settings_fingerprint(source, one_scale, STYLES) == before  # auto plans one stage at 32 px
    pyramid = CONFIG.replace(style=CONFIG.style.replace(size=128, pyramid=(64, 128)))
    fingerprint = settings_fingerprint(source, pyramid, STYLES)
    assert fingerprint["style.stages"] == [[64, 500], [128, 250]]
    budgets = pyramid.replace(style=pyramid.style.replace(pyramid_iters=(10, 5)))
    assert settings_fingerprint(source, budgets, STYLES)["style.stages"] == [[64, 10], [128, 5]]
