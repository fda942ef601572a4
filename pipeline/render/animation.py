"""Animations from pictures already made: the progress GIF, clip previews, side-by-side and mosaic GIF/WebP.

GIF frames share one adaptive palette and are dithered onto it; a ``.webp`` path writes an animated
WebP (full colour) instead. Durations are kept real-time within GIF's 10 ms units.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, cast

import numpy as np
from PIL import Image, ImageDraw

from ..io.images import fit_long_side
from .drawing import font, text_width, to_image, write_file

__all__ = ["save_progress_gif", "stage_labels", "save_clip_gif", "save_side_by_side_gif", "save_mosaic_gif"]

_GIF_MIN_MS = 20  # browsers play 0/10 ms delays at ~100 ms; 20 ms is the shortest safe delay
_GIF_MAX_FPS = 1000 / _GIF_MIN_MS


def _check_positive(value: float, what: str) -> float:
    if not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive number, got {value!r}")
    return float(value)


def _check_max_side(max_side: int) -> int:
    if not isinstance(max_side, (int, np.integer)) or max_side < 16:
        raise ValueError(f"max_side must be an integer >= 16, got {max_side!r}")
    return int(max_side)


def _check_max_frames(max_frames: int | None) -> int | None:
    if max_frames is not None and (not isinstance(max_frames, (int, np.integer)) or max_frames < 1):
        raise ValueError(f"max_frames must be None or an integer >= 1, got {max_frames!r}")
    return None if max_frames is None else int(max_frames)


def _gif_ms(ms: float) -> int:
    """Milliseconds rounded to GIF's 10 ms units, at least 20 ms."""
    return max(_GIF_MIN_MS, 10 * int(math.floor(ms / 10 + 0.5)))


def _downscale(img: Image.Image, max_side: int) -> Image.Image:
    """``img`` with its long side at most ``max_side`` (never enlarged)."""
    size = fit_long_side(*img.size, min(max_side, max(img.size)))
    return img if size == img.size else img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _draw_band_label(img: Image.Image, text: str) -> Image.Image:
    """``img`` with ``text`` in white on a dark semi-opaque band along the bottom."""
    w, h = img.size
    size = max(9, round(min(w, h) * 0.05))
    label_font = font(size)
    pad = max(2, round(size * 0.35))
    while size > 9 and text_width(label_font, text) > w - 2 * pad:
        size -= 1
        label_font = font(size)
    ascent, descent = label_font.getmetrics()
    band = min(h, ascent + descent + 2 * pad)
    overlay = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((0, h - band, w, h), fill=(0, 0, 0, 175))
    draw.text((w / 2, h - band / 2), text, font=label_font, fill=(255, 255, 255, 255), anchor="mm")
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
    adaptive = mosaic.quantize(254, method=Image.Quantize.MEDIANCUT, kmeans=1).getpalette()
    assert adaptive is not None  # a quantised ("P") image always has a palette
    colours = adaptive[: 254 * 3]
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

    return write_file(path, write)


def _write_webp(frames: Sequence[Image.Image], durations: Sequence[int], path) -> Path:
    """Animated WebP (lossy, quality 80), looping forever."""

    def write(fh: BinaryIO) -> None:
        frames[0].save(
            fh,
            format="WEBP",
            save_all=True,
            append_images=list(frames[1:]),
            duration=list(durations),
            loop=0,
            quality=80,
            method=4,
        )

    return write_file(path, write)


def _indexable(items: Iterable, convert: Callable[[object, int], Image.Image]):
    """(n, get) over ``items``: lazy for sequences, materialised (after ``convert``) otherwise."""
    if hasattr(items, "__len__") and hasattr(items, "__getitem__") and not isinstance(items, np.ndarray):
        seq = cast(Sequence, items)  # not isinstance: any object with a length and items will do
        return len(seq), lambda i: convert(seq[i], i)
    if isinstance(items, np.ndarray):  # an NxHxWx3 stack
        if items.ndim != 4:
            raise ValueError(f"a frame stack must be NxHxWx3, got shape {items.shape}")
        return items.shape[0], lambda i: convert(items[i], i)
    done = [convert(x, i) for i, x in enumerate(items)]
    return len(done), done.__getitem__


