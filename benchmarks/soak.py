"""Soak: a long video run through the real CLI holds its memory, file descriptors and threads, and
survives being killed.

A clip of ``--frames`` generated frames (moving shapes, 25 fps) is stylised at a tiny size with
few iterations, end to end (decode, flow, optimisation, work folder, encoding, renders), by
``python -m stylevid.cli`` in a child process — the product as users run it, unchanged.

1. **Uninterrupted run.** Every ``--sample-every`` frames (counted by the finished frames that
   appear in ``OUT/.work/frames``, which the run writes in order) the child's resident memory
   (``VmRSS`` in ``/proc/PID/status``), open file descriptors (``/proc/PID/fd``) and threads
   (``/proc/PID/task``) are read. Reported: the growth of resident memory from frame 200 to the
   last frame (target < 5 %), and the range of descriptors and threads over the same span (target:
   flat).
2. **Killed twice, resumed.** The same command into a second folder is killed with SIGKILL at
   two random frame counts (seeded by ``--seed``) and run again each time (beside the
   uninterrupted run with ``--together``, one after the other without); the third run
   finishes. Its work-folder frames must equal the uninterrupted run's pixel for pixel (exact on
   the CPU, where a seeded run repeats bit for bit), and its video must hold all the frames, the
   same decoded pictures as the uninterrupted run's video.

Linux only (``/proc``). The child runs with ``OMP_NUM_THREADS=--threads`` and, with ``--nice``,
at a lower priority (for shared machines).

    python benchmarks/soak.py                         # 2,000 frames
    python benchmarks/soak.py --frames 200 --json out/soak.json

Weights: $STYLEVID_WEIGHTS / $STYLEVID_WEIGHTS_FORMAT (e.g. the shared Caffe file) or torchvision's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
STYLE = ROOT / "samples" / "starry_night.jpg"


def make_clip(path: Path, frames: int, width: int, height: int, fps: int = 25) -> Path:
    """``frames`` frames of a bright disc and a bar moving over a gradient (H.264, yuv420p)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    background = np.stack([x / width * 200, y / height * 200, np.full_like(x, 90)], axis=-1)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "18", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        for index in range(frames):
            picture = background.copy()
            cx = (index * 0.7) % width
            cy = height / 2 + height / 4 * np.sin(index / 15)
            picture[(x - cx) ** 2 + (y - cy) ** 2 < (height / 5) ** 2] = (250, 230, 60)
            picture[:, int(index * 0.4) % width : int(index * 0.4) % width + 3] = (30, 30, 200)
            frame = av.VideoFrame.from_ndarray(picture.astype(np.uint8), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def finished_frames(out: Path, known: int) -> int:
    """How many frames the run has saved (frames are saved in order; counting on from ``known``)."""
    frames = out / ".work" / "frames"
    while (frames / f"{known:06d}.png").exists():
        known += 1
    return known


def proc_sample(pid: int) -> dict[str, int] | None:
    """Resident memory (kB), peak resident memory (kB), open descriptors and threads of ``pid``."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return {
            "rss_kb": int(fields["VmRSS"].split()[0]),
            "peak_rss_kb": int(fields["VmHWM"].split()[0]),
            "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "threads": len(os.listdir(f"/proc/{pid}/task")),
        }
    except (OSError, KeyError, ValueError):  # the process ended meanwhile
        return None


def run(
    command: list[str], env: dict[str, str], out: Path, total: int, *, sample_every: int = 0, kill_at: int | None = None
) -> dict:
    """Run ``command`` until it ends (or, with ``kill_at``, SIGKILL it once that many frames are saved)."""
    began = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    done, samples = 0, []
    next_sample = sample_every if sample_every else None
    while process.poll() is None:
        done = finished_frames(out, done)
        if next_sample is not None and done >= next_sample:
            sample = proc_sample(process.pid)
            if sample is not None:
                samples.append({"frames": done, "seconds": round(time.perf_counter() - began, 2), **sample})
            next_sample = None if next_sample >= total else min(next_sample + sample_every, total)
        if kill_at is not None and done >= kill_at:
            process.kill()
            break
        time.sleep(0.02)
    _, stderr = process.communicate()
    return {
        "returncode": process.returncode,
        "seconds": time.perf_counter() - began,
        "frames_saved": finished_frames(out, 0),
        "samples": samples,
        "stderr": stderr.strip()[-2000:],
    }


def work_frames(out: Path) -> list[Path]:
    return sorted((out / ".work" / "frames").glob("*.png"))


def decoded_frames(video: Path) -> list[np.ndarray]:
    with av.open(str(video)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def growth(samples: list[dict], key: str, start_frame: int) -> dict:
    """``key`` at the first sample at or after ``start_frame`` and at the last, and the change between."""
    span = [s for s in samples if s["frames"] >= start_frame]
    if len(span) < 2:
        return {"from_frame": None}
    first, last = span[0][key], span[-1][key]
    values = [s[key] for s in span]
    half = len(values) // 2
    return {
        # flat: the second half of the span never goes above the first half's highest value
        "trend": max(values[half:]) - max(values[:half]),
        "from_frame": span[0]["frames"],
        "to_frame": span[-1]["frames"],
        "first": first,
        "last": last,
        "min": min(values),
        "max": max(values),
        "growth": (last - first) / first if first else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=2000, help="frames of the generated clip")
    parser.add_argument("--clip-size", default="64x48", help="WxH of the generated clip (even numbers)")
    parser.add_argument("--size", type=int, default=32, help="processing long side (--size)")
    parser.add_argument("--iters", type=int, default=2, help="iterations of the first frame")
    parser.add_argument("--frame-iters", type=int, default=1, help="iterations of each later frame")
    parser.add_argument("--sample-every", type=int, default=100, help="frames between samples")
    parser.add_argument("--from-frame", type=int, default=200, help="growth is measured from this frame on")
    parser.add_argument("--kills", type=int, default=2, help="SIGKILLs at random frame counts before the resume")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill points")
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of the run")
    parser.add_argument("--nice", type=int, default=0, help="run the child at this niceness (shared machines)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--together",
        action="store_true",
        help="run the killed-and-resumed runs beside the uninterrupted one (sooner; its seconds then mean less)",
    )
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    if not Path("/proc/self/status").exists():
        print("soak.py reads /proc: Linux only", file=sys.stderr)
        return 2
    width, height = (int(v) for v in args.clip_size.lower().split("x"))
    root = args.keep or Path(tempfile.mkdtemp(prefix="stylevid-soak-"))
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    nice = ["nice", "-n", str(args.nice)] if args.nice else []
    try:
        clip = make_clip(root / "soak.mp4", args.frames, width, height)

        def command(out: Path) -> list[str]:
            return [
                *nice,
                *(sys.executable, "-m", "stylevid.cli", str(clip), "--style", str(STYLE), "-o", str(out)),
                *("--size", str(args.size), "--iters", str(args.iters), "--frame-iters", str(args.frame_iters)),
                *("--device", args.device, "--quiet"),
            ]

        print(
            f"soak: {args.frames} frames of {width}×{height} at --size {args.size}, "
            f"{args.iters} iterations (first frame) / {args.frame_iters} (later frames)"
        )
        rng = random.Random(args.seed)
        low, high = max(1, args.frames // 20), args.frames - max(1, args.frames // 20)
        kill_points = sorted(rng.sample(range(low, high), args.kills))
        resumed_out = root / "killed"
        attempts: list[dict] = []

        def killed_and_resumed() -> None:
            for kill_at in [*kill_points, None]:
                attempt = run(command(resumed_out), env, resumed_out, args.frames, kill_at=kill_at)
                attempts.append({k: v for k, v in attempt.items() if k != "samples"} | {"kill_at": kill_at})
                saved = attempt["frames_saved"]
                print(f"run {'killed at ' + str(kill_at) if kill_at else 'to the end'}: {saved} frames saved")

        beside = threading.Thread(target=killed_and_resumed) if args.together else None
        if beside is not None:
            beside.start()
        reference = run(command(root / "ref"), env, root / "ref", args.frames, sample_every=args.sample_every)
        if beside is not None:
            beside.join()
        if reference["returncode"] != 0:
            print(f"uninterrupted run failed ({reference['returncode']}): {reference['stderr']}", file=sys.stderr)
            return 1
        samples = reference["samples"]
        memory = growth(samples, "rss_kb", args.from_frame)  # to the last frame
        # descriptors and threads while frames are in flight (at the last frame the pipeline winds down)
        running = [s for s in samples if s["frames"] < args.frames]
        fds, threads = growth(running, "fds", args.from_frame), growth(running, "threads", args.from_frame)
        print(f"uninterrupted: {reference['seconds']:.0f} s, {args.frames / reference['seconds']:.1f} frames/s")
        print(" frames  seconds  RSS MB  peak MB  fds  threads")
        for s in samples:
            print(
                f"{s['frames']:7d} {s['seconds']:8.1f} {s['rss_kb'] / 1024:7.1f} {s['peak_rss_kb'] / 1024:8.1f}"
                f" {s['fds']:4d} {s['threads']:8d}"
            )
        if memory["from_frame"] is not None:
            print(
                f"RSS frame {memory['from_frame']} → {memory['to_frame']}: {memory['first'] / 1024:.1f} → "
                f"{memory['last'] / 1024:.1f} MB ({memory['growth']:+.2%}; target < 5 %); "
                f"while frames are in flight: fds {fds['min']}–{fds['max']} (trend {fds['trend']:+d}), "
                f"threads {threads['min']}–{threads['max']} (trend {threads['trend']:+d}; flat: ≤ 0)"
            )

        if beside is None:
            killed_and_resumed()
        final = attempts[-1]
        if final["returncode"] != 0:
            print(f"resumed run failed ({final['returncode']}): {final['stderr']}", file=sys.stderr)
        mine, theirs = work_frames(resumed_out), work_frames(root / "ref")
        equal_work = len(mine) == len(theirs) == args.frames and all(
            np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b))) for a, b in zip(mine, theirs)
        )
        ref_video, resumed_video = decoded_frames(root / "ref" / "soak_stylised.mp4"), []
        if (resumed_out / "soak_stylised.mp4").exists():
            resumed_video = decoded_frames(resumed_out / "soak_stylised.mp4")
        equal_video = len(resumed_video) == len(ref_video) and all(
            np.array_equal(a, b) for a, b in zip(resumed_video, ref_video)
        )
        print(
            f"killed at {kill_points} and resumed: {len(resumed_video)} of {args.frames} frames in the video; "
            f"work frames equal: {equal_work}; decoded video frames equal: {equal_video}"
        )
        result = {
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "python": platform.python_version(),
            "command": " ".join(command(Path("OUT"))),
            "frames": args.frames,
            "uninterrupted_seconds": reference["seconds"],
            "together": args.together,
            "samples": samples,
            "rss_growth": memory,
            "fds": fds,
            "threads": threads,
            "kill_points": kill_points,
            "attempts": attempts,
            "video_frames": len(resumed_video),
            "work_frames_equal": equal_work,
            "video_frames_equal": equal_video,
        }
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=1))
        passed = (
            final["returncode"] == 0
            and equal_work
            and equal_video
            and len(resumed_video) == args.frames
            and memory.get("growth") is not None
            and memory["growth"] < 0.05
            and fds["trend"] <= 0
            and threads["trend"] <= 0
        )
        print("soak: PASS" if passed else "soak: FAIL")
        return 0 if passed else 1
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
