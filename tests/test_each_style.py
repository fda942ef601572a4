"""--each-style: one input in each of several styles, one run folder per style (not a blend), each
the run that style alone would make; refused with blend weights or one style; a rerun skips the
styles already done."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import CONTENT_FILE, MEDIA, STYLE_FILE, cli_error_line, run_cli
from PIL import Image

from stylevid.pipeline import StyleConfig, StylevidError, stylize_each_style, stylize_image_file

WAVE_FILE = MEDIA / "styles" / "hokusai_great_wave.jpg"
STYLES = [STYLE_FILE, WAVE_FILE]
CONFIG = StyleConfig(size=32, iters=3, device="cpu")
FAST = ["--size", "32", "--iters", "2", "--device", "cpu", "--quiet"]


def picture(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


@pytest.fixture(scope="module")
def content(tmp_path_factory) -> Path:
    """The sample photo, small (decoding the full JPEG for every run would cost more than the runs)."""
    path = tmp_path_factory.mktemp("in") / "neckarfront.png"
    Image.open(CONTENT_FILE).convert("RGB").resize((48, 32)).save(path)
    return path


def test_each_style_makes_each_style_s_own_run_equal_to_that_style_alone_and_a_rerun_skips_them(content, tmp_path):
    out = tmp_path / "each"
    result = stylize_each_style(content, STYLES, out, CONFIG)
    assert result.kind == "image" and (result.stylised, result.done_earlier) == (2, 0)
    assert result.folders == [out / style.stem for style in STYLES]
    for style, folder, output in zip(STYLES, result.folders, result.outputs, strict=True):
        alone = stylize_image_file(content, [style], tmp_path / "alone" / style.stem, CONFIG)
        assert output == folder / "neckarfront_stylised.png"
        assert np.array_equal(picture(output), picture(alone.files["image"]))  # bit for bit, seeded CPU
        record = json.loads((folder / "run.json").read_text())
        assert record["kind"] == "image" and record["input"]["styles"] == [str(style)]
        assert (folder / "progress.gif").is_file() and (folder / "losses.png").is_file()
    assert not np.array_equal(picture(result.outputs[0]), picture(result.outputs[1]))  # two styles, not a blend
    summary = json.loads((out / "run.json").read_text())
    assert summary["kind"] == "each-style" and [row["status"] for row in summary["styles"]] == ["stylised"] * 2
    assert [row["folder"] for row in summary["styles"]] == [str(f) for f in result.folders]

    made = [output.stat().st_mtime_ns for output in result.outputs]
    again = stylize_each_style(content, STYLES, out, CONFIG)
    assert (again.stylised, again.done_earlier) == (0, 2)
    assert [output.stat().st_mtime_ns for output in again.outputs] == made  # not made again

    second = picture(result.outputs[1])
    shutil.rmtree(result.folders[1])  # a style whose output is gone is made again, the other kept
    third = stylize_each_style(content, STYLES, out, CONFIG)
    assert (third.stylised, third.done_earlier) == (1, 1)
    assert np.array_equal(picture(third.outputs[1]), second)


def test_other_settings_make_every_style_again(content, tmp_path):
    out = tmp_path / "each"
    stylize_each_style(content, STYLES, out, CONFIG.replace(iters=1))
    again = stylize_each_style(content, STYLES, out, CONFIG.replace(iters=2))
    assert (again.stylised, again.done_earlier) == (2, 0)
    assert json.loads((out / STYLE_FILE.stem / "run.json").read_text())["iterations"] == 2


def test_each_style_refusals_are_one_line_before_any_work(capsys, content, tmp_path):
    out = tmp_path / "out"
    line = cli_error_line(capsys, content, "--style", STYLE_FILE, "--each-style", "-o", out, *FAST)
    assert "--each-style needs two or more --style images" in line
    line = cli_error_line(
        capsys, content, "--style", STYLE_FILE, "--style", WAVE_FILE, "--style-weights", "1,2", "--each-style",
        "-o", out, *FAST,
    )  # fmt: skip
    assert "--style-weights" in line and "one or the other" in line
    twin = tmp_path / "other" / STYLE_FILE.name  # two styles named alike would share a folder
    twin.parent.mkdir()
    shutil.copy(WAVE_FILE, twin)
    line = cli_error_line(capsys, content, "--style", STYLE_FILE, "--style", twin, "--each-style", "-o", out, *FAST)
    assert "rename one of them" in line
    line = cli_error_line(capsys, content, "--style", STYLE_FILE, "--style", WAVE_FILE, "--workers", "2", "-o", out)
    assert "--each-style" in line  # --workers on an image needs --each-style
    assert not out.exists()
    with pytest.raises(StylevidError, match="give the styles as files"):
        stylize_each_style(content, [picture(STYLE_FILE), picture(WAVE_FILE)], out, CONFIG)


def test_the_command_line_writes_a_folder_per_style_and_the_summary(capsys, content, tmp_path):
    out = tmp_path / "out"
    code, stdout, err = run_cli(
        capsys, content, "--style", STYLE_FILE, "--style", WAVE_FILE, "--each-style", "-o", out, *FAST
    )
    assert code == 0, err
    assert stdout.strip() == str(out)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        [*(s.stem for s in STYLES), "run.json"]
    )
    assert all((out / s.stem / "neckarfront_stylised.png").is_file() for s in STYLES)


def test_a_frame_folder_in_each_style_is_each_style_s_video_run_and_a_rerun_skips_them(tmp_path):
    from media_factory import shifted_frames

    from stylevid.pipeline import VideoConfig, stylize_video
    from stylevid.pipeline.io.images import load_image

    frames = tmp_path / "frames"
    frames.mkdir()
    for i, frame in enumerate(shifted_frames(2, size=32)):
        Image.fromarray(frame).save(frames / f"f{i:02d}.png")
    config = VideoConfig(style=CONFIG.replace(iters=2), frame_iters=2, flow_method="dis", cuts="off")
    out = tmp_path / "each"
    result = stylize_each_style(frames, STYLES, out, config)
    assert result.kind == "folder" and result.stylised == 2
    alone = stylize_video(frames, [load_image(STYLES[1])], tmp_path / "alone", config)
    theirs = sorted(alone.output.iterdir())
    mine = sorted(result.outputs[1].iterdir())
    assert [p.name for p in mine] == [p.name for p in theirs] and len(mine) == 2
    assert all(np.array_equal(picture(a), picture(b)) for a, b in zip(mine, theirs, strict=True))
    assert json.loads((out / STYLES[0].stem / "run.json").read_text())["frames"]
    again = stylize_each_style(frames, STYLES, out, config)
    assert (again.stylised, again.done_earlier) == (0, 2)
