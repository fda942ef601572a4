"""Tests for stylevid.pipeline.render.animation: progress GIFs, clip previews, side-by-side and mosaics."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageSequence
from render_samples import gradient, no_temp_files

from stylevid.pipeline.engine.snapshots import snapshot_iterations
from stylevid.pipeline.render import animation as A


def frames_of(path) -> list[tuple[Image.Image, int]]:
    with Image.open(path) as im:
        return [(f.convert("RGB").copy(), f.info.get("duration")) for f in ImageSequence.Iterator(im)]


# --------------------------------------------------------------------------- progress GIF


def test_progress_gif_frames_hold_loop_size(tmp_path):
    its = [0, *snapshot_iterations(50)]
    snaps = [(it, gradient(shift=10 * k)) for k, it in enumerate(its)]
    out = A.save_progress_gif(snaps, tmp_path / "p.gif", frame_ms=300, hold_last_ms=2000)
    assert out == tmp_path / "p.gif"
    with Image.open(out) as im:
        assert im.format == "GIF"
        assert im.n_frames == len(snaps)
        assert im.size == (128, 96)
        assert im.info.get("loop") == 0
    durations = [d for _, d in frames_of(out)]
    assert durations[:-1] == [300] * (len(snaps) - 1)
    assert durations[-1] == 2000
    assert no_temp_files(tmp_path)


def test_progress_gif_label_drawn_at_bottom_only(tmp_path):
    src = np.full((200, 240, 3), 200, np.uint8)
    src[:, :, 0] = np.linspace(120, 230, 240, dtype=np.uint8)[None, :]
    out = A.save_progress_gif([(0, src), (10, src.copy())], tmp_path / "l.gif")
    for frame, _ in frames_of(out):
        got = np.asarray(frame).astype(int)
        diff = np.abs(got - src.astype(int)).mean(axis=2)
        assert diff[:100].mean() < 4  # top half: picture (up to quantisation noise)
        assert diff[-8:].mean() > 40  # bottom rows: dark label band
    # the two labels ("init", "iteration 10") differ, so the bands differ
    (a, _), (b, _) = frames_of(out)
    assert np.abs(np.asarray(a, int)[-30:] - np.asarray(b, int)[-30:]).max() > 100


def test_progress_gif_single_snapshot(tmp_path):
    out = A.save_progress_gif([(7, gradient())], tmp_path / "one.gif", hold_last_ms=1234)
    frames = frames_of(out)
    assert len(frames) == 1 and frames[0][1] == 1230


@pytest.mark.parametrize(
    "snaps",
    [
        [],
        [(1, np.zeros((8, 8), np.uint8))],
        [(1, np.zeros((8, 8, 3), np.float32))],
        [(1, np.zeros((8, 8, 4), np.uint8))],
        [(5, gradient()), (2, gradient())],
        [(1, gradient(96, 128)), (2, gradient(64, 64))],
        [(-1, gradient())],
    ],
)
def test_progress_gif_bad_input(tmp_path, snaps):
    with pytest.raises(ValueError):
        A.save_progress_gif(snaps, tmp_path / "bad.gif")
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- clip GIFs


def test_clip_gif_downscale_and_durations(tmp_path):
    frames = [gradient(300, 600, shift=20 * i) for i in range(12)]
    out = A.save_clip_gif(frames, tmp_path / "c.gif", fps=25, max_side=240)
    got = frames_of(out)
    assert len(got) == 12
    assert got[0][0].size == (240, 120)
    assert [d for _, d in got] == [40] * 12
    assert no_temp_files(tmp_path)


def test_clip_gif_durations_stay_real_time_for_fractional_fps(tmp_path):
    frames = (gradient(shift=9 * i) for i in range(24))  # a generator, not a sequence
    got = frames_of(A.save_clip_gif(frames, tmp_path / "c.gif", fps=24))
    durations = [d for _, d in got]
    assert len(durations) == 24
    assert all(abs(d - 1000 / 24) <= 10 and d % 10 == 0 for d in durations)
    assert sum(durations) == 1000


def test_clip_gif_subsamples_to_max_frames(tmp_path):
    frames = [gradient(shift=5 * i) for i in range(50)]
    got = frames_of(A.save_clip_gif(frames, tmp_path / "c.gif", fps=10, max_frames=10))
    assert len(got) == 10
    assert [d for _, d in got] == [500] * 10  # 5 source frames of 100 ms each
    # kept frames are 0, 5, 10, ...: frame k of the GIF matches source frame 5k
    for k in (0, 3, 9):
        err = np.abs(np.asarray(got[k][0], int) - frames[5 * k].astype(int)).mean()
        assert err < 4


def test_clip_timing_high_fps_never_below_20ms():
    kept, durations = A._clip_timing(120, 120.0, None)
    assert min(durations) >= 20
    assert sum(durations) == 1000
    assert kept[:3] == [0, 3, 6]


@pytest.mark.parametrize("kwargs", [{"fps": 0}, {"fps": -1}, {"fps": 10, "max_frames": 0}, {"fps": 10, "max_side": 0}])
def test_clip_gif_bad_options(tmp_path, kwargs):
    with pytest.raises(ValueError):
        A.save_clip_gif([gradient()], tmp_path / "c.gif", **kwargs)


def test_clip_gif_bad_frames(tmp_path):
    with pytest.raises(ValueError):
        A.save_clip_gif([], tmp_path / "c.gif", fps=10)
    with pytest.raises(ValueError):
        A.save_clip_gif([gradient(), gradient(64, 64)], tmp_path / "c.gif", fps=10)
    with pytest.raises(ValueError):
        A.save_clip_gif([gradient().astype(np.float32)], tmp_path / "c.gif", fps=10)


def test_side_by_side_gif(tmp_path):
    orig = [gradient(100, 200, shift=10 * i) for i in range(6)]
    styl = [np.ascontiguousarray(f[:, ::-1]) for f in orig]
    out = A.save_side_by_side_gif(orig, styl, tmp_path / "sbs.gif", fps=12, max_side=100)
    got = frames_of(out)
    assert len(got) == 6
    w, h = got[0][0].size
    assert h == 50 and 200 <= w <= 210  # two 100x50 panels and a thin gap
    left = np.asarray(got[2][0], int)[:25, :100]
    assert np.abs(left - np.asarray(Image.fromarray(orig[2]).resize((100, 50)), int)[:25]).mean() < 6
    with pytest.raises(ValueError):
        A.save_side_by_side_gif(orig, styl[:-1], tmp_path / "x.gif", fps=12)


def test_mosaic_gif_plays_clips_together_in_a_grid(tmp_path):
    clips = [[np.full((30, 40, 3), 60 * k + 10 * i, np.uint8) for i in range(5)] for k in range(3)]
    path = A.save_mosaic_gif(clips, tmp_path / "mosaic.gif", fps=10, columns=2, max_side=40, labels=["a", "b", "c"])
    with Image.open(path) as gif:
        frames = [f.convert("RGB") for f in ImageSequence.Iterator(gif)]
    gap = 2
    assert len(frames) == 5
    assert frames[0].size == (40 + gap + 40, 30 + gap + 30)  # two panels per row, two rows
    top_left, bottom_left = np.asarray(frames[4])[2, 2], np.asarray(frames[4])[34, 2]
    assert abs(int(top_left[0]) - 50) < 12 and abs(int(bottom_left[0]) - 170) < 12  # clip 0 frame 4, clip 2 frame 4
    with pytest.raises(ValueError, match="pair up"):
        A.save_mosaic_gif([clips[0], clips[1][:3]], tmp_path / "bad.gif", fps=10, columns=2)
    webp = A.save_mosaic_gif(clips, tmp_path / "mosaic.webp", fps=10, columns=3, max_side=40)
    with Image.open(webp) as animation:
        assert animation.format == "WEBP" and animation.n_frames == 5 and animation.size == (40 * 3 + 2 * gap, 30)


def test_stage_labels_name_the_stage_size_and_its_own_iteration():
    stages = [{"size": [512, 384], "iterations": 10}, {"size": [1024, 768], "iterations": 5}]
    snapshots = [(0, None), (1, None), (10, None), (11, None), (15, None)]
    assert A.stage_labels(snapshots, stages) == [
        "init",
        "512 px: iteration 1",
        "512 px: iteration 10",
        "1024 px: iteration 1",
        "1024 px: iteration 5",
    ]
    assert A.stage_labels(snapshots, stages[:1]) is None  # one stage: the plain labels


def test_progress_gif_takes_one_label_per_snapshot(tmp_path):
    snaps = [(0, gradient()), (1, gradient(shift=10))]
    A.save_progress_gif(snaps, tmp_path / "p.gif", labels=["a", "b"])
    with pytest.raises(ValueError, match="1 labels for 2 snapshots"):
        A.save_progress_gif(snaps, tmp_path / "q.gif", labels=["a"])
