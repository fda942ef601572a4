"""Loss plots from records: curves per iteration, and per-frame panels for a clip.

Matplotlib is used through ``Figure`` and the Agg canvas only (no pyplot global state).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .drawing import write_file

__all__ = ["save_loss_plot", "save_per_frame_plot"]

# Display name and colour of each loss term, in plot order ("total" last, on top).
_TERMS: dict[str, tuple[str, str]] = {
    "content": ("content", "tab:blue"),
    "style": ("style", "tab:orange"),
    "tv": ("total variation", "tab:green"),
    "temporal": ("temporal", "tab:purple"),
    "total": ("total", "black"),
}


def _term_values(rows: Sequence[Mapping], key: str) -> np.ndarray:
    vals = []
    for r in rows:
        v = r.get(key)
        try:
            v = float(v) if v is not None else math.nan
        except (TypeError, ValueError):
            v = math.nan
        vals.append(v)
    return np.asarray(vals, dtype=float)


def _plottable_terms(history: Sequence[Mapping]) -> list[str]:
    """Loss terms with at least one positive finite value (log scale), in plot order, "total" last."""
    out = []
    for key in _TERMS:
        v = _term_values(history, key)
        if np.any(np.isfinite(v) & (v > 0)):
            out.append(key)
    return out


def _x_values(rows: Sequence[Mapping], key: str, what: str) -> np.ndarray:
    if not rows:
        raise ValueError(f"{what} is empty: nothing to plot")
    xs = []
    for k, r in enumerate(rows):
        if not isinstance(r, Mapping) or key not in r:
            raise ValueError(f"{what} row {k}: expected a mapping with an {key!r} key")
        xs.append(r[key])
    try:
        return np.asarray(xs, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: {key!r} values must be numbers") from None


def _new_figure(width_in: float, height_in: float, title: str):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")
    fig.suptitle(textwrap.fill(" ".join(str(title).split()), width=110), fontsize=12)
    return fig


def _save_figure(fig, path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    return write_file(path, lambda fh: fig.savefig(fh, format=fmt))


def _plot_terms(ax, x: np.ndarray, rows: Sequence[Mapping], terms: list[str]) -> None:
    marker = "o" if len(x) <= 30 else None
    for key in terms:
        name, colour = _TERMS[key]
        v = _term_values(rows, key)
        v[~(np.isfinite(v) & (v > 0))] = np.nan
        bold = key == "total"
        ax.plot(
            x,
            v,
            label=name,
            color=colour,
            lw=2.6 if bold else 1.6,
            marker=marker,
            ms=4 if marker else None,
            zorder=3 if bold else 2,
        )
    if terms:
        ax.set_yscale("log")
        ax.legend(loc="best", fontsize=10, framealpha=0.85)
    else:
        ax.text(
            0.5, 0.5, "no positive loss values recorded", transform=ax.transAxes, ha="center", va="center", color="0.4"
        )
    ax.set_ylabel("loss")
    ax.grid(True, which="major", alpha=0.4)
    ax.grid(True, which="minor", alpha=0.12)


def save_loss_plot(
    history: Sequence[Mapping[str, float]], path, *, title: str, stages: Sequence[Mapping[str, Any]] = ()
) -> Path:
    """Loss curves vs iteration on a log y axis: one line per non-zero term, total in bold.

    A coarse-to-fine run (``stages``, rows tagged with their ``stage``) gets one segment per stage,
    split by a dashed line and named by its size: the losses of different sizes do not join up.
    """
    terms = _plottable_terms(history)
    rows = _split_stages(history) if len(stages) > 1 else list(history)
    x = _x_values(rows, "iteration", "history")
    fig = _new_figure(10, 6, title)
    ax = fig.add_subplot()
    _plot_terms(ax, x, rows, terms)
    if len(stages) > 1:
        _mark_stages(ax, history, stages)
    ax.set_xlabel("iteration" if len(stages) < 2 else "iteration (all stages, one after another)")
    return _save_figure(fig, path)


def _split_stages(history: Sequence[Mapping[str, float]]) -> list[Mapping[str, float]]:
    """``history`` with a gap (a row of no values) where the stage changes, so each stage's curve stands alone."""
    rows: list[Mapping[str, float]] = []
    for row in history:
        if rows and row.get("stage") != rows[-1].get("stage"):
            rows.append({"iteration": row["iteration"]})
        rows.append(row)
    return rows


def _mark_stages(ax, history: Sequence[Mapping[str, float]], stages: Sequence[Mapping[str, Any]]) -> None:
    """A dashed line where each stage after the first begins, and each stage's size above its segment."""
    for number, stage in enumerate(stages, start=1):
        its = [row["iteration"] for row in history if row.get("stage") == number]
        if not its:
            continue
        if number > 1:
            ax.axvline(its[0], color="tab:gray", ls="--", lw=1.2, zorder=0)
        ax.annotate(
            f"stage {number}: {max(stage['size'])} px",
            xy=(its[0], 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(4, -12),
            textcoords="offset points",
            color="0.3",
            fontsize=9,
        )


def _per_frame_panels(rows: Sequence[Mapping]) -> list[str]:
    """Panels for :func:`save_per_frame_plot`: "losses", then "iterations"/"warping_error" if recorded."""
    panels = ["losses"]
    if np.any(np.isfinite(_term_values(rows, "iterations"))):
        panels.append("iterations")
    if np.any(np.isfinite(_term_values(rows, "warping_error"))):
        panels.append("warping_error")
    return panels


def save_per_frame_plot(
    rows: Sequence[Mapping[str, float | None]], path, *, title: str, cuts: Sequence[int] = ()
) -> Path:
    """Stacked per-frame panels sharing x=frame: final losses (log), iterations used, warping error.

    ``cuts``: frames that open a new shot, marked by a dashed vertical line just before them.
    """
    x = _x_values(rows, "frame", "rows")
    panels = _per_frame_panels(rows)
    heights = {"losses": 2.0, "iterations": 1.0, "warping_error": 1.2}
    fig = _new_figure(10, 1.0 + 2.3 * sum(heights[p] for p in panels), title)
    axes = fig.subplots(
        len(panels), 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": [heights[p] for p in panels]}
    )[:, 0]
    for ax, panel in zip(axes, panels):
        if panel == "losses":
            _plot_terms(ax, x, rows, _plottable_terms(rows))
            ax.set_ylabel("final loss")
        elif panel == "iterations":
            v = _term_values(rows, "iterations")
            if len(x) <= 150:
                ax.bar(x, np.nan_to_num(v), width=0.8, color="tab:gray")
            else:
                ax.fill_between(x, np.nan_to_num(v), step="mid", color="tab:gray", alpha=0.7, lw=0)
            ax.set_ylabel("iterations")
            ax.set_ylim(bottom=0)
            ax.grid(True, axis="y", alpha=0.4)
        else:
            v = _term_values(rows, "warping_error")
            ax.plot(x, v, color="tab:red", lw=1.6, marker="o" if len(x) <= 60 else None, ms=4)
            ax.set_ylabel("warping error")
            ax.grid(True, alpha=0.4)
    for cut in cuts:
        for ax in axes:
            ax.axvline(cut - 0.5, color="tab:purple", ls="--", lw=1.2, zorder=0)
        axes[0].annotate(
            "cut",
            xy=(cut - 0.5, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, -10),
            textcoords="offset points",
            color="tab:purple",
            fontsize=8,
        )
    axes[-1].set_xlabel("frame")
    if len(x) <= 30:
        axes[-1].xaxis.get_major_locator().set_params(integer=True)
    return _save_figure(fig, path)
