"""Scale-out: measured speed-up of 1 → 2 CPU workers here, and a model for 8 and 64 GPUs.

Measured (``--measure``): the same clip, the same plan (``--segments`` segments of one shot), run
by the Ray runner with 1 and then 2 CPU workers, one torch thread each (a fresh local Ray with
as many CPUs as workers each time). Reported: wall time of the stylisation (the Ray start and
the engines' build left out, both are once per run), the speed-up, whether the two runs made the
same pictures, and the seams' warping error ÷ the median pair. Also measured: Ray's per-call
overhead (an empty actor call, and one carrying a frame through the object store) and the
driver's own work per frame at 1080p (decode, resize, commit as PNG, read back, encode).

Modelled (always): the makespan of a 9,000-frame single-shot clip on W workers with this
runner's plan and scheduler (:func:`makespan`): the driver reads one frame per ``intake``
seconds and hands out every frame as soon as it is read and its place in the plan is known; an
idle worker takes an opening frame first, then the ready segment with the most frames left —
from the per-frame time of a later frame ``f``, the keyframe's ``k``, Ray's per-call overhead
and the driver's per-frame work (measured here). The sequential reference is the in-process
runner: one keyframe, then N − 1 later frames, no Ray.

    python benchmarks/scale_out.py --measure --json out/scale_out.json   # 1 vs 2 CPU workers, then the model
    python benchmarks/scale_out.py --measure-driver                       # the driver's figures only, then the model
    python benchmarks/scale_out.py --gpu-frame-seconds 0.25               # the model from benchmarks/scale_out.json
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared"


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import ray
    import torch

    from stylevid.pipeline.config import StyleConfig, VideoConfig
    from stylevid.pipeline.io.images import load_image
    from stylevid.pipeline.scale.runner import stylize_video_scaled

    torch.set_num_threads(1)
    styles = [load_image(args.style)]
    style = StyleConfig(size=args.size, iters=args.iters, device="cpu")
    frames = args.frames
    from stylevid.pipeline.scale.plan import default_segment_frames

    config = VideoConfig(
        style=style,
        frame_iters=args.frame_iters,
        end=frames,
        segment_frames=default_segment_frames(frames, args.segments, 6),  # the runner's default pre-roll
    )
    runs: dict[int, Any] = {}
    pictures: dict[int, list[np.ndarray]] = {}
    overhead: dict[str, float] = {}
    for workers in (1, 2):
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            if workers == 2:
                overhead = _ray_overhead(ray, args.size)
            out = args.out / f"workers{workers}"
            began, cpu = time.perf_counter(), time.process_time()
            result = stylize_video_scaled(args.clip, styles, out, config.replace(workers=workers), restart=True)
            wall = time.perf_counter() - began
            driver_cpu = time.process_time() - cpu  # every thread of the driver: reading, commits, output, Ray
        finally:
            ray.shutdown()
        scale = result.record["scale_out"]
        runs[workers] = {
            "wall_seconds": wall,
            "driver_cpu_seconds": driver_cpu,
            "load_average_after": os.getloadavg(),
            # from the engines built to the last frame committed (Ray's start, the engines' build, the
            # record's engine and the output's closing left out: once per run); reading overlaps it
            "stylise_seconds": scale["seconds"]["working"],
            "seconds": scale["seconds"],
            "keyframe_phase_seconds": scale["seconds"]["keyframe_phase"],
            "workers": scale["workers"],
            "seams": scale["seams"],
            "worst_seam_ratio": scale["worst_seam_ratio"],
            "median_pair_error": scale["median_pair_error"],
            "warping_error": result.warping_error,
            "rows": [
                {k: r.get(k) for k in ("frame", "worker", "worker_seconds", "iterations", "handoff_weight")}
                for r in result.record["per_frame"]
            ],
        }
        pictures[workers] = [np.asarray(_png(p)) for p in sorted((out / ".work" / "frames").glob("*.png"))]
        print(f"{workers} worker(s): {runs[workers]['stylise_seconds']:.1f} s, worst seam {scale['worst_seam_ratio']}")
    same = len(pictures[1]) == len(pictures[2]) and all(np.array_equal(a, b) for a, b in zip(pictures[1], pictures[2]))
    rows = runs[1]["rows"]
    later = [r["worker_seconds"] for r in rows if r["frame"] not in _keyframes(runs[1])]
    keys = [r["worker_seconds"] for r in rows if r["frame"] in _keyframes(runs[1])]
    return {
        "clip": str(args.clip),
        "frames": frames,
        "size": args.size,
        "iters": args.iters,
        "frame_iters": args.frame_iters,
        "segments": args.segments,
        "load_average_before": args.load_before,
        "load_average_after": os.getloadavg(),
        "runs": runs,
        "speed_up_2_workers": runs[1]["stylise_seconds"] / runs[2]["stylise_seconds"],
        "identical_pictures": same,
        "later_frame_seconds": statistics.median(later),
        "keyframe_seconds": statistics.median(keys),
        "ray_overhead": overhead,
        "driver_per_frame_1080p": _driver_per_frame(args),
    }


def _png(path: Path) -> Any:
    from PIL import Image

    with Image.open(path) as image:
        return image.convert("RGB").copy()


def _keyframes(run: dict[str, Any]) -> set[int]:
    return {0} | {s["frame"] for s in run["seams"]}


def _ray_overhead(ray: Any, size: int) -> dict[str, float]:
    """Seconds of one empty actor call, and of one carrying a frame in and a frame out through the object store."""

    @ray.remote(num_cpus=1)
    class Echo:
        def nothing(self) -> None:
            return None

        def frame(self, picture: np.ndarray) -> np.ndarray:
            return picture

    echo = Echo.remote()
    ray.get(echo.nothing.remote())
    calls = 200
    began = time.perf_counter()
    for _ in range(calls):
        ray.get(echo.nothing.remote())
    empty = (time.perf_counter() - began) / calls
    timings = {"empty_call": empty}
    picture = np.zeros((288, 512, 3), np.uint8)
    began = time.perf_counter()
    for _ in range(100):
        ray.put(picture)
    timings["put_512px_frame"] = (time.perf_counter() - began) / 100
    for name, shape in (("call_with_1080p_frame", (1080, 1920, 3)), ("call_with_512px_frames", (288, 512, 3))):
        picture = np.zeros(shape, np.uint8)
        began = time.perf_counter()
        for _ in range(20):  # a later frame's call: three pictures in (put by the driver), one out
            ray.get(echo.frame.remote(ray.put(picture)))
            ray.put(picture), ray.put(picture)
        timings[name] = (time.perf_counter() - began) / 20
    ray.kill(echo)
    return timings


def _driver_per_frame(args: argparse.Namespace) -> dict[str, float]:
    """The driver's own work per 1080p frame at --size 512: decode ×2, resize ×2, PNG write + read, encode."""
    import tempfile

    from stylevid.pipeline.io.images import resize_long_side
    from stylevid.pipeline.io.video_read import read_frames
    from stylevid.pipeline.io.video_write import VideoWriter
    from stylevid.pipeline.video.workdir import WorkFolder

    frames = [d.image for d, _ in zip(read_frames(args.clip, None, None, 1), range(10))]
    big = [resize_long_side(f, 1920) for f in frames]  # the sample clip is 1280×720: scaled up as a 1080p stand-in
    with tempfile.TemporaryDirectory() as tmp:
        work = WorkFolder(Path(tmp) / ".work")
        work.frames_dir.mkdir(parents=True)
        small = [resize_long_side(b, 512) for b in big]
        began = time.perf_counter()
        for i, s in enumerate(small):
            work.save_frame(i, s, {"frame": i})
            work.load_frame(i)
        png = (time.perf_counter() - began) / len(small)
        began = time.perf_counter()
        for b in big:
            resize_long_side(b, 512)
        resize = (time.perf_counter() - began) / len(big)
        writer = VideoWriter(Path(tmp) / "o.mp4", fps=30, width=small[0].shape[1], height=small[0].shape[0])
        began = time.perf_counter()
        for i, s in enumerate(small):
            writer.write(s, i / 30)
        writer.close()
        encode = (time.perf_counter() - began) / len(small)
    from stylevid.pipeline.motion.cuts import change_score, flow_estimator, shrink

    dis = flow_estimator()
    began = time.perf_counter()
    for before, after in zip(small, small[1:]):
        change_score(shrink(before), shrink(after), dis)
    cut_score = (time.perf_counter() - began) / (len(small) - 1)
    began = time.perf_counter()
    for _ in zip(read_frames(args.clip, None, None, 1), range(30)):
        pass
    decode_720p = (time.perf_counter() - began) / 30
    decode = decode_720p * (1920 * 1080) / (1280 * 720)  # decoding scales with pixels
    return {
        "decode_scaled_from_720p": decode,
        "resize_to_512": resize,
        "png_commit_and_read_back": png,
        "encode_512": encode,
        "cut_score": cut_score,
    }


