"""The bad-input and fault matrix: every row ends in a clear one-line error (exit 2) or works,
and nothing already computed is lost or left half-written."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from conftest import CONTENT_FILE, STYLE_FILE, cli_error_line, run_cli
from media_factory import make_test_clip
from PIL import Image

from stylevid.pipeline import VideoConfig, stylize_video
from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io import images as images_module
from stylevid.pipeline.io.images import load_image
from stylevid.pipeline.io.probe import probe_video

FAST = ["--size", "32", "--iters", "2", "--device", "cpu", "--quiet"]


def no_partials(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if ".partial" in p.name]


# --- paths ----------------------------------------------------------------------------------------


def test_folder_without_images(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    assert "holds no images" in cli_error_line(
        capsys, tmp_path / "empty", "--style", STYLE_FILE, "-o", tmp_path / "o", *FAST
    )


def test_missing_output_folder_is_created_and_odd_names_work(capsys, tmp_path):
    content = tmp_path / "mon image été.png"
    Image.open(CONTENT_FILE).resize((40, 30)).save(content)
    out = tmp_path / "deep" / "new folder ü"
    code, printed, err = run_cli(capsys, content, "--style", STYLE_FILE, "-o", out, *FAST)
    assert code == 0, err
    assert Path(printed.strip()) == out / "mon image été_stylised.png" and Path(printed.strip()).is_file()


@pytest.fixture
def nobody_dir():
    """A folder an unprivileged user can use, for permission tests (root reads everything)."""
    folder = Path(tempfile.mkdtemp(prefix="stylevid-perm-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def as_unprivileged(*args) -> subprocess.CompletedProcess:
    """Run the CLI as an ordinary user: as root via setpriv, otherwise as ourselves."""
    command = [sys.executable, "-m", "stylevid.cli", *map(str, args)]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot test permissions")
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    env = {**os.environ, "HOME": "/tmp", "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd="/tmp")


def test_unreadable_input(nobody_dir):
    secret = nobody_dir / "secret.png"
    Image.open(CONTENT_FILE).resize((40, 30)).save(secret)
    secret.chmod(0o000)
    done = as_unprivileged(secret, "--style", STYLE_FILE, "-o", nobody_dir / "out", *FAST)
    assert done.returncode == 2 and "not readable" in done.stderr and len(done.stderr.strip().splitlines()) == 1, (
        done.stderr
    )


def test_unwritable_output(nobody_dir):
    content = nobody_dir / "photo.png"
    Image.open(CONTENT_FILE).resize((40, 30)).save(content)
    content.chmod(0o644)
    locked = nobody_dir / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    done = as_unprivileged(content, "--style", STYLE_FILE, "-o", locked, *FAST)
    assert done.returncode == 2 and "permission denied" in done.stderr and len(done.stderr.strip().splitlines()) == 1, (
        done.stderr
    )
    assert list(locked.iterdir()) == []


# --- images ---------------------------------------------------------------------------------------


def test_exif_rotated_jpeg_is_upright(tmp_path):
    upright = np.zeros((30, 40, 3), np.uint8)
    upright[:10, :, 0] = 255  # red band on top
    stored = Image.fromarray(np.rot90(upright, k=1).copy())  # stored turned 90° counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    stored.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    picture = load_image(tmp_path / "phone.jpg")
    assert picture.shape == (30, 40, 3)
    assert picture[:8, :, 0].mean() > 200 and picture[15:, :, 0].mean() < 50


def test_one_pixel_image_runs(capsys, tmp_path):
    Image.new("RGB", (1, 1), (200, 30, 30)).save(tmp_path / "dot.png")
    code, printed, err = run_cli(capsys, tmp_path / "dot.png", "--style", STYLE_FILE, "-o", tmp_path / "o", *FAST)
    assert code == 0, err
    assert Image.open(printed.strip()).size == (32, 32)


def test_too_thin_image_is_refused(capsys, tmp_path):
    Image.new("RGB", (400, 2)).save(tmp_path / "line.png")
    assert "at least 16 px" in cli_error_line(
        capsys, tmp_path / "line.png", "--style", STYLE_FILE, "-o", tmp_path / "o", *FAST
    )


def test_decompression_bomb_refused_before_decoding(capsys, tmp_path, monkeypatch):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (16000, 14000)).save(bomb)  # 224 MP declared, a few hundred KB on disk
    assert bomb.stat().st_size < 2_000_000
    decoded = []
    real_load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.size) or real_load(self))
    message = cli_error_line(capsys, bomb, "--style", STYLE_FILE, "-o", tmp_path / "o", *FAST)
    assert "MP" in message and "limit" in message
    assert (16000, 14000) not in decoded  # refused from the header alone


def test_truncated_image(capsys, tmp_path):
    data = CONTENT_FILE.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    message = cli_error_line(capsys, tmp_path / "cut.jpg", "--style", STYLE_FILE, "-o", tmp_path / "o", *FAST)
    assert "cut.jpg" in message


# --- videos ---------------------------------------------------------------------------------------


def test_truncated_mp4_keeps_frames_and_names_the_place(capsys, tmp_path):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=30, faststart=True, audio=False)
    data = clip.read_bytes()
    clip.write_bytes(data[: int(len(data) * 0.6)])
    out = tmp_path / "out"
    message = cli_error_line(capsys, clip, "--style", STYLE_FILE, "-o", out, *FAST, "--frame-iters", "1")
    assert "frame" in message and "stylised into" in message
    kept = probe_video(out / "clip_stylised.mp4").frame_count
    assert 0 < kept < 30 and str(kept) in message
    assert no_partials(out)


def test_video_with_zero_frames(capsys, tmp_path):
    path = tmp_path / "empty.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    message = cli_error_line(capsys, path, "--style", STYLE_FILE, "-o", tmp_path / "o", *FAST)
    assert "empty.mp4" in message


def test_rotated_video_comes_out_upright(tmp_path):
    clip = make_test_clip(tmp_path / "turned.mp4", frames=3, rotation=90, audio=False)
    style = [load_image(STYLE_FILE)]
    result = stylize_video(
        clip, style, tmp_path / "o", VideoConfig(style=StyleConfig(size=32, iters=1, device="cpu"), frame_iters=1)
    )
    source, output = probe_video(clip), probe_video(result.output)
    assert source.rotation == 90 and (source.width, source.height) == (65, 47)  # stored portrait, shown landscape
    assert (output.width, output.height, output.rotation) == (32, 24, 0)  # written upright


# --- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, words",
    [
        (["--frame-iters", "0"], "frame iterations"),
        (["--temporal-weight", "nan"], "temporal weight"),
        (["--every", "0"], "--every"),
        (["--style-scale", "0"], "style scale"),
    ],
)
def test_bad_video_settings(capsys, tmp_path, args, words):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=3, audio=False)
    assert words in cli_error_line(capsys, clip, "--style", STYLE_FILE, "-o", tmp_path / "o", *FAST, *args)


def test_style_list_and_weight_list_of_different_lengths(capsys, tmp_path):
    message = cli_error_line(
        capsys,
        CONTENT_FILE,
        "--style",
        STYLE_FILE,
        "--style",
        STYLE_FILE,
        "--style-weights",
        "1,2,3",
        "-o",
        tmp_path / "o",
        *FAST,
    )
    assert "3 --style-weights given for 2 --style images" in message


# --- faults ---------------------------------------------------------------------------------------


def test_disk_full_while_writing_frames_keeps_earlier_frames(tmp_path, monkeypatch):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=5, audio=False)
    style = [load_image(STYLE_FILE)]
    config = VideoConfig(style=StyleConfig(size=32, iters=2, device="cpu"), frame_iters=2)
    writes = []
    real_fsync = os.fsync

    def fsync_until_full(fd):
        writes.append(fd)
        if len(writes) > 7:  # manifest, 3 snapshots + history, frames 0 and 1; frame 2 hits a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(images_module.os, "fsync", fsync_until_full)
    with pytest.raises(StylevidError, match="disk full"):
        stylize_video(clip, style, tmp_path / "out", config)
    frames_dir = tmp_path / "out" / ".work" / "frames"
    saved = sorted(p.name for p in frames_dir.iterdir())
    assert saved == ["000000.png", "000001.png"]  # no half-written frame 2
    for name in saved:
        Image.open(frames_dir / name).load()  # every saved frame is complete
    monkeypatch.setattr(images_module.os, "fsync", real_fsync)
    result = stylize_video(clip, style, tmp_path / "out", config)  # space freed: resume
    assert result.frames == 5


# --- resources ------------------------------------------------------------------------------------


@pytest.mark.gpu
def test_cuda_out_of_memory_gives_a_size_that_fits(tmp_path):
    torch.cuda.set_per_process_memory_fraction(0.02)
    try:
        from stylevid.pipeline.engine.transfer import StyleTransfer

        engine = StyleTransfer(StyleConfig(size=2048, iters=2, device="cuda"), [load_image(STYLE_FILE)])
        with pytest.raises(StylevidError, match=r"out of memory.*--size \d+"):
            engine.stylize(engine.prepare_content(load_image(CONTENT_FILE)))
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()


def test_junk_weights_files_give_one_line(capsys, tmp_path):
    import zipfile

    junk = tmp_path / "junk.pth"
    with zipfile.ZipFile(junk, "w") as archive:  # a zip, as torch.save writes, but not a checkpoint
        archive.writestr("archive/notes.txt", "hello")
    message = cli_error_line(
        capsys,
        CONTENT_FILE,
        "--style",
        STYLE_FILE,
        "-o",
        tmp_path / "o",
        *FAST,
        "--weights",
        junk,
        "--weights-format",
        "caffe",
    )
    assert "junk.pth" in message


def test_start_past_the_end_says_so(capsys, tmp_path):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=5, audio=False)
    message = cli_error_line(capsys, clip, "--style", STYLE_FILE, "-o", tmp_path / "o", *FAST, "--start", "20s")
    assert "no frames were stylised" not in message and "clip.mp4" in message


def test_mistyped_init_is_caught_before_any_work(capsys, tmp_path):
    message = cli_error_line(
        capsys, CONTENT_FILE, "--style", STYLE_FILE, "-o", tmp_path / "o", *FAST, "--init", "noisy"
    )
    assert "'noisy'" in message and "--init" in message


def test_output_names_stay_inside_the_output_folder(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    names = ["a b.png", "ünï çødé.png", "..hidden.png", "x..png"]
    for name in names:
        Image.open(CONTENT_FILE).resize((40, 30)).save(folder / name)
    out = tmp_path / "out"
    result = stylize_video(
        folder,
        [load_image(STYLE_FILE)],
        out,
        VideoConfig(style=StyleConfig(size=32, iters=1, device="cpu"), frame_iters=1),
    )
    written = sorted(p.relative_to(out) for p in out.rglob("*.png") if ".work" not in p.parts)
    assert all(p.parent == Path("frames") for p in written if p.name in names)
    assert sorted(p.name for p in result.output.iterdir()) == sorted(n for n in names if not n.startswith("."))
