"""Pictures made from records: progress GIFs, clip previews, loss plots, image grids.

Everything here renders from data already produced (numpy ``HxWx3`` uint8 RGB arrays and
plain dicts/lists); nothing re-runs the optimisation. No torch. Matplotlib is used through
``Figure`` + the Agg canvas only (no pyplot global state). Every write is atomic: a temp
file in the destination folder, then ``os.replace``.
"""

from __future__ import annotations

import functools
import math
import os
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..io.images import atomic_write

__all__ = [
    "snapshot_iterations",
    "save_progress_gif",
    "save_clip_gif",
    "save_side_by_side_gif",
    "save_mosaic_gif",
    "save_loss_plot",
    "save_per_frame_plot",
    "save_image_grid",
]

# Loss terms in plot order, with display names and colours.
_TERMS: dict[str, tuple[str, str]] = {
    "content": ("content", "tab:blue"),
    "style": ("style", "tab:orange"),
    "tv": ("total variation", "tab:green"),
    "temporal": ("temporal", "tab:purple"),
    "total": ("total", "black"),
}
_GIF_MIN_MS = 20  # browsers play 0/10 ms delays at ~100 ms; 20 ms is the shortest safe delay
_GIF_MAX_FPS = 1000 / _GIF_MIN_MS


# --------------------------------------------------------------------------- helpers


def _atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(fileobj)`` on a temp file next to ``path``, then move it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write)
    return path


def _check_rgb(arr: object, what: str) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{what}: expected a numpy array, got {type(arr).__name__}")
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{what}: expected an HxWx3 RGB array, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"{what}: expected dtype uint8, got {arr.dtype}")
    return np.ascontiguousarray(arr)


def _to_image(arr: object, what: str) -> Image.Image:
    return Image.fromarray(_check_rgb(arr, what), "RGB")


def _check_positive(value: float, what: str) -> float:
    if not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive number, got {value!r}")
    return float(value)


def _check_max_side(max_side: int) -> int:
    if not isinstance(max_side, (int, np.integer)) or max_side < 16:
        raise ValueError(f"max_side must be an integer >= 16, got {max_side!r}")
    return int(max_side)


def _gif_ms(ms: float) -> int:
    """Milliseconds rounded to GIF's 10 ms units, at least 20 ms."""
    return max(_GIF_MIN_MS, 10 * int(math.floor(ms / 10 + 0.5)))


