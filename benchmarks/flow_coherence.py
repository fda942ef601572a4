"""How much the flow limits coherence: a short stylised run driven by each flow method, graded with true motion.

Each generated clip (:mod:`stylevid.pipeline.motion.synthetic`; the ``rot_zoom`` and ``object``
clips of ``flow_methods.py``, scaled to ``--size``) is stylised with the default video settings
(``prev-warped`` + temporal loss), once per ``--methods`` flow and once driven by the exact flow
(``--flow-dir`` with the generator's flow and visibility). Reported per run: the true-motion
warping error (exact flow, exact mask; ``benchmarks/true_motion.py``'s metric) and its ratio to
the exact-flow run of the same clip, and the mean style loss. Turner's *Shipwreck of the
Minotaur* as the style (not one the defaults were tuned on).

    nice python benchmarks/flow_coherence.py --size 128 --frames 6 --iters 20 --threads 1

Weights: $STYLEVID_WEIGHTS / $STYLEVID_WEIGHTS_FORMAT (e.g. the shared Caffe file) or torchvision's.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from pathlib import Path

import torch

from stylevid.pipeline import VideoConfig, stylize_video
from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine.transfer import StyleTransfer
from stylevid.pipeline.io.images import load_image
from stylevid.pipeline.io.true_motion import save_true_motion_clip

HERE = Path(__file__).resolve().parent


def _sibling(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


flow_methods = _sibling("flow_methods")
true_motion = _sibling("true_motion")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--iters", type=int, default=20, help="iterations of every frame")
    parser.add_argument("--methods", default="dis,dis-fine,deepflow")
    parser.add_argument("--clips", default="rot_zoom,object")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("out/flow_coherence"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    print(f"{args.size} px, {args.frames} frames, {args.iters} iterations, load average {load[0]:.2f} {load[1]:.2f}")

    style = load_image(true_motion.MEDIA / "styles" / "turner_shipwreck_of_the_minotaur.jpg")
    base = StyleConfig(size=args.size, iters=args.iters, device="cpu")
    engine = StyleTransfer(base, [style])
    table: dict[str, dict[str, dict[str, float]]] = {}
    for name, clip in flow_methods.clips(args.size, args.frames).items():
        if name not in args.clips.split(","):
            continue
        folder = args.out / name
        save_true_motion_clip(clip, folder / "frames", folder / "flow")
        runs = {"exact": {"flow_dir": str(folder / "flow")}} | {m: {"flow_method": m} for m in args.methods.split(",")}
        rows: dict[str, dict[str, float]] = {}
        for run, flow in runs.items():
            config = VideoConfig(style=base, frame_iters=args.iters, cuts="off", **flow)
            began = time.perf_counter()
            result = stylize_video(folder / "frames", [style], folder / run, config, restart=True, engine=engine)
            stylised = [load_image(p) for p in sorted(result.output.glob("*.png"))]
            rows[run] = {
                "true_motion_warping_error": true_motion.true_error(clip, stylised, 1),
                "mean_style_loss": result.mean_style_loss,
                "seconds_per_frame": (time.perf_counter() - began) / result.frames,
            }
        for run, row in rows.items():
            row["vs_exact"] = row["true_motion_warping_error"] / rows["exact"]["true_motion_warping_error"]
            print(
                f"{name:<10}{run:<10}{row['true_motion_warping_error']:>11.5f}{row['vs_exact']:>7.2f}×"
                f"{row['mean_style_loss']:>11.4g}{row['seconds_per_frame']:>8.1f} s/frame",
                flush=True,
            )
        table[name] = rows
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(
                json.dumps(
                    {
                        "settings": vars(args) | {"out": str(args.out), "json": str(args.json)},
                        "load_average": load,
                        "clips": table,
                    },
                    indent=1,
                )
            )


if __name__ == "__main__":
    main()
