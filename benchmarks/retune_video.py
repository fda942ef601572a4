"""Re-tune the video defaults on the true-motion warping error: temporal weight × later-frame budget.

The temporal weight λ_t, the later-frame budget (``--frame-iters``) and early stop decide how
much a frame keeps of its warped predecessor and how much it repaints for style. This sweep grades
every setting with the *true* motion of the generated clips of ``benchmarks/true_motion.py``
(exact flow, exact visibility), never with the DIS flow the temporal loss follows, and with a
style no default was tuned on (Turner, *The Shipwreck of the Minotaur*).

For each budget (``--frame-iters`` × early stop) it runs plain ``prev`` (warm start from the
previous stylised frame as it is, no temporal loss) and the defaults' scheme (``prev-warped``,
DIS flow, temporal loss) at λ_t = m × today's area-scaled default for each ``--weights`` m, and
for each ``--init-samplings`` way of resampling the warped start (``bilinear``: today's start;
``bicubic``: sharper; the temporal loss's target and every warping error stay bilinear). Each
row gives, against ``prev`` at the same budget in the same run: the true-motion warping error
ratio, the style-loss ratio over the later frames (frame 1 is the same in every run, so it is
left out: counting it would flatter every ratio towards 1), the content-loss ratio, and the
iterations actually run.

The choice: among the settings whose style ratio is at most ``--style-cap`` (1.15) on every
*selection* clip, the one with the lowest worst-case true-error ratio on them. The held-out clips
(``--holdout``) are then read at that setting only to confirm it. Also printed: the Pareto front
(worst true ratio against worst style ratio over the selection clips).

    nice python benchmarks/retune_video.py --size 64 --frames 6 --threads 1 --json out/retune64.json
    nice python benchmarks/retune_video.py --size 128 --frames 5 --frame-iters 40 --weights 0.25,1 \\
        --select camera_slow,object --holdout camera_fast --threads 1   # the second size, bounded
    nice python benchmarks/retune_video.py --size 64 --frames 5 --iters 40 --frame-iters 80 --weights 1,0.25 \\
        --init-samplings bilinear,bicubic --select object --holdout "" --threads 1   # one process per clip

Quality figures are deterministic for a given machine's arithmetic; seconds depend on the load.
Weights: $STYLEVID_WEIGHTS / $STYLEVID_WEIGHTS_FORMAT (e.g. the shared Caffe file) or torchvision's.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from true_motion import MEDIA, clips, true_error

from stylevid.pipeline import VideoConfig, stylize_video
from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine.transfer import StyleTransfer
from stylevid.pipeline.io.images import load_image
from stylevid.pipeline.io.true_motion import save_true_motion_clip
from stylevid.pipeline.video.steps import temporal_weight_for


def later_mean(rows: list[dict], key: str) -> float:
    """Mean of ``key`` over the frames after the first."""
    return math.fsum(r[key] for r in rows[1:]) / max(1, len(rows) - 1)


def measure(clip, frames_dir: Path, out: Path, styles, config: VideoConfig, engine: StyleTransfer) -> dict:
    began = time.perf_counter()
    result = stylize_video(frames_dir, styles, out, config, restart=True, engine=engine)
    seconds = time.perf_counter() - began
    stylised = [load_image(p) for p in sorted(result.output.glob("*.png"))]
    rows = result.record["per_frame"]
    return {
        "true": true_error(clip, stylised, 1),
        "dis": result.warping_error,
        "style": later_mean(rows, "style"),
        "content": later_mean(rows, "content"),
        "iterations": later_mean(rows, "iterations"),
        "temporal_weight": result.record["temporal_weight"],
        "seconds_per_frame": seconds / result.frames,
    }


def setting_name(frame_iters: int, early_stop: bool, weight: float | None, sampling: str = "bilinear") -> str:
    run = "prev" if weight is None else f"λ×{weight:g}"
    sharp = "" if sampling == "bilinear" else f" {sampling}"
    return f"F{frame_iters}{'' if early_stop else ' no-ES'} {run}{sharp}"


def pareto(points: dict[str, tuple[float, float]]) -> list[str]:
    """Names whose (true, style) no other point beats in both (lower is better)."""
    front = []
    for name, (t, s) in points.items():
        if not any((t2 <= t and s2 <= s) and (t2, s2) != (t, s) for t2, s2 in points.values()):
            front.append(name)
    return sorted(front, key=lambda n: points[n][1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", type=Path, default=MEDIA / "styles" / "turner_shipwreck_of_the_minotaur.jpg")
    parser.add_argument("--size", type=int, default=64, help="long side of the generated frames (= processing size)")
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--iters", type=int, default=60, help="frame 1's budget (the same in every run)")
    parser.add_argument("--frame-iters", default="20,40,80", help="later-frame budgets to sweep")
    parser.add_argument("--no-early-stop", default="", help="budgets also run without early stop, e.g. 80")
    parser.add_argument("--weights", default="0.1,0.25,0.5,1", help="λ_t as multiples of today's default")
    parser.add_argument(
        "--init-samplings", default="bilinear", help="how prev-warped's start is resampled, e.g. bilinear,bicubic"
    )
    parser.add_argument("--select", default="camera_slow,object", help="clips the choice is made on")
    parser.add_argument("--holdout", default="camera_fast", help="clips that only confirm the choice")
    parser.add_argument("--style-cap", type=float, default=1.15, help="largest style ratio against prev allowed")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 suits a busy CPU)")
    parser.add_argument("--out", type=Path, default=Path("out/retune_video"))
    parser.add_argument("--json", type=Path, default=None, help="also write every measurement as JSON here")
    parser.add_argument("--report", default="", help="only merge these JSON files (comma-separated) and choose")
    args = parser.parse_args()
    select, holdout = args.select.split(","), [c for c in args.holdout.split(",") if c]
    if args.report:
        report_files([Path(p) for p in args.report.split(",")], select, holdout, args.style_cap)
        return
    if args.threads:
        torch.set_num_threads(args.threads)

    budgets = [(int(f), True) for f in args.frame_iters.split(",")]
    budgets += [(int(f), False) for f in args.no_early_stop.split(",") if f]
    weights = [float(m) for m in args.weights.split(",")]
    samplings = args.init_samplings.split(",")
    styles = [load_image(args.style)]
    base = StyleConfig(size=args.size, iters=args.iters, device=args.device)
    engine = StyleTransfer(base, styles)
    table: dict[str, dict[str, dict]] = {}  # clip → setting → measurement

    print(
        f"{'clip':<12}{'setting':<28}{'true':>10}{'×prev':>7}{'DIS':>10}{'style':>10}{'×prev':>7}"
        f"{'content':>10}{'×prev':>7}{'iters':>7}{'s/frame':>9}"
    )
    for clip_name, clip in clips(args.size, args.frames).items():
        if clip_name not in select + holdout:
            continue
        folder = args.out / clip_name
        frames_dir, flow_dir = folder / "frames", folder / "flow"
        save_true_motion_clip(clip, frames_dir, flow_dir)
        height, width = clip.frames[0].shape[:2]
        default_weight = temporal_weight_for(VideoConfig(style=base), width, height)
        table[clip_name] = {}
        for frame_iters, early_stop in budgets:
            common = dict(style=base, frame_iters=frame_iters, early_stop=early_stop)
            runs: dict[str, VideoConfig] = {
                setting_name(frame_iters, early_stop, None): VideoConfig(frame_init="prev", temporal_weight=0, **common)
            }
            for sampling in samplings:
                for m in weights:
                    runs[setting_name(frame_iters, early_stop, m, sampling)] = VideoConfig(
                        frame_init="prev-warped", init_sampling=sampling, temporal_weight=m * default_weight, **common
                    )
            prev = None
            for name, config in runs.items():
                row = measure(clip, frames_dir, folder / "runs", styles, config, engine)
                prev = prev or row
                for key in ("true", "style", "content"):
                    row[f"{key}_vs_prev"] = row[key] / prev[key]
                table[clip_name][name] = row
                print(
                    f"{clip_name:<12}{name:<28}{row['true']:>10.5f}{row['true_vs_prev']:>7.3f}{row['dis']:>10.5f}"
                    f"{row['style']:>10.4g}{row['style_vs_prev']:>7.3f}{row['content']:>10.4g}"
                    f"{row['content_vs_prev']:>7.3f}{row['iterations']:>7.1f}{row['seconds_per_frame']:>9.2f}",
                    flush=True,
                )
            if args.json:  # after every budget, so a long run leaves what it measured so far
                args.json.parent.mkdir(parents=True, exist_ok=True)
                settings = vars(args) | {"style": str(args.style), "out": str(args.out), "json": str(args.json)}
                args.json.write_text(json.dumps({"settings": settings, "clips": table}, indent=2))

    if args.json:
        report(table, select, holdout, args.style_cap, args.json)
    else:
        report(table, select, holdout, args.style_cap)


def report(
    table: dict[str, dict[str, dict]], select: list[str], holdout: list[str], cap: float, json_path: Path | None = None
) -> None:
    """The Pareto front and the choice over the selection clips, then the held-out clips at that choice."""
    chosen_on = [c for c in select if c in table]
    if not chosen_on:
        return
    names = [n for n in table[chosen_on[0]] if not n.endswith("prev") and all(n in table[c] for c in chosen_on)]
    worst = {
        n: (max(table[c][n]["true_vs_prev"] for c in chosen_on), max(table[c][n]["style_vs_prev"] for c in chosen_on))
        for n in names
    }
    print(f"\nworst case over {', '.join(chosen_on)}: true ×prev, style ×prev (Pareto front)")
    front = pareto(worst)
    for n in names:
        print(f"  {n:<28}{worst[n][0]:>7.3f}{worst[n][1]:>7.3f}{'  front' if n in front else ''}")
    feasible = [n for n in names if worst[n][1] <= cap]
    if feasible:
        chosen = min(feasible, key=lambda n: worst[n][0])
        print(f"chosen (style ≤ {cap}× prev on every selection clip, then the lowest true error): {chosen}")
    else:
        chosen = min(names, key=lambda n: worst[n][1])
        print(f"no setting keeps style ≤ {cap}× prev; the lowest style ratio: {chosen}")
    for c in holdout:
        if c in table and chosen in table[c]:
            row = table[c][chosen]
            print(f"held out {c}: true {row['true_vs_prev']:.3f}× prev, style {row['style_vs_prev']:.3f}× prev")
    if json_path is not None:
        data = json.loads(Path(json_path).read_text())
        data["choice"] = {"chosen": chosen, "worst_on_selection": dict(worst), "pareto": front}
        Path(json_path).write_text(json.dumps(data, indent=2))


def report_files(paths: list[Path], select: list[str], holdout: list[str], cap: float) -> None:
    """--report: merge the tables of several runs (e.g. one process per clip) and choose."""
    table: dict[str, dict[str, dict]] = {}
    for path in paths:
        for clip, rows in json.loads(path.read_text())["clips"].items():
            table.setdefault(clip, {}).update(rows)
    report(table, select, holdout, cap)


if __name__ == "__main__":
    main()