def makespan(
    frames: int,
    workers: int,
    segment_frames: int,
    f: float,
    k: float,
    overhead: float,
    intake: float,
    *,
    preroll: int = 6,
    handoff: int = 6,
    lag: int = 2,
    read_first: bool = False,
) -> float:
    """Seconds until the last frame of a single-shot clip is made on ``workers``, under the runner's
    plan (:class:`~stylevid.pipeline.scale.plan.PlanBuilder`) and scheduler (an idle worker takes
    an opening frame first, then the ready segment with the most frames left; at most one frame of
    a segment at a time; a hand-off frame waits for the next segment's first kept frame).

    The driver reads one frame every ``intake`` seconds; a frame can be handed out once it is read
    and its place in the plan is known: the cut detector decides a pair ``lag`` frames later, and a
    segment's last ``handoff`` frames wait until its end is known (``⌈L′/2⌉`` frames past it).
    ``read_first``: the driver as it was, reading the whole clip before handing out anything.
    Each call costs ``overhead`` on top of ``f`` (a later frame) or ``k`` (an opening frame).
    """
    from stylevid.pipeline.scale.plan import opening_frame, stream_plan

    plan = stream_plan(frames, [], segment_frames, preroll)
    segments = plan.segments
    later = segment_frames - preroll if segment_frames > 2 * preroll else segment_frames
    tail = math.ceil(later / 2)
    everything = frames * intake

    def read(position: int) -> float:  # when the plan knows frame `position` (read, and its cut decided)
        return everything if read_first else min(position + 1 + lag, frames) * intake

    final = [read(min(s.end + tail, frames) - 1) if s.index < len(segments) - 1 else everything for s in segments]

    def available(segment: Any, position: int) -> float:
        if read_first:
            return everything
        step = segment_frames if segment.start == segment.shot_start else later
        known = final[segment.index - 1] if segment.index else 0.0  # where it starts is known
        if position < segment.start + step - handoff:
            return max(known, read(max(position, segment.start)))
        return final[segment.index]

    next_frame = [opening_frame(s, preroll) for s in segments]
    previous_done = [0.0] * len(segments)
    first_kept_done: list[float | None] = [None] * len(segments)
    free = [(0.0, w) for w in range(workers)]
    heapq.heapify(free)
    left = sum(s.end - opening_frame(s, preroll) for s in segments)
    end = 0.0
    while left:
        now, worker = heapq.heappop(free)
        best: tuple[Any, ...] | None = None
        for s in segments:
            position = next_frame[s.index]
            if position >= s.end:
                continue
            earliest = max(available(s, position), previous_done[s.index])
            if s.next_keyframe is not None and position >= s.end - handoff and position > s.start:
                key = first_kept_done[s.index + 1]
                if key is None:
                    continue
                earliest = max(earliest, key)
            opening = position == opening_frame(s, preroll)
            rank = (max(earliest, now), not opening, position - s.end)
            if best is None or rank < best[0]:
                best = (rank, s, position, opening)
        if best is None:  # every ready segment waits for a key still being made
            heapq.heappush(free, (min(t for t in previous_done if t > now), worker))
            continue
        (begin, _, _), s, position, opening = best
        done = begin + (k if opening else f) + overhead
        next_frame[s.index] = position + 1
        previous_done[s.index] = done
        if position == s.start:
            first_kept_done[s.index] = done
        left -= 1
        end = max(end, done)
        heapq.heappush(free, (done, worker))
    return end


