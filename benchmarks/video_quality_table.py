"""The one video-quality table of issue 19: every video scheme on the generated true-motion clips.

Rows (each clip stylised with Turner's *Shipwreck of the Minotaur*, a style no default was tuned on):

  originals      the unstylised clip: the resampling floor of each error (no losses, no time)
  independent    every frame from its own content, frame 1's budget (``--iters``), no temporal loss
  prev           warm start from the previous stylised frame, no temporal loss: the reference of the ratios
  defaults       prev-warped + temporal loss, ``--flow auto``, every other setting at its default
  long-term      the defaults with ``--long-term 1,2,4``
  N passes       the defaults with ``--passes N`` (N from ``--passes``); long-term with multi-pass is
                 refused by the pipeline for now, so they are separate rows, not combined

Pass k of an N-pass run does not depend on N and pass 1 is the ordinary one-pass run, so one run
with the largest N gives the ``defaults`` row (its pass 1) and every ``N passes`` row
(``benchmarks/multi_pass.py`` does the same). Every row is read from its run's work folder
(``.work/frames``, ``.work/passK/frames``): the frames at processing size and each frame's stats.

Columns, every error graded through motion the run did not use where it matters:

  true           warping error t−1 → t through the generator's exact flow and visibility mask
  DIS            the same through DIS flow and its forward-backward mask (what ``stylevid eval``
                 reports by default): a second opinion, which flatters runs that follow DIS
  t−4            long-range error: t against t−4 through the exact flow and visibility
  revealed t−4   the same on the pixels seen at t−4 but hidden at t−1 only (ground an occluder
                 uncovered; ``long_term.py``); "—" where a clip has none
  style, content mean losses over frames 2…N (frame 1 is the same in every run but independent's,
                 and would pull every ratio towards 1); the means over all frames are in the JSON
  s/frame        optimisation seconds per frame (for N passes: summed over the passes), and the
                 wall seconds per frame of the whole run (flow, I/O; for the passes run, all N passes)

Each figure also as a ratio to ``prev`` of the same clip in the same run. The load average
(before and after) and the flow ``--flow auto`` resolved to at this size are in the JSON.

    STYLEVID_WEIGHTS=../shared/weights/vgg19-caffe-conv-fp16.pth STYLEVID_WEIGHTS_FORMAT=caffe \\
    nice python benchmarks/video_quality_table.py --size 96 --frames 8 --threads 1 \\
        --json benchmarks/video_quality_table.json

Weights: $STYLEVID_WEIGHTS / $STYLEVID_WEIGHTS_FORMAT (e.g. the shared Caffe file) or torchvision's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from long_term import revealed_error  # noqa: E402
from true_motion import LONG_GAP, MEDIA, clips, true_error  # noqa: E402

from stylevid.pipeline import VideoConfig, stylize_video  # noqa: E402
from stylevid.pipeline.config import StyleConfig, parse_long_term  # noqa: E402
from stylevid.pipeline.engine.transfer import StyleTransfer  # noqa: E402
from stylevid.pipeline.io.images import load_image  # noqa: E402
from stylevid.pipeline.io.true_motion import save_true_motion_clip  # noqa: E402
from stylevid.pipeline.motion.flow import resolve_flow_method  # noqa: E402
from stylevid.pipeline.motion.synthetic import TrueMotionClip  # noqa: E402
from stylevid.pipeline.motion.warping_error import warping_error_sequence  # noqa: E402
from stylevid.pipeline.video.workdir import WorkFolder  # noqa: E402

RATIO_KEYS = (
    "true_motion_warping_error",
    "dis_warping_error",
    "long_range_error",
    "revealed_long_range_error",
    "mean_style_loss",
    "mean_content_loss",
    "mean_style_loss_all_frames",
    "seconds_per_frame",
)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def to_json(report: dict[str, Any]) -> str:
    """The report as standard JSON: a figure that does not exist (no revealed pixels) is null, not NaN."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(report), indent=2)


def frames_and_stats(work: WorkFolder, count: int) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
    """A run's (or a pass's) frames at processing size and each frame's stats, from its work folder."""
    loaded = [work.load_frame(p) for p in range(count)]
    return [picture for picture, _ in loaded], [stats for _, stats in loaded]


def mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if values else math.nan


def errors(clip: TrueMotionClip, frames: list[np.ndarray]) -> dict[str, float]:
    """The error columns of ``frames`` against ``clip``: exact flow (t−1, t−4, revealed) and DIS."""
    revealed, pixels = revealed_error(clip, frames)
    return {
        "true_motion_warping_error": true_error(clip, frames, 1),
        "dis_warping_error": warping_error_sequence(frames, clip.frames, "dis").mean,
        "long_range_error": true_error(clip, frames, LONG_GAP),
        "revealed_long_range_error": revealed if pixels else math.nan,
    }


def grade(clip: TrueMotionClip, frames: list[np.ndarray], stats: list[dict[str, Any]], seconds: float) -> dict:
    """One row: the errors, the losses over frames 2…N (and over all), iterations, optimisation s/frame."""
    return errors(clip, frames) | {
        "mean_style_loss": mean([s["style"] for s in stats[1:]]),
        "mean_content_loss": mean([s["content"] for s in stats[1:]]),
        "mean_style_loss_all_frames": mean([s["style"] for s in stats]),
        "mean_content_loss_all_frames": mean([s["content"] for s in stats]),
        "mean_iterations_later_frames": mean([s["iterations"] for s in stats[1:]]),
        # --long-term: the share of a frame's pixels held to a frame further back than t−1
        "mean_long_term_share": mean([s["long_term_share"] for s in stats if s.get("long_term_share") is not None]),
        "seconds_per_frame": seconds,
    }


def fmt(value: float, digits: str = ".5f") -> str:
    return "—" if value is None or not math.isfinite(value) else format(value, digits)


def add_ratios(rows: dict[str, dict]) -> None:
    """Each figure of each row as a ratio to the ``prev`` row's (``KEY_vs_prev``)."""
    prev = rows.get("prev")
    if prev is None:
        return
    for row in rows.values():
        for key in RATIO_KEYS:
            if isinstance(row.get(key), float) and isinstance(prev.get(key), float) and prev[key]:
                row[f"{key}_vs_prev"] = row[key] / prev[key]


def text_row(clip_name: str, run_name: str, row: dict) -> str:
    def pair(key: str, digits: str = ".5f", width: int = 9) -> str:
        return f"{fmt(row.get(key, math.nan), digits):>{width}}{fmt(row.get(f'{key}_vs_prev', math.nan), '.2f'):>6}"

    line = f"{clip_name:<14}{run_name:<12}" + "".join(
        pair(k)
        for k in ("true_motion_warping_error", "dis_warping_error", "long_range_error", "revealed_long_range_error")
    )
    if "mean_style_loss" in row:
        line += pair("mean_style_loss", ".3g", 10) + pair("mean_content_loss", ".3g", 10)
        line += f"{fmt(row['seconds_per_frame'], '.1f'):>7}{fmt(row.get('wall_seconds_per_frame', math.nan), '.1f'):>7}"
    return line


COLUMNS = (  # (key, markdown header, digits)
    ("true_motion_warping_error", "true (exact flow)", ".5f"),
    ("dis_warping_error", "DIS", ".5f"),
    ("long_range_error", "t−4 (exact)", ".5f"),
    ("revealed_long_range_error", "revealed t−4", ".4f"),
    ("mean_style_loss", "style", ".3g"),
    ("mean_content_loss", "content", ".3g"),
    ("seconds_per_frame", "s/frame", ".1f"),
)


