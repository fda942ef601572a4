"""The scale-out options on the command line: checked before any work, one clear line each."""

from __future__ import annotations

from conftest import CONTENT_FILE, STYLE_FILE, cli_error_line
from media_factory import make_test_clip

from stylevid.pipeline.scale import cluster


def test_without_ray_the_options_say_how_to_install_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "ray_available", lambda: False)
    clip = make_test_clip(tmp_path / "clip.mp4", frames=2)
    line = cli_error_line(capsys, clip, "--style", STYLE_FILE, "-o", tmp_path / "out", "--workers", "2")
    assert "pip install 'stylevid[ray]'" in line
    assert not (tmp_path / "out").exists()  # nothing was started


def test_bad_scale_out_options_are_refused_before_work(capsys, tmp_path):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=2)
    base = [clip, "--style", STYLE_FILE, "-o", tmp_path / "out"]
    assert "--segment-frames" in cli_error_line(capsys, *base, "--workers", "2", "--segment-frames", "0")
    assert "--workers" in cli_error_line(capsys, *base, "--workers", "-1")
    assert "--batch-frames" in cli_error_line(capsys, *base, "--workers", "2", "--batch-frames", "2")
    line = cli_error_line(capsys, CONTENT_FILE, "--style", STYLE_FILE, "-o", tmp_path / "img", "--workers", "2")
    assert "videos and frame folders" in line