def model(
    f: float,
    k: float,
    overhead: float,
    driver: dict[str, float],
    frames: int = 9000,
    workers_list: tuple[int, ...] = (8, 64),
) -> list[dict[str, Any]]:
    """Speed-ups over the in-process runner (which decodes and writes beside the optimiser, so its
    time is the optimiser's). The driver reads on two threads (decoding; then resizing, scoring the
    cut and putting the frame in the object store), so it reads one frame per the slower of the two;
    the output runs on its own thread (encoding; reading a frame back from the work folder only for
    frames finished far ahead of the output), the PNG commits on four. The run ends when the last
    frame is made and the output has taken every frame."""
    from stylevid.pipeline.scale.plan import SEGMENTS_PER_WORKER, default_segment_frames

    sequential = k + (frames - 1) * f
    decode = driver["decode_scaled_from_720p"]
    prepare = driver["resize_to_512"] + driver.get("cut_score", 0.0) + driver.get("put", 0.0)
    intake = max(decode, prepare)
    output = driver["encode_512"]
    rows = []
    for workers in workers_list:
        streamed_frames = default_segment_frames(frames, workers, 6, SEGMENTS_PER_WORKER["gpu"])
        one_each = default_segment_frames(frames, workers, 6, 1)
        streamed = max(makespan(frames, workers, streamed_frames, f, k, overhead, intake), frames * output)
        streamed_one_each = max(makespan(frames, workers, one_each, f, k, overhead, intake), frames * output)
        read_first = makespan(frames, workers, one_each, f, k, overhead, intake, read_first=True)
        compute = makespan(frames, workers, streamed_frames, f, k, overhead, 0.0)
        rows.append(
            {
                "workers": workers,
                "frames": frames,
                "segment_frames": streamed_frames,
                "sequential_seconds": sequential,
                "driver_intake_seconds_per_frame": intake,
                "driver_output_seconds_per_frame": output,
                "makespan_streamed_seconds": streamed,
                "speed_up_streamed": sequential / streamed,
                "speed_up_streamed_one_segment_per_worker": sequential / streamed_one_each,
                "speed_up_reading_first": sequential / read_first,
                "speed_up_workers_only": sequential / compute,
                "reading_bound": sequential / (frames * intake),
            }
        )
    return rows


