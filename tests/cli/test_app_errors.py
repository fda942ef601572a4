"""The command line's errors: one line on stderr, exit code 2, and nothing written, before any work."""

from __future__ import annotations

import pytest
from conftest import CONTENT_FILE, STYLE_FILE, cli_error_line
from media_factory import make_test_clip
from PIL import Image

FAST = ["--size", "32", "--iters", "3", "--device", "cpu"]


def test_bad_inputs_give_one_line_and_exit_2(capsys, tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    fake_video = tmp_path / "notes.mp4"
    fake_video.write_text("not a video")
    out = tmp_path / "out"
    assert "does not exist" in cli_error_line(capsys, tmp_path / "missing.jpg", "--style", STYLE_FILE, "-o", out)
    assert "does not exist" in cli_error_line(capsys, CONTENT_FILE, "--style", tmp_path / "nope.jpg", "-o", out)
    assert "not an image" in cli_error_line(capsys, text, "--style", STYLE_FILE, "-o", out, *FAST)
    assert "notes.mp4" in cli_error_line(capsys, fake_video, "--style", STYLE_FILE, "-o", out, *FAST)
    assert "--style" in cli_error_line(capsys, CONTENT_FILE)


def test_audio_only_file_is_refused(capsys, tmp_path):
    audio = make_test_clip(tmp_path / "sound.m4a", video=False)
    message = cli_error_line(capsys, audio, "--style", STYLE_FILE, "-o", tmp_path / "out", *FAST)
    assert "audio" in message.lower()


@pytest.mark.parametrize(
    "args, words",
    [
        (["--size", "abc"], "--size"),
        (["--size", "-5"], "size"),
        (["--size", "0"], "size"),
        (["--iters", "0"], "iterations"),
        (["--style-weight", "nan"], "style weight"),
        (["--content-weight", "-1"], "content weight"),
        (["--style-layers", "relu1_1,relu9_9"], "relu9_9"),
        (["--content-layer", "fc7"], "fc7"),
        (["--style-weights", "0.5,0.3"], "--style-weights"),
        (["--layer-weights", "1,2"], "style layer weights"),
        (["--optimizer", "sgd"], "optimizer"),
        (["--device", "tpu"], "device"),
        (["--weights-format", "onnx", "--weights", "x.pth"], "caffe, torchvision"),
        (["--tile", "100"], "--tile must be a multiple of 16"),
        (["--tile", "32"], "--tile must be a whole number of at least 64"),
        (["--tile", "0"], "--tile"),
        (["--tile", "272", "--style-layers", "relu1_1,pool5"], "--tile must be a multiple of 32"),
        (["--tile", "512", "--cuda-graphs"], "--tile and --cuda-graphs"),
        (["--bit-depth", "12"], "--bit-depth must be 8 or 16"),
        (["--pyramid", "1024,512"], "--pyramid stage sizes must increase"),
        (["--pyramid", "512,512"], "--pyramid stage sizes must increase"),
        (["--pyramid", "32,64"], "at least 64 px"),
        (["--pyramid", "256,512", "--size", "1024"], "the last --pyramid stage must be the --size (1024 px)"),
        (["--pyramid", "256,x"], "--pyramid must be auto, off or stage sizes"),
        (["--pyramid", "sometimes"], "--pyramid must be auto, off or stage sizes"),
        (["--pyramid", "256,512", "--pyramid-iters", "5,5,5"], "--pyramid-iters gives 3 budgets for 2 stage(s)"),
        (["--pyramid", "256,512", "--pyramid-iters", "5,0"], "--pyramid-iters must be whole numbers of at least 1"),
        (["--pyramid-iters", "100,50"], "2 budgets for 1 stage(s)"),
        (["--scales", "2", "--pyramid", "256,512"], "--scales and --pyramid"),
        (["--scales", "4", "--size", "256"], "--scales 4 at --size 256 would go below 64 px"),
        (["--scales", "0"], "--scales must be a whole number from 1 to 8"),
        (["--max-step", "-0.1"], "--max-step must be zero or more"),
        (["--max-step", "inf"], "--max-step must be a finite number"),
    ],
)
def test_bad_settings_give_one_line_and_exit_2(capsys, tmp_path, args, words):
    assert words in cli_error_line(capsys, CONTENT_FILE, "--style", STYLE_FILE, "-o", tmp_path / "out", *args)


def test_output_never_overwrites_an_input(capsys, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.open(CONTENT_FILE).resize((40, 30)).save(folder / "a.png")
    assert "input" in cli_error_line(capsys, folder, "--style", STYLE_FILE, "-o", folder, *FAST)
    photo = tmp_path / "photo.png"
    Image.open(CONTENT_FILE).resize((40, 30)).save(photo)
    style = tmp_path / "out" / "photo_stylised.png"  # the style sits where the result would go
    style.parent.mkdir()
    Image.open(STYLE_FILE).resize((40, 30)).save(style)
    before = style.read_bytes()
    message = cli_error_line(capsys, photo, "--style", style, "-o", tmp_path / "out", *FAST)
    assert "overwrite" in message and "photo_stylised.png" in message
    assert style.read_bytes() == before
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert "is a file" in cli_error_line(capsys, CONTENT_FILE, "--style", STYLE_FILE, "-o", a_file, *FAST)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--crf", "99"], "--crf"),
        (["--codec", "libvpx-vp9", "--crf", "64"], "--crf"),
        (["--codec", "h264_nvenc"], "codec"),
        (["--init", "missing.png"], "--init"),
        (["--style-weights", "1,2"], "2 --style-weights given for 1 --style images"),
        (["--cuts", "sometimes"], "--cuts"),
        (["--cuts", "5,x"], "--cuts"),
        (["--cuts", "0"], "at least 1"),
        (["--cuts", "9,4"], "must increase"),
        (["--cuts", "4,4"], "must increase"),
        (["--cuts", ""], "--cuts"),
        (["--bit-depth", "16"], "video frames and frame folders are written 8-bit"),
    ],
)
def test_video_run_errors_come_before_any_work(capsys, tmp_path, args, words):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=3, audio=False)
    out = tmp_path / "out"
    assert words in cli_error_line(capsys, clip, "--style", STYLE_FILE, "-o", out, *FAST, *args)
    assert not out.exists()  # the validation pass writes nothing: no frame was stylised


def test_image_run_errors_leave_no_output_folder(capsys, tmp_path):
    out = tmp_path / "out"
    message = cli_error_line(capsys, CONTENT_FILE, "--style", STYLE_FILE, "-o", out, "--init", "missing.png")
    assert "'missing.png'" in message
    assert "does not exist" in cli_error_line(capsys, CONTENT_FILE, "--style", tmp_path / "nope.jpg", "-o", out)
    assert not out.exists()
    blocked = tmp_path / "file.txt"
    blocked.write_text("x")
    message = cli_error_line(capsys, CONTENT_FILE, "--style", STYLE_FILE, "-o", blocked / "out", *FAST)
    assert "cannot create output folder" in message and "is a file" in message
