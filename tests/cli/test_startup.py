"""A light start: help and errors caught before any work import neither torch, OpenCV nor PyAV."""

from __future__ import annotations

import subprocess
import sys

from conftest import STYLE_FILE
from media_factory import make_test_clip

#: Runs the CLI in a fresh interpreter, then prints which heavy modules it imported.
PROBE = """
import sys
from stylevid.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    print(f"exit {done.code}", file=sys.stderr)
print("heavy:", *[name for name in ("torch", "cv2", "av") if name in sys.modules])
"""


def imported_after(*args) -> tuple[set[str], str]:
    """(heavy modules imported, stderr) after ``stylevid ARGS`` in a new process."""
    done = subprocess.run([sys.executable, "-c", PROBE, *map(str, args)], capture_output=True, text=True, timeout=120)
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("heavy:"), done.stdout + done.stderr
    return set(last.split()[1:]), done.stderr


def test_help_imports_no_heavy_module():
    heavy, err = imported_after("--help")
    assert "exit 0" in err
    assert heavy == set()


def test_missing_input_is_reported_without_heavy_modules(tmp_path):
    heavy, err = imported_after(tmp_path / "missing.jpg", "--style", STYLE_FILE, "-o", tmp_path / "out")
    assert "does not exist" in err and "exit 2" in err
    assert heavy == set()
    assert not (tmp_path / "out").exists()
    heavy, err = imported_after("eval", tmp_path / "stylised.mp4", tmp_path / "clip.mp4")
    assert "does not exist" in err and "exit 2" in err
    assert heavy == set()


def test_bad_video_setting_is_reported_before_torch_loads(tmp_path):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=3, audio=False)
    heavy, err = imported_after(clip, "--style", STYLE_FILE, "-o", tmp_path / "out", "--crf", "99")
    assert "--crf" in err and "exit 2" in err
    assert heavy <= {"av"}  # the input was probed as a video; nothing was optimised


def test_mixed_sizes_in_a_frame_sequence_are_refused_before_torch_loads(tmp_path):
    from PIL import Image

    frames = tmp_path / "frames"
    frames.mkdir()
    Image.new("RGB", (40, 30)).save(frames / "f1.png")
    Image.new("RGB", (30, 40)).save(frames / "f2.png")
    heavy, err = imported_after(frames, "--style", STYLE_FILE, "-o", tmp_path / "out")
    assert "f2.png is 30×40 but the first, f1.png, is 40×30" in err and "exit 2" in err


def test_a_run_too_large_for_memory_is_refused_before_torch_loads(tmp_path):
    """The memory check reads the pictures' headers and the free RAM: no torch, no decoding, no folder."""
    args = (STYLE_FILE, "--style", STYLE_FILE, "-o", tmp_path / "out", "--size", "200000", "--device", "cpu")
    heavy, err = imported_after(*args)
    assert "not enough memory" in err and "try --size" in err and "exit 2" in err
    assert heavy == set()
    assert not (tmp_path / "out").exists()