def sweep(
    f: float,
    k: float,
    overhead: float,
    intakes: list[float],
    frames: int = 9000,
    workers_list: tuple[int, ...] = (8, 64),
) -> list[dict[str, Any]]:
    """The streamed speed-up (default segments on GPUs) for several driver reading times per frame."""
    from stylevid.pipeline.scale.plan import SEGMENTS_PER_WORKER, default_segment_frames

    sequential = k + (frames - 1) * f
    rows = []
    for workers in workers_list:
        length = default_segment_frames(frames, workers, 6, SEGMENTS_PER_WORKER["gpu"])
        for intake in intakes:
            span = makespan(frames, workers, length, f, k, overhead, intake)
            rows.append({"workers": workers, "intake_seconds": intake, "speed_up_streamed": sequential / span})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measure", action="store_true", help="run the 1 vs 2 worker measurement (CPU)")
    parser.add_argument(
        "--measure-driver",
        action="store_true",
        help="measure only the driver's per-frame work and Ray's per-call cost (kept with the last --measure's runs)",
    )
    parser.add_argument("--clip", type=Path, default=SHARED / "media" / "video" / "cockatoo.mp4")
    parser.add_argument("--style", type=Path, default=SHARED / "media" / "styles" / "vangogh_starry_night.jpg")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--segments", type=int, default=2)
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--frame-iters", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("out/scale_out"))
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--intakes",
        type=lambda text: [float(v) / 1000 for v in text.split(",")],
        help="also model these driver reading times per frame (ms, comma-separated)",
    )
    parser.add_argument(
        "--driver-figures",
        choices=("measured", "quiet"),
        default="measured",
        help="model from the driver's figures as measured, or from the earlier, quieter measurement kept in "
        "--driver-json",
    )
    parser.add_argument(
        "--gpu-frame-seconds", type=float, default=0.25, help="f on a GPU: the issue's 4 frames/s target"
    )
    parser.add_argument("--keyframe-ratio", type=float, help="k/f (default: measured, else 500 / 124 iterations)")
    parser.add_argument("--overhead", type=float, help="per-call seconds (default: measured, else 0.005)")
    parser.add_argument(
        "--driver-json",
        type=Path,
        default=Path(__file__).with_suffix(".json"),
        help="the measurement to model from without --measure",
    )
    args = parser.parse_args()
    os.environ.setdefault("STYLEVID_WEIGHTS", str(SHARED / "weights" / "vgg19-caffe-conv-fp16.pth"))
    os.environ.setdefault("STYLEVID_WEIGHTS_FORMAT", "caffe")
    args.load_before = os.getloadavg()
    report: dict[str, Any] = {}
    if args.measure:
        report["measured"] = measure(args)
    measured = report.get("measured") or json.loads(args.driver_json.read_text())["measured"]
    if args.measure_driver and not args.measure:
        import ray

        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            measured = {
                **measured,
                "ray_overhead": _ray_overhead(ray, args.size),
                "driver_per_frame_1080p": _driver_per_frame(args),
                "driver_load_average": os.getloadavg(),
            }
        finally:
            ray.shutdown()
        report["measured"] = measured
    # the keyframe ratio at the defaults (500 iterations vs ~124 of a later frame with early stop), unless given
    ratio = args.keyframe_ratio or 500 / 124
    overhead = args.overhead or measured["ray_overhead"]["call_with_512px_frames"]
    driver = {**measured["driver_per_frame_1080p"], "put": measured["ray_overhead"].get("put_512px_frame", 0.0)}
    f = args.gpu_frame_seconds
    report["model_inputs"] = {
        "later_frame_seconds": f,
        "keyframe_seconds": ratio * f,
        "keyframe_ratio": ratio,
        "per_call_overhead_seconds": overhead,
        "driver_seconds_per_frame": driver,
    }
    if args.driver_figures == "quiet":
        kept = json.loads(args.driver_json.read_text())["measured"]
        driver = {**driver, **kept["driver_per_frame_1080p"]}
        overhead = args.overhead or kept["ray_overhead"]["call_with_512px_frames"]
        report["model_inputs"]["driver_seconds_per_frame"] = driver
        report["model_inputs"]["per_call_overhead_seconds"] = overhead
    report["model"] = model(f, ratio * f, overhead, driver)
    if args.intakes:
        report["sweep"] = sweep(f, ratio * f, overhead, args.intakes)
    text = json.dumps(report, indent=2, default=float)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)


if __name__ == "__main__":
    main()