def markdown(report: dict[str, Any]) -> str:
    """The table for docs/method.md: each figure with its ratio to ``prev`` in brackets; then the targets."""
    lines = [
        "| clip | run | " + " | ".join(header for _, header, _ in COLUMNS) + " |",
        "|---|---|" + "---:|" * len(COLUMNS),
    ]
    for clip_name, entry in report["clips"].items():
        for i, (run_name, row) in enumerate(entry["rows"].items()):
            cells = []
            for key, _, digits in COLUMNS:
                value = row.get(key)
                if value is None or not math.isfinite(value):
                    cells.append("—" if key in row else "")
                    continue
                ratio = row.get(f"{key}_vs_prev")
                cells.append(
                    fmt(value, digits) + (f" ({ratio:.2f})" if ratio is not None and run_name != "prev" else "")
                )
            label = clip_name.replace("_", " ") if i == 0 else ""
            lines.append(f"| {label} | {run_name} | " + " | ".join(cells) + " |")
    lines.append("")
    for clip_name, entry in report["clips"].items():
        rows = entry["rows"]
        if "defaults" in rows and "prev" in rows:
            d = rows["defaults"]
            met = d["true_motion_warping_error_vs_prev"] <= 0.35 and d["mean_style_loss_vs_prev"] <= 1.15
            lines.append(
                f"- {clip_name}: defaults true ×{d['true_motion_warping_error_vs_prev']:.2f} prev at style "
                f"×{d['mean_style_loss_vs_prev']:.2f}: target (≤ 0.35 at ≤ 1.15) {'met' if met else 'missed'}"
            )
        if "defaults" in rows and "long-term" in rows:
            d, lt = rows["defaults"], rows["long-term"]
            whole = lt["long_range_error"] / d["long_range_error"]
            revealed = (lt["revealed_long_range_error"] or math.nan) / (d["revealed_long_range_error"] or math.nan)
            lines.append(
                f"- {clip_name}: long-term / defaults: t−4 ×{whole:.2f}, revealed t−4 ×{fmt(revealed, '.2f')}, "
                f"true t−1 ×{lt['true_motion_warping_error'] / d['true_motion_warping_error']:.2f}"
            )
    return "\n".join(lines)


