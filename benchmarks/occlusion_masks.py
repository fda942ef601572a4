"""How well each flow method's reliability mask finds occlusions, graded with exact visibility.

On ``true_motion.py``'s ``object_reveal`` clip (a disc crossing a panned photo: the ground it leaves
was hidden at t−1 and seen at t−4), each flow method's backward flow t → t−k and the forward-backward
consistency mask the temporal loss uses (``motion/occlusion.py``) are set against the generator's
exact flow and visibility. Reported per method:

* hidden at t−1 kept: of the pixels not visible at t−1, the share the t−1 mask calls reliable (the
  temporal loss then holds them to ground that was not there: wrong targets);
* revealed claimed by t−1: of the pixels hidden at t−1 but seen at t−4, the share the t−1 mask
  keeps. With ``--long-term`` the closest reliable frame wins, so these never reach the t−4 term;
* visible kept: of the pixels truly visible at t−1, the share the mask keeps;
* end-point error of the t → t−k flow on visible pixels, for k = 1 and 4.

Each method's mask is graded as the consistency check alone (what the temporal loss uses) and
with the photometric check (``motion/occlusion.py`` ``photometric_mask``, not used by the pipeline)
at each ``--tolerances`` value. ``--clips`` adds other
generated clips (``object``, ``camera_slow``, ``camera_fast``) to see what the check costs where
nothing is occluded.

    python benchmarks/occlusion_masks.py --size 96 --frames 8 --tolerances 0.05,0.08,0.12,0.2 \\
        --clips object_reveal,object,camera_slow,camera_fast --json benchmarks/occlusion_masks.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from true_motion import clips  # noqa: E402

from stylevid.pipeline.motion.flow import flow_pair, flow_to_tensor  # noqa: E402
from stylevid.pipeline.motion.occlusion import consistency_mask, photometric_mask  # noqa: E402

GAP = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--methods", default="deepflow,dis-fine,dis")
    parser.add_argument("--tolerances", default="0.08", help="photometric tolerances to grade (0-1 RGB)")
    parser.add_argument("--clips", default="object_reveal")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tolerances = [None, *(float(v) for v in args.tolerances.split(","))]
    generated = clips(args.size, args.frames)
    rows = []
    for clip_name in args.clips.split(","):
        clip = generated[clip_name]
        for method in args.methods.split(","):
            rows.extend(grade(clip, clip_name, method, tolerances))
    if args.json:
        report = {"size": args.size, "frames": args.frames, "rows": rows}
        args.json.write_text(json.dumps(report, indent=1))


def grade(clip, clip_name: str, method: str, tolerances: list[float | None]) -> list[dict]:
    """One row per tolerance (None: the consistency check alone) for ``method`` on ``clip``."""
    counts: dict[float | None, dict[str, list[float]]] = {
        t: {"hidden": [], "revealed": [], "visible": []} for t in tolerances
    }
    epe: dict[int, list[float]] = {1: [], GAP: []}
    for t in range(1, len(clip)):
        for k in (1, GAP):
            if k > t:
                continue
            flow_fw, flow_bw = flow_pair(clip.frames[t - k], clip.frames[t], method)
            true_bw, visible = clip.backward(t, k)
            epe[k].append(float(np.linalg.norm(flow_bw - true_bw, axis=2)[visible].mean()))
            if k != 1:
                continue
            fw, bw = flow_to_tensor(flow_fw), flow_to_tensor(flow_bw)
            consistent = consistency_mask(fw, bw)
            prev, cur = (torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255 for f in clip.frames[t - 1 : t + 1])
            hidden = ~visible
            revealed = clip.backward(t, GAP)[1] & hidden if t >= GAP else None
            for tolerance in tolerances:
                mask = consistent if tolerance is None else consistent * photometric_mask(prev, cur, bw, tolerance)
                kept = mask[0, 0].numpy() > 0.5
                if hidden.any():
                    counts[tolerance]["hidden"].append((kept & hidden).sum() / hidden.sum())
                counts[tolerance]["visible"].append((kept & visible).sum() / visible.sum())
                if revealed is not None and revealed.any():
                    counts[tolerance]["revealed"].append((kept & revealed).sum() / revealed.sum())
    rows = []
    for tolerance, c in counts.items():
        share = {key: float(np.mean(v)) if v else None for key, v in c.items()}
        row = {
            "clip": clip_name,
            "method": method,
            "photometric_tolerance": tolerance,
            "hidden_at_t_minus_1_kept": share["hidden"],
            "revealed_claimed_by_t_minus_1": share["revealed"],
            "visible_kept": share["visible"],
            "epe_gap_1": float(np.mean(epe[1])),
            f"epe_gap_{GAP}": float(np.mean(epe[GAP])),
        }
        rows.append(row)
        print(
            f"{clip_name:13s} {method:9s} photometric {str(tolerance):5s} hidden at t−1 kept {_pc(share['hidden'])}  "
            f"revealed claimed by t−1 {_pc(share['revealed'])}  visible kept {_pc(share['visible'])}  "
            f"EPE t−1 {row['epe_gap_1']:.2f} px, t−{GAP} {row[f'epe_gap_{GAP}']:.2f} px",
            flush=True,
        )
    return rows


def _pc(share: float | None) -> str:
    return "   —" if share is None else f"{100 * share:3.0f} %"


if __name__ == "__main__":
    main()