@functools.cache
def _font(size: int, bold: bool = True) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans from matplotlib's data (wide glyph coverage, e.g. α β); Pillow's default otherwise."""
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(os.path.join(matplotlib.get_data_path(), "fonts", "ttf", name), size)
    except OSError:
        return ImageFont.load_default(size=size)


def _text_width(font, text: str) -> int:
    left, _, right, _ = font.getbbox(text)
    return right - left


def _fit_size(w: int, h: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _downscale(img: Image.Image, max_side: int) -> Image.Image:
    size = _fit_size(*img.size, max_side)
    return img if size == img.size else img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _draw_band_label(img: Image.Image, text: str) -> Image.Image:
    """``img`` with ``text`` in white on a dark semi-opaque band along the bottom."""
    w, h = img.size
    size = max(9, round(min(w, h) * 0.05))
    font = _font(size)
    pad = max(2, round(size * 0.35))
    while size > 9 and _text_width(font, text) > w - 2 * pad:
        size -= 1
        font = _font(size)
    ascent, descent = font.getmetrics()
    band = min(h, ascent + descent + 2 * pad)
    overlay = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((0, h - band, w, h), fill=(0, 0, 0, 175))
    draw.text((w / 2, h - band / 2), text, font=font, fill=(255, 255, 255, 255), anchor="mm")
    return Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB")


def _palette_from(images: Sequence[Image.Image], side: int = 160) -> Image.Image:
    """An adaptive 256-colour palette for some images together: median cut + one k-means pass
    on small copies (fast, and better than median cut alone), with pure white and black kept
    so label text stays crisp."""
    thumbs = [im.copy() for im in images]
    for t in thumbs:
        t.thumbnail((side, side), Image.Resampling.BOX)
    mosaic = Image.new("RGB", (sum(t.width for t in thumbs), max(t.height for t in thumbs)))
    x = 0
    for t in thumbs:
        mosaic.paste(t, (x, 0))
        x += t.width
    colours = mosaic.quantize(254, method=Image.Quantize.MEDIANCUT, kmeans=1).getpalette()[: 254 * 3]
    colours += [0] * (254 * 3 - len(colours)) + [255, 255, 255, 0, 0, 0]
    palette = Image.new("P", (1, 1))
    palette.putpalette(colours)
    return palette


def _quantize(img: Image.Image, palette: Image.Image | None = None) -> Image.Image:
    """RGB → P with Floyd–Steinberg dithering onto ``palette`` (adaptive for ``img`` if None)."""
    if palette is None:
        palette = _palette_from([img], side=192)
    return img.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)


def _write_gif(frames: Sequence[Image.Image], durations: Sequence[int], path) -> Path:
    """Animated GIF, looping forever. Pillow merges identical consecutive frames (durations summed)."""

    def write(fh: BinaryIO) -> None:
        frames[0].save(
            fh,
            format="GIF",
            save_all=True,
            append_images=list(frames[1:]),
            duration=list(durations),
            loop=0,
            disposal=1,
        )

    return _atomic_write(path, write)


def _indexable(items: Iterable, convert: Callable[[object, int], Image.Image]):
    """(n, get) over ``items``: lazy for sequences, materialised (after ``convert``) otherwise."""
    if hasattr(items, "__len__") and hasattr(items, "__getitem__") and not isinstance(items, np.ndarray):
        seq = items
        return len(seq), lambda i: convert(seq[i], i)
    if isinstance(items, np.ndarray):  # an NxHxWx3 stack
        if items.ndim != 4:
            raise ValueError(f"a frame stack must be NxHxWx3, got shape {items.shape}")
        return items.shape[0], lambda i: convert(items[i], i)
    done = [convert(x, i) for i, x in enumerate(items)]
    return len(done), done.__getitem__


def _clip_timing(n: int, fps: float, max_frames: int | None) -> tuple[list[int], list[int]]:
    """Kept frame indices and their GIF durations (ms) so playback stays real-time.

    Above 50 fps every k-th frame is kept so no delay drops under 20 ms; ``max_frames`` then
    subsamples evenly. Durations come from rounding the kept frames' timestamps to 10 ms, so
    rounding errors do not accumulate (e.g. 24 fps gives 40, 40, 50, ... ms).
    """
    stride = max(1, math.ceil(fps / _GIF_MAX_FPS - 1e-9))
    kept = list(range(0, n, stride))
    if max_frames is not None and len(kept) > max_frames:
        kept = [kept[(i * len(kept)) // max_frames] for i in range(max_frames)]
    stamps = [10 * math.floor(i * 100 / fps + 0.5) for i in [*kept, n]]  # ms, 10 ms units
    durations = [max(_GIF_MIN_MS, b - a) for a, b in zip(stamps, stamps[1:])]
    return kept, durations


def _clip_gif(n: int, get: Callable[[int], Image.Image], path, fps: float, max_frames: int | None) -> Path:
    if n == 0:
        raise ValueError("no frames to render")
    kept, durations = _clip_timing(n, fps, max_frames)
    webp = Path(path).suffix.lower() == ".webp"  # animated WebP: full colour, a fraction of a GIF's size
    palette = None
    if not webp:
        sample = [get(kept[(i * len(kept)) // min(8, len(kept))]) for i in range(min(8, len(kept)))]
        palette = _palette_from(sample)
    frames: list[Image.Image] = []
    for i in kept:
        img = get(i)
        if frames and img.size != frames[0].size:
            raise ValueError(f"frame {i} is {img.size[0]}x{img.size[1]}, frame 0 is {frames[0].size[0]}x{frames[0].size[1]}; all frames must have one size")
        frames.append(img if webp else _quantize(img, palette))
    return _write_webp(frames, durations, path) if webp else _write_gif(frames, durations, path)


def _write_webp(frames: Sequence[Image.Image], durations: Sequence[int], path) -> Path:
    """Animated WebP (lossy, quality 80), looping forever."""

    def write(fh: BinaryIO) -> None:
        frames[0].save(fh, format="WEBP", save_all=True, append_images=list(frames[1:]), duration=list(durations),
                       loop=0, quality=80, method=4)

    return _atomic_write(path, write)


def _check_max_frames(max_frames: int | None) -> int | None:
    if max_frames is not None and (not isinstance(max_frames, (int, np.integer)) or max_frames < 1):
        raise ValueError(f"max_frames must be None or an integer >= 1, got {max_frames!r}")
    return None if max_frames is None else int(max_frames)


# --------------------------------------------------------------------------- public API


def snapshot_iterations(total: int) -> list[int]:
    """Paper-style log-spaced iterations 1, 2, 5, 10, 20, 50, ... up to ``total``, plus ``total``."""
    if isinstance(total, bool) or not isinstance(total, (int, np.integer)) or total < 1:
        raise ValueError(f"total must be an integer >= 1, got {total!r}")
    total = int(total)
    out: set[int] = {total}
    decade = 1
    while decade <= total:
        out.update(m * decade for m in (1, 2, 5) if m * decade <= total)
        decade *= 10
    return sorted(out)


def save_progress_gif(
    snapshots: Sequence[tuple[int, np.ndarray]],
    path,
    *,
    frame_ms: int = 600,
    hold_last_ms: int = 2500,
    label: str = "iteration {}",
) -> Path:
    """GIF of optimisation snapshots, each labelled with its iteration ("init" for 0); loops forever."""
    if not snapshots:
        raise ValueError("snapshots is empty: nothing to animate")
    _check_positive(frame_ms, "frame_ms")
    _check_positive(hold_last_ms, "hold_last_ms")
    frames: list[Image.Image] = []
    last_it = -1
    for k, item in enumerate(snapshots):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ValueError(f"snapshot {k}: expected an (iteration, image) pair")
        it, arr = item
        if isinstance(it, bool) or not isinstance(it, (int, np.integer)) or it < 0:
            raise ValueError(f"snapshot {k}: iteration must be an integer >= 0, got {it!r}")
        if it <= last_it:
            raise ValueError(f"snapshot {k}: iterations must increase, got {it} after {last_it}")
        last_it = int(it)
        img = _to_image(arr, f"snapshot {k} (iteration {it})")
        if frames and img.size != frames[0].size:
            raise ValueError(f"snapshot {k} is {img.width}x{img.height}, snapshot 0 is {frames[0].width}x{frames[0].height}; all must have one size")
        text = "init" if it == 0 else label.format(int(it))
        frames.append(_quantize(_draw_band_label(img, text)))
    durations = [_gif_ms(frame_ms)] * (len(frames) - 1) + [_gif_ms(hold_last_ms)]
    return _write_gif(frames, durations, path)


def save_clip_gif(
    frames: Iterable[np.ndarray],
    path,
    *,
    fps: float,
    max_side: int = 480,
    max_frames: int | None = None,
) -> Path:
    """Preview GIF of a clip: long side <= ``max_side``, real-time playback, at most ``max_frames`` frames.

    Pass a sequence (or an NxHxWx3 array) to have only the kept frames read; other iterables are
    read through once, keeping downscaled copies.
    """
    fps = _check_positive(fps, "fps")
    max_side = _check_max_side(max_side)
    max_frames = _check_max_frames(max_frames)
    n, get = _indexable(frames, lambda a, i: _downscale(_to_image(a, f"frame {i}"), max_side))
    return _clip_gif(n, get, path, fps, max_frames)


def save_side_by_side_gif(
    originals: Iterable[np.ndarray],
    stylised: Iterable[np.ndarray],
    path,
    *,
    fps: float,
    max_side: int = 480,
    labels: tuple[str, str] | None = ("original", "stylised"),
    max_frames: int | None = None,
) -> Path:
    """Before/after GIF: each frame is original | stylised (each panel's long side <= ``max_side``)."""
    if labels is not None and (len(labels) != 2 or not all(isinstance(s, str) for s in labels)):
        raise ValueError(f"labels must be None or two strings, got {labels!r}")
    return save_mosaic_gif([originals, stylised], path, fps=fps, columns=2, max_side=max_side, labels=labels,
                           max_frames=max_frames, names=("original", "stylised"))


def save_mosaic_gif(
    clips: Sequence[Iterable[np.ndarray]],
    path,
    *,
    fps: float,
    columns: int,
    max_side: int = 480,
    labels: Sequence[str] | None = None,
    max_frames: int | None = None,
    names: Sequence[str] | None = None,
) -> Path:
    """Several clips of equal length playing together, in a grid of ``columns`` panels per row.

    Each panel's long side is at most ``max_side``; panels of a row share its height. ``labels``
    (one per clip) are drawn on a band along each panel's bottom. A ``.webp`` path writes an
    animated WebP (full colour, much smaller than a GIF) instead of a GIF.
    """
    fps = _check_positive(fps, "fps")
    max_side = _check_max_side(max_side)
    max_frames = _check_max_frames(max_frames)
    if not clips:
        raise ValueError("clips must not be empty")
    if not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be a positive integer, got {columns!r}")
    if labels is not None and len(labels) != len(clips):
        raise ValueError(f"{len(labels)} labels for {len(clips)} clips")
    names = names or [f"clip {k}" for k in range(len(clips))]
    readers = [_indexable(clip, lambda a, i, name=name: _downscale(_to_image(a, f"{name} frame {i}"), max_side))
               for clip, name in zip(clips, names)]
    counts = {n for n, _ in readers}
    if len(counts) != 1:
        raise ValueError(f"clips have {' and '.join(str(n) for n, _ in readers)} frames; they must pair up")
    gap = max(2, max_side // 160)

    def mosaic(i: int) -> Image.Image:
        panels = [get(i) for _, get in readers]
        if labels is not None:
            panels = [_draw_band_label(p, t) for p, t in zip(panels, labels)]
        rows = [panels[k : k + columns] for k in range(0, len(panels), columns)]
        fitted = []
        for row in rows:
            h = min(p.height for p in row)
            fitted.append([p if p.height == h else p.resize((max(1, round(p.width * h / p.height)), h), Image.Resampling.LANCZOS) for p in row])
        width = max(sum(p.width for p in row) + gap * (len(row) - 1) for row in fitted)
        height = sum(row[0].height for row in fitted) + gap * (len(fitted) - 1)
        out = Image.new("RGB", (width, height), (24, 24, 24))
        y = 0
        for row in fitted:
            x = 0
            for p in row:
                out.paste(p, (x, y))
                x += p.width + gap
            y += row[0].height + gap
        return out

    return _clip_gif(counts.pop(), mosaic, path, fps, max_frames)


# --------------------------------------------------------------------------- plots


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
    return _atomic_write(path, lambda fh: fig.savefig(fh, format=fmt))


def _plot_terms(ax, x: np.ndarray, rows: Sequence[Mapping], terms: list[str]) -> None:
    marker = "o" if len(x) <= 30 else None
    for key in terms:
        name, colour = _TERMS[key]
        v = _term_values(rows, key)
        v[~(np.isfinite(v) & (v > 0))] = np.nan
        bold = key == "total"
        ax.plot(x, v, label=name, color=colour, lw=2.6 if bold else 1.6, marker=marker,
                ms=4 if marker else None, zorder=3 if bold else 2)
    if terms:
        ax.set_yscale("log")
        ax.legend(loc="best", fontsize=10, framealpha=0.85)
    else:
        ax.text(0.5, 0.5, "no positive loss values recorded", transform=ax.transAxes,
                ha="center", va="center", color="0.4")
    ax.set_ylabel("loss")
    ax.grid(True, which="major", alpha=0.4)
    ax.grid(True, which="minor", alpha=0.12)


def save_loss_plot(history: Sequence[Mapping[str, float]], path, *, title: str) -> Path:
    """Loss curves vs iteration on a log y axis: one line per non-zero term, total in bold."""
    x = _x_values(history, "iteration", "history")
    fig = _new_figure(10, 6, title)
    ax = fig.add_subplot()
    _plot_terms(ax, x, history, _plottable_terms(history))
    ax.set_xlabel("iteration")
    return _save_figure(fig, path)


def _per_frame_panels(rows: Sequence[Mapping]) -> list[str]:
    """Panels for :func:`save_per_frame_plot`: "losses", then "iterations"/"warping_error" if recorded."""
    panels = ["losses"]
    if np.any(np.isfinite(_term_values(rows, "iterations"))):
        panels.append("iterations")
    if np.any(np.isfinite(_term_values(rows, "warping_error"))):
        panels.append("warping_error")
    return panels


def save_per_frame_plot(rows: Sequence[Mapping[str, float]], path, *, title: str) -> Path:
    """Stacked per-frame panels sharing x=frame: final losses (log), iterations used, warping error."""
    x = _x_values(rows, "frame", "rows")
    panels = _per_frame_panels(rows)
    heights = {"losses": 2.0, "iterations": 1.0, "warping_error": 1.2}
    fig = _new_figure(10, 1.0 + 2.3 * sum(heights[p] for p in panels), title)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False,
                        gridspec_kw={"height_ratios": [heights[p] for p in panels]})[:, 0]
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
    axes[-1].set_xlabel("frame")
    if len(x) <= 30:
        axes[-1].xaxis.get_major_locator().set_params(integer=True)
    return _save_figure(fig, path)


# --------------------------------------------------------------------------- grid


def _wrap_px(text: str, font, width: int) -> list[str]:
    """Greedy word wrap of ``text`` to ``width`` pixels (long words are left whole)."""
    lines: list[str] = []
    for para in str(text).split("\n"):
        line = ""
        for word in para.split():
            trial = f"{line} {word}".strip()
            if line and _text_width(font, trial) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


def save_image_grid(
    images: Sequence[Sequence[np.ndarray | None]],
    path,
    *,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    cell_side: int = 256,
) -> Path:
    """A labelled grid of images, each letterboxed into a ``cell_side`` square (None = empty cell)."""
    if not images or not all(isinstance(r, Sequence) and len(r) > 0 for r in images):
        raise ValueError("images must be a non-empty list of non-empty rows")
    if not isinstance(cell_side, (int, np.integer)) or cell_side < 16:
        raise ValueError(f"cell_side must be an integer >= 16, got {cell_side!r}")
    fmt = Image.registered_extensions().get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown image file extension (use .png or .jpg)")
    n_rows, n_cols = len(images), max(len(r) for r in images)
    if row_labels is not None and len(row_labels) != n_rows:
        raise ValueError(f"{len(row_labels)} row labels for {n_rows} rows")
    if col_labels is not None and len(col_labels) != n_cols:
        raise ValueError(f"{len(col_labels)} column labels for {n_cols} columns")
    cells = [[None if a is None else _to_image(a, f"image [{r}][{c}]") for c, a in enumerate(row)]
             for r, row in enumerate(images)]

    cell = int(cell_side)
    pad = max(4, cell // 32)
    font = _font(max(10, cell // 14), bold=False)
    ascent, descent = font.getmetrics()
    line_h = ascent + descent + 2
    col_lines = [_wrap_px(t, font, cell) for t in col_labels] if col_labels is not None else []
    top = (max(len(ls) for ls in col_lines) * line_h + pad) if col_lines else 0
    if row_labels is not None:
        natural = max(_text_width(font, str(t)) for t in row_labels)
        label_w = min(max(natural, 1), cell)
        row_lines = [_wrap_px(t, font, label_w) for t in row_labels]
        left = label_w + 2 * pad
    else:
        row_lines, left = [], 0
    width = left + pad + n_cols * (cell + pad)
    height = top + pad + n_rows * (cell + pad)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for c, lines in enumerate(col_lines):
        cx = left + pad + c * (cell + pad) + cell / 2
        y0 = top - len(lines) * line_h
        for k, line in enumerate(lines):
            draw.text((cx, y0 + k * line_h), line, font=font, fill=(20, 20, 20), anchor="ma")
    for r, lines in enumerate(row_lines):
        cy = top + pad + r * (cell + pad) + cell / 2
        y0 = cy - len(lines) * line_h / 2
        for k, line in enumerate(lines):
            draw.text((left - pad, y0 + k * line_h), line, font=font, fill=(20, 20, 20), anchor="ra")
    for r, row in enumerate(cells):
        for c, img in enumerate(row):
            x0, y0 = left + pad + c * (cell + pad), top + pad + r * (cell + pad)
            draw.rectangle((x0, y0, x0 + cell - 1, y0 + cell - 1), fill=(236, 236, 236))
            if img is None:
                continue
            scale = min(cell / img.width, cell / img.height)
            size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
            fitted = img.resize(size, Image.Resampling.LANCZOS) if size != img.size else img
            canvas.paste(fitted, (x0 + (cell - size[0]) // 2, y0 + (cell - size[1]) // 2))
    return _atomic_write(path, lambda fh: canvas.save(fh, format=fmt))
