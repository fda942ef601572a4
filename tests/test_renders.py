"""Tests for stylevid.pipeline.render.renders: GIFs, plots and grids rendered from records."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageSequence

from stylevid.pipeline.render import renders as R


def gradient(h: int = 96, w: int = 128, shift: int = 0) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 255 // max(1, w - 1) + shift) % 256, y * 255 // max(1, h - 1),
                    np.full_like(x, 128)], axis=-1)
    return img.astype(np.uint8)


def frames_of(path) -> list[tuple[Image.Image, int]]:
    with Image.open(path) as im:
        return [(f.convert("RGB").copy(), f.info.get("duration")) for f in ImageSequence.Iterator(im)]


def no_temp_files(folder) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


# --------------------------------------------------------------------------- snapshot_iterations


def test_snapshot_iterations():
    assert R.snapshot_iterations(500) == [1, 2, 5, 10, 20, 50, 100, 200, 500]
    assert R.snapshot_iterations(37) == [1, 2, 5, 10, 20, 37]
    assert R.snapshot_iterations(1) == [1]
    assert R.snapshot_iterations(1000)[-3:] == [200, 500, 1000]
    assert R.snapshot_iterations(6000)[-3:] == [2000, 5000, 6000]
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError):
            R.snapshot_iterations(bad)


# --------------------------------------------------------------------------- progress GIF


def test_progress_gif_frames_hold_loop_size(tmp_path):
    its = [0, *R.snapshot_iterations(50)]
    snaps = [(it, gradient(shift=10 * k)) for k, it in enumerate(its)]
    out = R.save_progress_gif(snaps, tmp_path / "p.gif", frame_ms=300, hold_last_ms=2000)
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
    out = R.save_progress_gif([(0, src), (10, src.copy())], tmp_path / "l.gif")
    for frame, _ in frames_of(out):
        got = np.asarray(frame).astype(int)
        diff = np.abs(got - src.astype(int)).mean(axis=2)
        assert diff[:100].mean() < 4  # top half: picture (up to quantisation noise)
        assert diff[-8:].mean() > 40  # bottom rows: dark label band
    # the two labels ("init", "iteration 10") differ, so the bands differ
    (a, _), (b, _) = frames_of(out)
    assert np.abs(np.asarray(a, int)[-30:] - np.asarray(b, int)[-30:]).max() > 100


def test_progress_gif_single_snapshot(tmp_path):
    out = R.save_progress_gif([(7, gradient())], tmp_path / "one.gif", hold_last_ms=1234)
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
        R.save_progress_gif(snaps, tmp_path / "bad.gif")
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- clip GIFs


def test_clip_gif_downscale_and_durations(tmp_path):
    frames = [gradient(300, 600, shift=20 * i) for i in range(12)]
    out = R.save_clip_gif(frames, tmp_path / "c.gif", fps=25, max_side=240)
    got = frames_of(out)
    assert len(got) == 12
    assert got[0][0].size == (240, 120)
    assert [d for _, d in got] == [40] * 12
    assert no_temp_files(tmp_path)


def test_clip_gif_durations_stay_real_time_for_fractional_fps(tmp_path):
    frames = (gradient(shift=9 * i) for i in range(24))  # a generator, not a sequence
    got = frames_of(R.save_clip_gif(frames, tmp_path / "c.gif", fps=24))
    durations = [d for _, d in got]
    assert len(durations) == 24
    assert all(abs(d - 1000 / 24) <= 10 and d % 10 == 0 for d in durations)
    assert sum(durations) == 1000


def test_clip_gif_subsamples_to_max_frames(tmp_path):
    frames = [gradient(shift=5 * i) for i in range(50)]
    got = frames_of(R.save_clip_gif(frames, tmp_path / "c.gif", fps=10, max_frames=10))
    assert len(got) == 10
    assert [d for _, d in got] == [500] * 10  # 5 source frames of 100 ms each
    # kept frames are 0, 5, 10, ...: frame k of the GIF matches source frame 5k
    for k in (0, 3, 9):
        err = np.abs(np.asarray(got[k][0], int) - frames[5 * k].astype(int)).mean()
        assert err < 4


def test_clip_timing_high_fps_never_below_20ms():
    kept, durations = R._clip_timing(120, 120.0, None)
    assert min(durations) >= 20
    assert sum(durations) == 1000
    assert kept[:3] == [0, 3, 6]


@pytest.mark.parametrize("kwargs", [{"fps": 0}, {"fps": -1}, {"fps": 10, "max_frames": 0}, {"fps": 10, "max_side": 0}])
def test_clip_gif_bad_options(tmp_path, kwargs):
    with pytest.raises(ValueError):
        R.save_clip_gif([gradient()], tmp_path / "c.gif", **kwargs)


def test_clip_gif_bad_frames(tmp_path):
    with pytest.raises(ValueError):
        R.save_clip_gif([], tmp_path / "c.gif", fps=10)
    with pytest.raises(ValueError):
        R.save_clip_gif([gradient(), gradient(64, 64)], tmp_path / "c.gif", fps=10)
    with pytest.raises(ValueError):
        R.save_clip_gif([gradient().astype(np.float32)], tmp_path / "c.gif", fps=10)


def test_side_by_side_gif(tmp_path):
    orig = [gradient(100, 200, shift=10 * i) for i in range(6)]
    styl = [np.ascontiguousarray(f[:, ::-1]) for f in orig]
    out = R.save_side_by_side_gif(orig, styl, tmp_path / "sbs.gif", fps=12, max_side=100)
    got = frames_of(out)
    assert len(got) == 6
    w, h = got[0][0].size
    assert h == 50 and 200 <= w <= 210  # two 100x50 panels and a thin gap
    left = np.asarray(got[2][0], int)[:25, :100]
    assert np.abs(left - np.asarray(Image.fromarray(orig[2]).resize((100, 50)), int)[:25]).mean() < 6
    with pytest.raises(ValueError):
        R.save_side_by_side_gif(orig, styl[:-1], tmp_path / "x.gif", fps=12)


# --------------------------------------------------------------------------- plots


def loss_history(n: int = 30) -> list[dict]:
    rows = []
    for i in range(n):
        c, s = 10.0 + i, 1e6 / (1 + i)
        rows.append({"iteration": i * 10, "content": c, "style": s, "tv": 0.0, "temporal": 0.0, "total": c + s})
    return rows


def assert_png(path, min_size=(800, 450)):
    assert path.exists() and path.stat().st_size > 5_000
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.width >= min_size[0] and im.height >= min_size[1]
        im.verify()


def test_loss_plot(tmp_path):
    hist = loss_history()
    assert R._plottable_terms(hist) == ["content", "style", "total"]  # zero tv/temporal skipped
    out = R.save_loss_plot(hist, tmp_path / "loss.png", title="a long settings string " * 12)
    assert_png(out)
    with Image.open(out) as im:
        assert im.size == (1000, 600)
    assert no_temp_files(tmp_path)


def test_loss_plot_missing_terms_and_bad_input(tmp_path):
    hist = [{"iteration": i, "total": 1.0 / (i + 1)} for i in range(5)]
    assert R._plottable_terms(hist) == ["total"]
    assert_png(R.save_loss_plot(hist, tmp_path / "l.png", title="t"))
    assert R._plottable_terms([{"iteration": 0, "tv": 3.0}, {"iteration": 1, "tv": None}]) == ["tv"]
    with pytest.raises(ValueError):
        R.save_loss_plot([], tmp_path / "e.png", title="t")
    with pytest.raises(ValueError):
        R.save_loss_plot([{"total": 1.0}], tmp_path / "e.png", title="t")


def per_frame_rows(n: int = 12, warp: bool = True) -> list[dict]:
    rows = []
    for f in range(n):
        row = {"frame": f, "content": 100.0 + f, "style": 1e4 / (f + 1), "tv": 0.0,
               "temporal": 0.0 if f == 0 else 50.0, "total": 1e4, "iterations": 300 if f == 0 else 150}
        if warp:
            row["warping_error"] = None if f == 0 else 0.01 * f
        rows.append(row)
    return rows


def test_per_frame_plot_with_warping_error(tmp_path):
    rows = per_frame_rows()
    assert R._per_frame_panels(rows) == ["losses", "iterations", "warping_error"]
    assert_png(R.save_per_frame_plot(rows, tmp_path / "pf.png", title="clip"))


def test_per_frame_plot_without_warping_error(tmp_path):
    rows = per_frame_rows(warp=False)
    assert R._per_frame_panels(rows) == ["losses", "iterations"]
    all_none = [dict(r, warping_error=None) for r in rows]
    assert R._per_frame_panels(all_none) == ["losses", "iterations"]
    a = R.save_per_frame_plot(rows, tmp_path / "pf.png", title="clip")
    assert_png(a)
    b = R.save_per_frame_plot(per_frame_rows(), tmp_path / "pf3.png", title="clip")
    with Image.open(a) as ia, Image.open(b) as ib:
        assert ib.height > ia.height  # the third panel adds height
    with pytest.raises(ValueError):
        R.save_per_frame_plot([{"total": 1.0}], tmp_path / "x.png", title="t")


# --------------------------------------------------------------------------- grid


def test_image_grid(tmp_path):
    images = [[gradient(50, 100), gradient(100, 50)], [gradient(20, 20), None]]
    out = R.save_image_grid(images, tmp_path / "g.png", row_labels=["α=1 β=1e3", "α=1 β=1e4"],
                            col_labels=["style A", "style B"], cell_side=64)
    with Image.open(out) as im:
        assert im.format == "PNG"
        w, h = im.size
        assert w > 2 * 64 and h > 2 * 64
        px = np.asarray(im.convert("RGB"))
    # bottom-right cell (None) is the plain letterbox colour, no picture
    cell = px[h - 4 - 64 + 5: h - 4 - 5, w - 4 - 64 + 5: w - 4 - 5]
    assert (cell == cell[0, 0]).all()
    unlabelled = R.save_image_grid([[gradient()]], tmp_path / "u.jpg", cell_side=32)
    with Image.open(unlabelled) as im:
        assert im.format == "JPEG" and im.size == (32 + 2 * 4, 32 + 2 * 4)
    assert no_temp_files(tmp_path)


@pytest.mark.parametrize(
    "images, kwargs",
    [
        ([], {}),
        ([[]], {}),
        ([[np.zeros((4, 4, 3), np.float64)]], {}),
        ([[gradient()]], {"row_labels": ["a", "b"]}),
        ([[gradient()]], {"col_labels": []}),
    ],
)
def test_image_grid_bad_input(tmp_path, images, kwargs):
    with pytest.raises(ValueError):
        R.save_image_grid(images, tmp_path / "g.png", **kwargs)


# --------------------------------------------------------------------------- atomic writes


def test_failed_write_leaves_no_temp_and_keeps_old_file(tmp_path):
    target = tmp_path / "keep.png"
    target.write_bytes(b"old")

    def boom(fh):
        fh.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        R._atomic_write(target, boom)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_overwrite_replaces_file(tmp_path):
    target = tmp_path / "loss.png"
    target.write_bytes(b"stale")
    R.save_loss_plot(loss_history(5), target, title="t")
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]


def test_mosaic_gif_plays_clips_together_in_a_grid(tmp_path):
    clips = [[np.full((30, 40, 3), 60 * k + 10 * i, np.uint8) for i in range(5)] for k in range(3)]
    path = R.save_mosaic_gif(clips, tmp_path / "mosaic.gif", fps=10, columns=2, max_side=40, labels=["a", "b", "c"])
    with Image.open(path) as gif:
        frames = [f.convert("RGB") for f in ImageSequence.Iterator(gif)]
    gap = 2
    assert len(frames) == 5
    assert frames[0].size == (40 + gap + 40, 30 + gap + 30)  # two panels per row, two rows
    top_left, bottom_left = np.asarray(frames[4])[2, 2], np.asarray(frames[4])[34, 2]
    assert abs(int(top_left[0]) - 50) < 12 and abs(int(bottom_left[0]) - 170) < 12  # clip 0 frame 4, clip 2 frame 4
    with pytest.raises(ValueError, match="pair up"):
        R.save_mosaic_gif([clips[0], clips[1][:3]], tmp_path / "bad.gif", fps=10, columns=2)
    webp = R.save_mosaic_gif(clips, tmp_path / "mosaic.webp", fps=10, columns=3, max_side=40)
    with Image.open(webp) as animation:
        assert animation.format == "WEBP" and animation.n_frames == 5 and animation.size == (40 * 3 + 2 * gap, 30)
