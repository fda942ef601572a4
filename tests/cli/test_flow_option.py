"""`--flow`: an unknown method is one line naming the choices, before any work, for a run and for eval."""

from __future__ import annotations

from conftest import STYLE_FILE, cli_error_line
from media_factory import shifted_frames
from PIL import Image

CHOICES = "auto, dis, dis-fine, deepflow, tvl1, raft, raft-small, farneback"


def test_unknown_flow_method_is_one_line_before_any_work(capsys, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for index, picture in enumerate(shifted_frames(2)):
        Image.fromarray(picture).save(frames / f"{index:03d}.png")
    out = tmp_path / "out"
    line = cli_error_line(capsys, frames, "--style", STYLE_FILE, "-o", out, "--size", "32", "--flow", "raft-huge")
    assert "raft-huge" in line and CHOICES in line
    assert not out.exists()
    line = cli_error_line(capsys, "eval", frames, frames, "--flow", "deep-flow")
    assert "deep-flow" in line and CHOICES in line
