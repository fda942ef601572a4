"""Where stylised frames go: a frame folder or an encoded video, one file or frame per frame, at the right size."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylevid.pipeline.config import StyleConfig, VideoConfig
from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io.images import load_image
from stylevid.pipeline.io.probe import probe_video
from stylevid.pipeline.io.video_read import read_frames
from stylevid.pipeline.video.frames import Frame, open_source
from stylevid.pipeline.video.output import VideoOutput

CONFIG = VideoConfig(style=StyleConfig(size=32, device="cpu"))


@pytest.fixture
def out(tmp_path) -> Path:
    """The output folder (stylize_video creates it before any frame is written)."""
    (tmp_path / "out").mkdir()
    return tmp_path / "out"


def frame_folder(path: Path, count: int, width: int = 32, height: int = 24) -> Path:
    path.mkdir()
    for i in range(count):
        Image.fromarray(np.full((height, width, 3), 30 * i, np.uint8)).save(path / f"shot{i + 1}.png")
    return path


def stylised(frame: Frame, width: int = 16, height: int = 12) -> np.ndarray:
    """A stand-in for the stylised frame at processing size: a gradient that brightens frame by frame."""
    ramp = np.linspace(0, 200, width, dtype=np.float32)[None, :, None] + 10 * frame.position
    return np.broadcast_to(ramp, (height, width, 3)).astype(np.uint8)


def write_all(output: VideoOutput, source, with_errors: bool = True) -> None:
    for frame in source.frames():
        picture = stylised(frame)
        content = np.asarray(Image.fromarray(frame.picture).resize(picture.shape[1::-1]))
        stats = {"frame": frame.position, "warping_error": 0.5 if with_errors and frame.position else None}
        output.add(frame, content, picture, stats)


def test_frames_go_to_a_folder_under_their_own_names_at_processing_size(tmp_path, out):
    source = open_source(frame_folder(tmp_path / "in", 3))
    output = VideoOutput(source, CONFIG, "frames", out)
    write_all(output, source)
    output.close()
    assert output.output == out / "frames" == output.files["frames"]
    assert sorted(p.name for p in output.output.iterdir()) == ["shot1.png", "shot2.png", "shot3.png"]
    for frame in source.frames():
        assert np.array_equal(load_image(output.output / frame.name), stylised(frame))
    assert [row["frame"] for row in output.rows] == [0, 1, 2]
    assert output.processing_shape == (12, 16)
    assert len(output.preview) == 3


def test_original_output_size_scales_frames_up_to_the_source(tmp_path, out):
    source = open_source(frame_folder(tmp_path / "in", 2))
    output = VideoOutput(source, CONFIG.replace(output_size="original"), "frames", out)
    write_all(output, source)
    assert {load_image(p).shape for p in output.output.iterdir()} == {(24, 32, 3)}


def test_a_warping_error_missing_from_older_stats_is_measured(tmp_path, out):
    source = open_source(frame_folder(tmp_path / "in", 3))
    output = VideoOutput(source, CONFIG, "frames", out)
    write_all(output, source, with_errors=False)
    errors = [row["warping_error"] for row in output.rows]
    assert errors[0] is None
    assert all(isinstance(e, float) and e >= 0 for e in errors[1:])


def test_frames_go_to_a_video_with_the_right_count_size_and_rate(tmp_path, out):
    source = open_source(frame_folder(tmp_path / "in", 5), fps=Fraction(12))
    output = VideoOutput(source, CONFIG, "video", out)
    write_all(output, source)
    output.close()
    assert output.output == out / "in_stylised.mp4" == output.files["video"]
    info = probe_video(output.output)
    assert (info.frame_count, info.width, info.height, info.fps) == (5, 16, 12, 12)
    assert info.audio_streams == 0
    decoded = [f.image for f in read_frames(output.output)]
    assert decoded[4].mean() > decoded[0].mean()  # in order: the stand-in brightens frame by frame


def test_abort_leaves_no_video_behind(tmp_path, out):
    source = open_source(frame_folder(tmp_path / "in", 2), fps=Fraction(12))
    output = VideoOutput(source, CONFIG.replace(codec="libvpx-vp9", crf=30), "video", out)
    write_all(output, source)
    output.abort()
    assert list(out.iterdir()) == []


def test_a_frame_name_leaving_the_output_folder_is_refused(tmp_path, out):
    source = open_source(frame_folder(tmp_path / "in", 1))
    output = VideoOutput(source, CONFIG, "frames", out)
    frame = next(source.frames())
    escaping = Frame(0, 0, 0.0, "../outside.png", frame.picture)
    with pytest.raises(StylevidError, match="would leave the output folder"):
        output.add(escaping, stylised(frame), stylised(frame), {})
    assert not (tmp_path / "outside.png").exists()