def merge(paths: list[Path]) -> dict[str, Any]:
    """One report from several (e.g. one process per clip): settings of the first, every clip, each load average."""
    reports = [json.loads(path.read_text()) for path in paths]
    merged = dict(reports[0])
    merged["clips"] = {name: entry for r in reports for name, entry in r["clips"].items()}
    merged["processes"] = [
        {
            "json": str(path),
            "clips": list(r["clips"]),
            "load_average_start": r.get("load_average_start"),
            "load_average_end": r.get("load_average_end"),
        }
        for path, r in zip(paths, reports, strict=True)
    ]
    for entry in merged["clips"].values():
        add_ratios(entry["rows"])
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", type=Path, default=MEDIA / "styles" / "turner_shipwreck_of_the_minotaur.jpg")
    parser.add_argument("--size", type=int, default=96, help="long side of the generated frames (= processing size)")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--iters", type=int, default=None, help="frame 1 (and every independent frame); default 500")
    parser.add_argument("--frame-iters", type=int, default=None, help="later frames; default: the default (150)")
    parser.add_argument("--long-term", default="1,2,4", help="--long-term of the long-term row")
    parser.add_argument("--passes", default="2,4", help="the multi-pass rows; one run with the largest")
    parser.add_argument("--runs", default="prev,defaults,passes,long-term,independent", help="in this order")
    parser.add_argument("--clips", default="camera_slow,camera_fast,object,object_reveal")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 on a CPU shared by many jobs)")
    parser.add_argument("--out", type=Path, default=Path("out/video_quality_table"))
    parser.add_argument("--json", type=Path, default=None, help="also write the table as JSON here (after each run)")
    parser.add_argument("--merge", default="", help="only merge these JSON files (comma-separated) into --json")
    args = parser.parse_args()
    if args.merge:
        merged = merge([Path(p) for p in args.merge.split(",")])
        if args.json:
            args.json.write_text(to_json(merged))
        print(markdown(merged))
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    wanted = args.runs.split(",")
    pass_rows = sorted(int(n) for n in args.passes.split(",") if n)
    gaps = parse_long_term(args.long_term)

    styles = [load_image(args.style)]
    base = StyleConfig(size=args.size, device=args.device, **({"iters": args.iters} if args.iters else {}))
    later = {"frame_iters": args.frame_iters} if args.frame_iters else {}
    defaults = VideoConfig(style=base, **later)
    engine = StyleTransfer(base, styles)
    candidates: dict[str, VideoConfig] = {
        "independent": defaults.replace(frame_init="independent", temporal_weight=0),
        "prev": defaults.replace(frame_init="prev", temporal_weight=0),
        "defaults": defaults,
        "long-term": defaults.replace(long_term=gaps),
        "passes": defaults.replace(passes=max(pass_rows + [2])),  # its pass 1 is the defaults row
    }
    if "passes" in wanted and pass_rows:
        wanted = [name for name in wanted if name != "defaults"]
    runs = {name: candidates[name] for name in wanted}  # in the order asked: the costly independent run last

    report: dict[str, Any] = {
        "settings": {k: str(v) for k, v in vars(args).items()},
        "style_iters": base.iters,
        "frame_iters": defaults.frame_iters,
        "pass_iters": defaults.later_pass_iters,
        "early_stop": defaults.early_stop,
        "load_average_start": load_average(),
        "clips": {},
    }
    print(f"load average {report['load_average_start']}; frame 1 {base.iters} it, later {defaults.frame_iters} it")
    header = (
        f"{'clip':<14}{'run':<12}{'true':>9}{'×prev':>6}{'DIS':>9}{'×prev':>6}{'t-4':>9}{'×prev':>6}"
        f"{'reveal':>9}{'×prev':>6}{'style':>10}{'×prev':>6}{'content':>10}{'×prev':>6}{'s/fr':>7}{'wall':>7}"
    )
    print(header, flush=True)
    generated = clips(args.size, args.frames)
    for clip_name in args.clips.split(","):  # in the order asked
        clip = generated[clip_name]
        folder = args.out / clip_name
        frames_dir, flow_dir = folder / "frames", folder / "flow"
        save_true_motion_clip(clip, frames_dir, flow_dir, gaps=gaps, forward=False)
        height, width = clip.frames[0].shape[:2]
        flow = resolve_flow_method(defaults.flow_method, torch.device(args.device), (height, width))
        rows: dict[str, dict] = {"originals": errors(clip, clip.frames)}
        entry: dict[str, Any] = {"clip": clip.name, "size": [height, width], "auto_flow": flow, "rows": rows}
        entry["revealed_pixels"] = revealed_error(clip, clip.frames)[1]  # seen at t−4, hidden at t−1, all t
        report["clips"][clip_name] = entry
        for run_name, config in runs.items():
            out = folder / run_name
            began = time.perf_counter()
            result = stylize_video(frames_dir, styles, out, config, restart=True, engine=engine)
            wall = (time.perf_counter() - began) / result.frames
            entry.setdefault("shots", {})[run_name] = len(result.record.get("shots", [])) or 1
            work = WorkFolder(out / ".work")
            frames, stats = frames_and_stats(work, result.frames)
            optimising = mean([s["seconds"] for s in stats])
            if run_name != "passes":
                rows[run_name] = grade(clip, frames, stats, optimising) | {"wall_seconds_per_frame": wall}
            else:
                rows["defaults"] = grade(clip, frames, stats, optimising)
                for number in range(2, config.passes + 1):
                    frames, stats = frames_and_stats(WorkFolder(out / ".work" / f"pass{number}"), result.frames)
                    optimising += mean([s["seconds"] for s in stats])
                    if number in pass_rows:
                        rows[f"{number} passes"] = grade(clip, frames, stats, optimising)
                rows[f"{config.passes} passes"]["wall_seconds_per_frame"] = wall
            if args.json:  # after every run, so a long run leaves what it measured so far
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(to_json(report))
        order = ["originals", "independent", "prev", "defaults", "long-term"] + [f"{n} passes" for n in pass_rows]
        entry["rows"] = rows = {name: rows[name] for name in order if name in rows}
        add_ratios(rows)
        for run_name, row in rows.items():
            print(text_row(clip_name, run_name, row), flush=True)
        report["load_average_end"] = load_average()
        if args.json:
            args.json.write_text(to_json(report))
    print(f"load average at the end {report.get('load_average_end', load_average())}")
    print(markdown(report))


if __name__ == "__main__":
    main()
