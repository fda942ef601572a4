"""Tests for stylevid.pipeline.render.plots: loss curves and per-frame panels."""

from __future__ import annotations

import pytest
from PIL import Image
from render_samples import no_temp_files

from stylevid.pipeline.render import plots as P


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
    assert P._plottable_terms(hist) == ["content", "style", "total"]  # zero tv/temporal skipped
    out = P.save_loss_plot(hist, tmp_path / "loss.png", title="a long settings string " * 12)
    assert_png(out)
    with Image.open(out) as im:
        assert im.size == (1000, 600)
    assert no_temp_files(tmp_path)


def test_loss_plot_missing_terms_and_bad_input(tmp_path):
    hist = [{"iteration": i, "total": 1.0 / (i + 1)} for i in range(5)]
    assert P._plottable_terms(hist) == ["total"]
    assert_png(P.save_loss_plot(hist, tmp_path / "l.png", title="t"))
    assert P._plottable_terms([{"iteration": 0, "tv": 3.0}, {"iteration": 1, "tv": None}]) == ["tv"]
    with pytest.raises(ValueError):
        P.save_loss_plot([], tmp_path / "e.png", title="t")
    with pytest.raises(ValueError):
        P.save_loss_plot([{"total": 1.0}], tmp_path / "e.png", title="t")


def per_frame_rows(n: int = 12, warp: bool = True) -> list[dict]:
    rows = []
    for f in range(n):
        row = {
            "frame": f,
            "content": 100.0 + f,
            "style": 1e4 / (f + 1),
            "tv": 0.0,
            "temporal": 0.0 if f == 0 else 50.0,
            "total": 1e4,
            "iterations": 300 if f == 0 else 150,
        }
        if warp:
            row["warping_error"] = None if f == 0 else 0.01 * f
        rows.append(row)
    return rows


def test_per_frame_plot_with_warping_error(tmp_path):
    rows = per_frame_rows()
    assert P._per_frame_panels(rows) == ["losses", "iterations", "warping_error"]
    assert_png(P.save_per_frame_plot(rows, tmp_path / "pf.png", title="clip"))


def test_per_frame_plot_without_warping_error(tmp_path):
    rows = per_frame_rows(warp=False)
    assert P._per_frame_panels(rows) == ["losses", "iterations"]
    all_none = [dict(r, warping_error=None) for r in rows]
    assert P._per_frame_panels(all_none) == ["losses", "iterations"]
    a = P.save_per_frame_plot(rows, tmp_path / "pf.png", title="clip")
    assert_png(a)
    b = P.save_per_frame_plot(per_frame_rows(), tmp_path / "pf3.png", title="clip")
    with Image.open(a) as ia, Image.open(b) as ib:
        assert ib.height > ia.height  # the third panel adds height
    with pytest.raises(ValueError):
        P.save_per_frame_plot([{"total": 1.0}], tmp_path / "x.png", title="t")


def test_overwrite_replaces_file(tmp_path):
    target = tmp_path / "loss.png"
    target.write_bytes(b"stale")
    P.save_loss_plot(loss_history(5), target, title="t")
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]


def test_every_loss_term_the_engine_records_has_a_plot_style():
    from stylevid.pipeline.engine.terms import LOSS_TERMS
    from stylevid.pipeline.render import plots

    assert set(plots._TERMS) == set(LOSS_TERMS)


def test_loss_plot_of_stages_splits_them(tmp_path):
    first = [{**row, "stage": 1} for row in loss_history(6)]  # iterations 0…50
    second = [{**row, "iteration": row["iteration"] + 50, "total": row["total"] * 4, "stage": 2} for row in first]
    history = first + second
    rows = P._split_stages(history)
    assert len(rows) == len(history) + 1 and rows[len(first)] == {"iteration": 50}  # a gap: no line joins the stages
    stages = [{"size": [64, 48], "iterations": 50}, {"size": [128, 96], "iterations": 50}]
    out = P.save_loss_plot(history, tmp_path / "loss.png", title="stages", stages=stages)
    assert_png(out)
