"""The validation pass: what it checks, that it changes nothing on disk, and that the API runs it first."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from conftest import CONTENT_FILE, STYLE_FILE
from media_factory import make_test_clip
from PIL import Image

from stylevid.pipeline import StyleConfig, StylevidError, VideoConfig, stylize_image_file, stylize_video
from stylevid.pipeline.config import VIDEO_CODECS
from stylevid.pipeline.engine.transfer import StyleTransfer
from stylevid.pipeline.io.paths import check_paths, create_output_folder
from stylevid.pipeline.validation import check_style_blend, check_video_settings, validate_run

#: Settings no run could get past: the weights file does not exist. An error about anything else
#: shows that the validation pass ran before the engine was built.
NO_WEIGHTS = dict(size=32, iters=1, device="cpu", weights="missing-weights.pth", weights_format="caffe")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_test_clip(tmp_path_factory.mktemp("media") / "clip.mp4", frames=3, audio=False)


def test_validate_run_names_the_input_kind_and_writes_nothing(tmp_path, clip):
    out = tmp_path / "deep" / "out"
    (tmp_path / "frames").mkdir()
    Image.new("RGB", (8, 6)).save(tmp_path / "frames" / "f1.png")
    assert validate_run(CONTENT_FILE, [STYLE_FILE], out, StyleConfig()) == "image"
    assert validate_run(clip, [STYLE_FILE], out, VideoConfig()) == "video"
    assert validate_run(tmp_path / "frames", [STYLE_FILE], out, VideoConfig()) == "folder"
    assert not (tmp_path / "deep").exists()
    create_output_folder(out)
    assert out.is_dir()


def test_paths_are_checked_without_side_effects(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(StylevidError, match="is a file; --output takes a folder"):
        check_paths(CONTENT_FILE, [STYLE_FILE], a_file)
    with pytest.raises(StylevidError, match=r"cannot create output folder .* is a file"):
        check_paths(CONTENT_FILE, [STYLE_FILE], a_file / "out")
    with pytest.raises(StylevidError, match="style .* is a folder"):
        check_paths(CONTENT_FILE, [tmp_path], tmp_path / "out")
    with pytest.raises(StylevidError, match="--init must be content, noise, style or an image file"):
        check_paths(CONTENT_FILE, [STYLE_FILE], tmp_path / "out", init=str(tmp_path / "start.png"))
    assert check_paths(CONTENT_FILE, [STYLE_FILE], tmp_path / "out", init=str(STYLE_FILE)) == "image"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_style_blend_length_is_checked_in_one_place():
    check_style_blend((0.7, 0.3), 2)
    check_style_blend(None, 1)
    with pytest.raises(StylevidError, match="at least one style image"):
        check_style_blend(None, 0)
    with pytest.raises(StylevidError, match="^3 --style-weights given for 2 --style images$"):
        validate_run(CONTENT_FILE, [STYLE_FILE, STYLE_FILE], Path("unused"), StyleConfig(style_blend=(1, 2, 3)))
    picture = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(StylevidError, match="^2 style weights given for 1 style images$"):  # the engine's call
        StyleTransfer(StyleConfig(style_blend=(1, 2), **NO_WEIGHTS), [picture])


def _has_encoder(codec: str) -> bool:
    """Whether the local FFmpeg can open ``codec`` as a video encoder."""
    try:
        return av.CodecContext.create(codec, "w").type == "video"
    except (av.FFmpegError, ValueError, LookupError):
        return False


@pytest.mark.parametrize("codec", VIDEO_CODECS)
def test_encoder_is_checked_against_the_local_ffmpeg(clip, tmp_path, codec):
    config = VideoConfig(codec=codec, crf=0)
    if _has_encoder(codec):
        assert validate_run(clip, [STYLE_FILE], tmp_path / "out", config) == "video"
    else:
        with pytest.raises(StylevidError, match=f"unknown video codec '{codec}'"):
            validate_run(clip, [STYLE_FILE], tmp_path / "out", config)
    check_video_settings("video", config.replace(output="frames"))  # frames need no encoder


def test_output_kind_follows_the_input_unless_set():
    assert VideoConfig().output_kind("video") == "video"
    assert VideoConfig().output_kind("folder") == "frames"
    assert VideoConfig(output="video").output_kind("folder") == "video"
    assert VideoConfig(output="frames").output_kind("video") == "frames"


def test_image_api_validates_before_any_work(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(StylevidError, match="'missing.png' is none of these"):
        stylize_image_file(CONTENT_FILE, [STYLE_FILE], out, StyleConfig(init="missing.png", **NO_WEIGHTS))
    with pytest.raises(StylevidError, match="style image .* does not exist"):
        stylize_image_file(CONTENT_FILE, [tmp_path / "nope.jpg"], out, StyleConfig(**NO_WEIGHTS))
    assert not out.exists()


def test_video_api_validates_before_any_work(tmp_path, clip):
    picture = np.zeros((32, 32, 3), np.uint8)
    out = tmp_path / "out"
    config = VideoConfig(style=StyleConfig(**NO_WEIGHTS), frame_iters=1)
    with pytest.raises(StylevidError, match="does not exist"):
        stylize_video(tmp_path / "missing.mp4", [picture], out, config)
    with pytest.raises(StylevidError, match="2 --style-weights given for 1 --style images"):
        stylize_video(clip, [picture], out, config.replace(style=config.style.replace(style_blend=(1, 2))))
    with pytest.raises(StylevidError, match="is the input"):
        stylize_video(tmp_path, [picture], tmp_path, config)
    assert not out.exists()
