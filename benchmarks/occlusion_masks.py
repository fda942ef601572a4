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

    python benchmarks/occlusion_masks.py --size 96 --frames 8 --json benchmarks/occlusion_masks.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from true_motion import reveal_clip  # noqa: E402

from stylevid.pipeline.motion.flow import flow_pair, flow_to_tensor  # noqa: E402
from stylevid.pipeline.motion.occlusion import consistency_mask  # noqa: E402

GAP = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--methods", default="deepflow,dis-fine,dis")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    clip = reveal_clip(args.size, args.frames)
    rows = []
    for method in args.methods.split(","):
        hidden_kept, revealed_claimed, visible_kept, epe = [], [], [], {1: [], GAP: []}
        for t in range(1, len(clip)):
            for k in (1, GAP):
                if k > t:
                    continue
                flow_fw, flow_bw = flow_pair(clip.frames[t - k], clip.frames[t], method)
                true_bw, visible = clip.backward(t, k)
                epe[k].append(float(np.linalg.norm(flow_bw - true_bw, axis=2)[visible].mean()))
                if k != 1:
                    continue
                mask = consistency_mask(flow_to_tensor(flow_fw), flow_to_tensor(flow_bw))[0, 0].numpy() > 0.5
                hidden = ~visible
                hidden_kept.append((mask & hidden).sum() / max(1, hidden.sum()))
                visible_kept.append((mask & visible).sum() / max(1, visible.sum()))
                if t >= GAP:
                    revealed = clip.backward(t, GAP)[1] & hidden
                    if revealed.any():
                        revealed_claimed.append((mask & revealed).sum() / revealed.sum())
        row = {
            "method": method,
            "hidden_at_t_minus_1_kept": float(np.mean(hidden_kept)),
            "revealed_claimed_by_t_minus_1": float(np.mean(revealed_claimed)),
            "visible_kept": float(np.mean(visible_kept)),
            "epe_gap_1": float(np.mean(epe[1])),
            f"epe_gap_{GAP}": float(np.mean(epe[GAP])),
        }
        rows.append(row)
        print(
            f"{method:9s} hidden at t−1 kept {100 * row['hidden_at_t_minus_1_kept']:3.0f} %   revealed claimed by "
            f"t−1 {100 * row['revealed_claimed_by_t_minus_1']:3.0f} %   visible kept "
            f"{100 * row['visible_kept']:3.0f} %   EPE t−1 {row['epe_gap_1']:.2f} px, "
            f"t−{GAP} {row[f'epe_gap_{GAP}']:.2f} px",
            flush=True,
        )
    if args.json:
        report = {"clip": "object_reveal", "size": args.size, "frames": args.frames, "rows": rows}
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