def _clip_frame_loader(name: str, max_side: int) -> Callable[[object, int], Image.Image]:
    """``convert`` for :func:`_indexable`: frame ``i`` of clip ``name``, its long side at most ``max_side``."""
    return lambda a, i: _downscale(to_image(a, f"{name} frame {i}"), max_side)


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
            raise ValueError(
                f"frame {i} is {img.size[0]}x{img.size[1]}, frame 0 is {frames[0].size[0]}x{frames[0].size[1]}; "
                "all frames must have one size"
            )
        frames.append(img if webp else _quantize(img, palette))
    return _write_webp(frames, durations, path) if webp else _write_gif(frames, durations, path)


def save_progress_gif(
    snapshots: Sequence[tuple[int, np.ndarray]],
    path,
    *,
    frame_ms: int = 600,
    hold_last_ms: int = 2500,
    label: str = "iteration {}",
    labels: Sequence[str] | None = None,
) -> Path:
    """GIF of optimisation snapshots, each labelled with its iteration ("init" for 0), or with
    ``labels`` (one per snapshot: :func:`stage_labels` for a coarse-to-fine run); loops forever."""
    if not snapshots:
        raise ValueError("snapshots is empty: nothing to animate")
    if labels is not None and len(labels) != len(snapshots):
        raise ValueError(f"{len(labels)} labels for {len(snapshots)} snapshots")
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
        img = to_image(arr, f"snapshot {k} (iteration {it})")
        if frames and img.size != frames[0].size:
            raise ValueError(
                f"snapshot {k} is {img.width}x{img.height}, snapshot 0 is {frames[0].width}x{frames[0].height}; "
                "all must have one size"
            )
        text = labels[k] if labels is not None else "init" if it == 0 else label.format(int(it))
        frames.append(_quantize(_draw_band_label(img, text)))
    durations = [_gif_ms(frame_ms)] * (len(frames) - 1) + [_gif_ms(hold_last_ms)]
    return _write_gif(frames, durations, path)


def stage_labels(snapshots: Sequence[tuple[int, object]], stages: Sequence[Mapping[str, Any]]) -> list[str] | None:
    """Labels of a coarse-to-fine run's snapshots ("1024 px: iteration 50", the stage's own count): their
    iterations count on through the stages (engine/pyramid.py), ``stages`` says how many each had.
    None for a run of one stage (the plain "iteration N" labels do)."""
    if len(stages) < 2:
        return None
    ends = list(itertools.accumulate(int(stage["iterations"]) for stage in stages))
    labels = []
    for iteration, _ in snapshots:
        index = next((k for k, end in enumerate(ends) if iteration <= end), len(ends) - 1)
        if iteration == 0:
            labels.append("init")
            continue
        local = iteration - (ends[index - 1] if index else 0)
        labels.append(f"{max(stages[index]['size'])} px: iteration {local}")
    return labels


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
    n, get = _indexable(frames, lambda a, i: _downscale(to_image(a, f"frame {i}"), max_side))
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
    return save_mosaic_gif(
        [originals, stylised],
        path,
        fps=fps,
        columns=2,
        max_side=max_side,
        labels=labels,
        max_frames=max_frames,
        names=("original", "stylised"),
    )


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
    readers = [_indexable(clip, _clip_frame_loader(name, max_side)) for clip, name in zip(clips, names)]
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
            fitted.append(
                [
                    p
                    if p.height == h
                    else p.resize((max(1, round(p.width * h / p.height)), h), Image.Resampling.LANCZOS)
                    for p in row
                ]
            )
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
