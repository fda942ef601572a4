"""--long-term end to end: a run on a clip with occlusions, resume, cuts, given flow and refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import CONTENT_FILE, STYLE_FILE, cli_error_line
from media_factory import make_test_clip
from PIL import Image

from stylevid.pipeline import VideoConfig, stylize_video
from stylevid.pipeline.config import StyleConfig, parse_long_term
from stylevid.pipeline.engine.transfer import StyleTransfer
from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io.images import load_image
from stylevid.pipeline.io.true_motion import save_true_motion_clip
from stylevid.pipeline.motion.synthetic import object_clip

TINY_STYLE = StyleConfig(size=48, iters=3, device="cpu")


def tiny(**changes) -> VideoConfig:
    return VideoConfig(style=TINY_STYLE, frame_iters=2, early_stop=False, **changes)


@pytest.fixture(scope="module")
def style_pictures():
    return [load_image(STYLE_FILE)]


@pytest.fixture(scope="module")
def engine(style_pictures):
    """One engine (the network loaded once) for every run here."""
    return StyleTransfer(TINY_STYLE, style_pictures)


@pytest.fixture(scope="module")
def occluding_clip(tmp_path_factory) -> tuple[Path, Path]:
    """Frames of a disc crossing a background (it covers and reveals), with their exact flow."""
    root = tmp_path_factory.mktemp("long_term")
    clip = object_clip(load_image(CONTENT_FILE), size=(36, 48), frames=7, object_velocity=(-4.0, 0.5))
    save_true_motion_clip(clip, root / "frames", root / "flow", gaps=(1, 2, 4), forward=False)
    return root / "frames", root / "flow"


def saved(out: Path) -> list[tuple[np.ndarray, dict]]:
    frames = []
    for path in sorted((out / ".work" / "frames").glob("*.png")):
        with Image.open(path) as image:
            frames.append((np.asarray(image.convert("RGB")), json.loads(image.text["stylevid"])))
    return frames


def test_long_term_holds_revealed_pixels_to_further_frames_and_resumes_exactly(
    tmp_path, style_pictures, occluding_clip, engine
):
    frames, _ = occluding_clip
    config = tiny(long_term=(1, 2, 4), cuts="off")
    whole = stylize_video(frames, style_pictures, tmp_path / "whole", config, engine=engine)
    assert json.loads((tmp_path / "whole" / "run.json").read_text())["config"]["long_term"] == [1, 2, 4]
    reference = saved(tmp_path / "whole")
    shares = [stats.get("long_term_share") for _, stats in reference]
    assert shares[:2] == [None, None]  # frame 0 opens the shot; frame 1 has only the frame before
    assert all(share is not None for share in shares[2:]) and max(shares[2:]) > 0  # some pixels held further back

    short = stylize_video(frames, style_pictures, tmp_path / "short", tiny(cuts="off"), engine=engine)
    short_frames = saved(tmp_path / "short")
    assert "long_term_share" not in short_frames[3][1]
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(short_frames[:2], reference[:2]))  # same until t−2 exists
    assert short.frames == whole.frames == 7

    for kept in (3, 5):  # what a run killed after that many frames leaves; the resume reloads frames t−4 … t−1
        cut = tmp_path / f"cut{kept}"
        shutil.copytree(tmp_path / "whole" / ".work", cut / ".work")
        for late in sorted((cut / ".work" / "frames").glob("*.png"))[kept:]:
            late.unlink()
        resumed = stylize_video(frames, style_pictures, cut, config, engine=engine)
        assert resumed.frames == 7
        assert all(np.array_equal(a[0], b[0]) for a, b in zip(saved(cut), reference))


def test_no_long_term_term_reaches_across_a_cut(tmp_path, style_pictures, occluding_clip, engine):
    frames, _ = occluding_clip
    stylize_video(frames, style_pictures, tmp_path / "out", tiny(long_term=(1, 2, 4), cuts=(3,)), engine=engine)
    shares = [stats.get("long_term_share") for _, stats in saved(tmp_path / "out")]
    # frame 3 opens a shot; frame 4 has only frame 3 before it in its shot; frame 5 reaches back 2, frame 6 too
    assert shares[3] is None and shares[4] is None
    assert shares[5] is not None and shares[6] is not None


def test_long_term_with_given_flow(tmp_path, style_pictures, occluding_clip, engine):
    frames, flow = occluding_clip
    result = stylize_video(
        frames,
        style_pictures,
        tmp_path / "out",
        tiny(long_term=(1, 2, 4), cuts="off", flow_dir=str(flow)),
        engine=engine,
    )
    shares = [stats.get("long_term_share") for _, stats in saved(tmp_path / "out")]
    assert result.frames == 7 and max(s for s in shares if s is not None) > 0
    partial = tmp_path / "partial"
    shutil.copytree(flow, partial)
    (partial / "backward_7_3.flo").unlink()
    with pytest.raises(StylevidError, match="backward_7_3.flo"):
        stylize_video(
            frames,
            style_pictures,
            tmp_path / "refused",
            tiny(long_term=(1, 2, 4), flow_dir=str(partial)),
            engine=engine,
        )
    assert not (tmp_path / "refused" / ".work").exists()


@pytest.mark.parametrize(
    "text, words",
    [
        ("0", "from 1 to 32"),
        ("1,2,99", "from 1 to 32"),
        ("2,1", "must increase (closest first), got 2,1; try 1,2"),
        ("1,2,2", "twice"),
        ("2,4", "must start with 1"),
        ("1,x", "like 1,2,4"),
        ("", "like 1,2,4"),
    ],
)
def test_bad_gaps_are_refused(text, words):
    with pytest.raises(StylevidError) as error:
        parse_long_term(text)
    assert words in str(error.value)


def test_what_long_term_does_not_combine_with_is_refused():
    with pytest.raises(StylevidError, match="--batch-frames 1"):
        tiny(long_term=(1, 2), batch_frames=4)
    with pytest.raises(StylevidError, match="--workers"):
        tiny(long_term=(1, 2), workers=2)
    assert tiny(long_term=(1,), batch_frames=4).long_term == (1,)  # the default goes with everything


@pytest.mark.parametrize(
    "args, words",
    [
        (["--long-term", "0"], "--long-term"),
        (["--long-term", "4,2,1"], "must increase"),
        (["--long-term", "1,2", "--batch-frames", "2"], "--batch-frames 1"),
    ],
)
def test_cli_refuses_bad_long_term_before_any_work(capsys, tmp_path, args, words):
    clip = make_test_clip(tmp_path / "clip.mp4", frames=3, audio=False)
    out = tmp_path / "out"
    assert words in cli_error_line(capsys, clip, "--style", STYLE_FILE, "-o", out, "--size", "32", *args)
    assert not out.exists()
