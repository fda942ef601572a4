"""Scene-cut detection (pipeline/motion/cuts.py) on real footage and on the issue's cut clip.

Clips, each at processing size (long side ``--size``, 192 px by default):

* ``cockatoo``: the sample clip (hand-held, one shot): every cut found is a false one;
* ``cut-clip``: 8 frames of the cockatoo, then 8 of a slow pan over the Tübingen photo
  (``cut_clip``): one cut, at frame 8;
* ``pan``: only the 8 pan frames (one shot).

For each: the change scores, the cuts found, and the margin — the smallest ratio, over the pairs
that are *not* cuts, between the adaptive threshold a pair needs to be a cut and what it has
(> 1: safely no cut), and for the true cuts the ratio score / (RATIO × neighbours' mean) (> 1: found).

``--write-clip DIR`` also writes the cut clip's 16 frames as PNGs (a frame-folder input), for
the stylisation comparison in docs/method.md ("Shots and cuts").

    python benchmarks/cuts.py [--size 192] [--write-clip /tmp/cutclip] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image

from stylevid.pipeline.io.images import resize_long_side
from stylevid.pipeline.motion.cuts import (
    MIN_SCORE,
    RATIO,
    WINDOW,
    change_score,
    find_cuts,
    flow_estimator,
    shrink,
)

REPO = Path(__file__).resolve().parents[1]
PAN_PHOTO = REPO / "samples" / "tuebingen.jpg"
CLIP = REPO / "samples" / "cockatoo.mp4"


def decoded(path: Path, count: int | None = None) -> list[np.ndarray]:
    """The first ``count`` frames (all with None) of a video, RGB uint8."""
    pictures = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            pictures.append(frame.to_ndarray(format="rgb24"))
            if count is not None and len(pictures) == count:
                break
    return pictures


def pan_frames(count: int, width: int = 1280, height: int = 720, step: int = 6) -> list[np.ndarray]:
    """A slow horizontal pan over the Tübingen photo, ``step`` source px per frame, at ``width``×``height``."""
    photo = np.asarray(Image.open(PAN_PHOTO).convert("RGB"))
    crop_w = photo.shape[1] - step * count
    crop_h = round(crop_w * height / width)
    top = (photo.shape[0] - crop_h) // 2
    frames = []
    for i in range(count):
        window = photo[top : top + crop_h, i * step : i * step + crop_w]
        frames.append(np.asarray(Image.fromarray(window).resize((width, height), Image.LANCZOS)))
    return frames


def cut_clip() -> list[np.ndarray]:
    """The issue's clip: 8 cockatoo frames then 8 frames of a slow pan over a city photo (cut at 8)."""
    return decoded(CLIP, 8) + pan_frames(8)


def scores_of(pictures: list[np.ndarray], size: int) -> tuple[list[float], float]:
    """Change scores of consecutive pairs at processing size, and the seconds per pair they took."""
    processed = [resize_long_side(p, size) for p in pictures]
    began = time.perf_counter()
    dis = flow_estimator()
    small = [shrink(p) for p in processed]
    scores = [change_score(a, b, dis) for a, b in zip(small, small[1:], strict=False)]
    return scores, (time.perf_counter() - began) / max(1, len(scores))


def margins(scores: list[float], cuts: list[int]) -> dict[str, float | None]:
    """How far the non-cut pairs are from being cuts, and the cuts from not being cuts."""

    def need(pair: int) -> float:
        neighbours = [*scores[max(0, pair - WINDOW) : pair], *scores[pair + 1 : pair + 1 + WINDOW]]
        return max(MIN_SCORE, RATIO * float(np.mean(neighbours))) if neighbours else MIN_SCORE

    others = [need(i) / max(scores[i], 1e-9) for i in range(len(scores)) if i + 1 not in cuts]
    found = [scores[c - 1] / need(c - 1) for c in cuts]
    return {
        "non_cut_margin": min(others) if others else None,
        "cut_margin": min(found) if found else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--write-clip", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    clip = cut_clip()
    clips = {"cockatoo": decoded(CLIP), "cut-clip": clip, "pan": clip[8:]}
    expected = {"cut-clip": [8]}
    rows = {}
    for name, pictures in clips.items():
        scores, seconds = scores_of(pictures, args.size)
        cuts = find_cuts(scores)
        rows[name] = {
            "frames": len(pictures),
            "expected_cuts": expected.get(name, []),
            "cuts": cuts,
            "max_score": max(scores),
            "median_score": float(np.median(scores)),
            "ms_per_pair": 1000 * seconds,
            **margins(scores, cuts),
            "scores": [round(s, 2) for s in scores],
        }
        row = rows[name]
        print(
            f"{name:14s} {row['frames']:4d} frames  cuts {cuts} (expected {row['expected_cuts']})  "
            f"median score {row['median_score']:.2f}  max {row['max_score']:.1f}  "
            f"non-cut margin {row['non_cut_margin']}  cut margin {row['cut_margin']}  "
            f"{row['ms_per_pair']:.2f} ms/pair"
        )
    if args.write_clip:
        args.write_clip.mkdir(parents=True, exist_ok=True)
        for i, picture in enumerate(clip):
            Image.fromarray(picture).save(args.write_clip / f"{i:03d}.png")
        print(f"wrote {len(clip)} frames to {args.write_clip}")
    if args.json:
        args.json.write_text(json.dumps({"size": args.size, "clips": rows}, indent=1))


if __name__ == "__main__":
    main()
