"""Render docs/gallery.md's pictures: every shipped style on every content photo, and an α/β sweep.

    python scripts/make_gallery.py --size 512 --iters 500          # the paper's budget (a GPU: minutes)
    python scripts/make_gallery.py --size 512 --iters 300 --sweep-iters 200   # what made docs/ on 2 CPU cores

Writes docs/img/gallery_grid.jpg (paintings across, photos down), docs/img/gallery_sweep.jpg
(the α/β sweep on Tübingen × The Starry Night) and docs/img/gallery_settings.json.
Every stylised cell is also kept as a PNG under --cells (default out/gallery-cells); a rerun with
the same settings reuses them, so an interrupted run goes on where it stopped, and ``--part grid``
and ``--part sweep`` can run as two processes.
The weights come from $STYLEVID_WEIGHTS / $STYLEVID_WEIGHTS_FORMAT or torchvision's download.
"""

from __future__ import annotations

import argparse
import json
import time
from fractions import Fraction
from pathlib import Path

from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine.transfer import StyleTransfer
from stylevid.pipeline.io.images import load_image, save_image
from stylevid.pipeline.io.video_read import read_frames
from stylevid.pipeline.render.animation import save_mosaic_gif
from stylevid.pipeline.render.grids import save_image_grid

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CONTENTS = {"Tübingen": "tuebingen.jpg", "Chelsea": "chelsea_cat.png", "Coffee": "coffee.png"}
STYLES = {
    "The Starry Night": "starry_night.jpg",
    "The Great Wave": "great_wave.jpg",
    "Shipwreck of the Minotaur": "shipwreck_of_the_minotaur.jpg",
}
SWEEP = (1e-1, 1e0, 1e1, 1e2)  # multiples of the default β


def stylised_cell(cells: Path, name: str, make):
    """The picture cached at ``cells/name.png``, made with ``make()`` the first time."""
    path = cells / f"{name}.png"
    if path.exists():
        return load_image(path)
    picture = make()
    save_image(path, picture)
    return picture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--iters", type=int, default=500, help="iterations of every grid picture")
    parser.add_argument(
        "--sweep-iters", type=int, default=None, help="iterations of every sweep picture (default: --iters)"
    )
    parser.add_argument(
        "--part",
        choices=("all", "grid", "sweep", "clip"),
        default="all",
        help="clip: assemble docs/img/gallery_clip.webp from the clip runs in --clips (see docs/gallery.md)",
    )
    parser.add_argument(
        "--clips", type=Path, default=ROOT / "out" / "gallery", help="folder of the clip runs, cockatoo-<style>/"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", help="auto, fp32 or bf16 (bf16 is ~1.6× faster on a recent CPU)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--cells", type=Path, default=ROOT / "out" / "gallery-cells")
    args = parser.parse_args()
    sweep_iters = args.sweep_iters or args.iters
    cells = args.cells / f"{args.size}px"
    args.out.mkdir(parents=True, exist_ok=True)
    cells.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    contents = {name: load_image(SAMPLES / file) for name, file in CONTENTS.items()}
    styles = {name: load_image(SAMPLES / file) for name, file in STYLES.items()}
    settings_path = args.out / "gallery_settings.json"
    settings = json.loads(settings_path.read_text()) if settings_path.exists() and args.part != "all" else {}
    settings.update(
        {
            "size": args.size,
            "init": StyleConfig.init,
            "optimizer": StyleConfig.optimizer,
            "pooling": StyleConfig.pooling,
        }
    )

    if args.part in ("all", "grid"):
        base = StyleConfig(size=args.size, iters=args.iters, device=args.device, precision=args.precision)
        columns = []  # one column per style: the stylised contents, top to bottom
        for style_name, style in styles.items():
            engine = StyleTransfer(base, [style])
            columns.append(
                [
                    stylised_cell(
                        cells,
                        f"grid-{args.iters}it-{STYLES[style_name].split('.')[0]}-{CONTENTS[content_name].split('.')[0]}",
                        lambda picture=picture, engine=engine: engine.stylize(engine.prepare_content(picture)).picture,
                    )
                    for content_name, picture in contents.items()
                ]
            )
            print(f"{style_name}: done ({time.perf_counter() - began:.0f} s)", flush=True)
        header = [None, *styles.values()]  # first row: the paintings; first column: the photos
        rows = [header] + [[content, *(column[i] for column in columns)] for i, content in enumerate(contents.values())]
        save_image_grid(rows, args.out / "gallery_grid.jpg", col_labels=["content", *STYLES], cell_side=args.size)
        settings.update(
            {
                "grid_iters": args.iters,
                "grid_seconds": time.perf_counter() - began,
                "device": str(engine.device),
                "grid_precision": engine.precision,
            }
        )

    if args.part in ("all", "sweep"):
        sweep_began = time.perf_counter()
        base = StyleConfig(size=args.size, iters=sweep_iters, device=args.device, precision=args.precision)
        starry = load_image(SAMPLES / "starry_night.jpg")
        engine = StyleTransfer(base, [starry])
        content = engine.prepare_content(contents["Tübingen"])
        default_beta = engine.style_weight_for(content)
        sweep = []
        for factor in SWEEP:
            sweep_engine = StyleTransfer(
                base.replace(style_weight=default_beta * factor), [starry], extractor=engine.extractor
            )
            sweep.append(
                stylised_cell(
                    cells,
                    f"sweep-{sweep_iters}it-x{factor:g}",
                    lambda engine=sweep_engine: engine.stylize(content).picture,
                )
            )
            print(f"β × {factor:g}: done ({time.perf_counter() - began:.0f} s)", flush=True)
        labels = [f"α/β = {1 / (default_beta * f):.1e}" for f in SWEEP]
        save_image_grid([sweep], args.out / "gallery_sweep.jpg", col_labels=labels, cell_side=args.size)
        settings.update(
            {
                "sweep_iters": sweep_iters,
                "default_style_weight_at_tuebingen": default_beta,
                "sweep_factors": SWEEP,
                "sweep_seconds": time.perf_counter() - sweep_began,
                "device": str(engine.device),
                "sweep_precision": engine.precision,
            }
        )

    if args.part == "clip":
        settings["clip"] = clip_mosaic(args.clips, args.out / "gallery_clip.webp", args.size)

    settings_path.write_text(json.dumps(settings, indent=2) + "\n")


def clip_mosaic(runs: Path, path: Path, size: int) -> dict:
    """The original clip and its stylisation in each style, playing together (2 × 2)."""
    stylised, labels, records = [], ["original"], {}
    for style_name, file in STYLES.items():
        run = runs / f"cockatoo-{file.split('.')[0]}"
        stylised.append([f.image for f in read_frames(run / "cockatoo_stylised.mp4")])
        labels.append(style_name)
        record = json.loads((run / "run.json").read_text())
        records[style_name] = {
            k: record[k]
            for k in ("warping_error", "mean_style_loss", "frames", "processing_size", "precision", "seconds")
        }
    config = record["config"]
    every, end = config["every"], config["end"]
    originals = [f.image for f in read_frames(SAMPLES / "cockatoo.mp4", end=end, every=every)]
    fps = float(Fraction(record["input"]["fps"])) / every
    save_mosaic_gif([originals, *stylised], path, fps=fps, columns=2, max_side=size, labels=labels)
    return {
        "end": end,
        "every": every,
        "iters": config["style"]["iters"],
        "frame_iters": config["frame_iters"],
        "runs": records,
    }


if __name__ == "__main__":
    main()
