"""Render docs/gallery.md's pictures: every shipped style on every content photo, and an α/β sweep.

    python scripts/make_gallery.py --size 512 --iters 500          # the real thing, on a GPU
    python scripts/make_gallery.py --size 256 --iters 120          # what a 2-core CPU manages

Writes docs/img/gallery_grid.jpg (paintings across, photos down), docs/img/gallery_sweep.jpg
(the α/β sweep on Tübingen × The Starry Night) and docs/img/gallery_settings.json.
The weights come from $STYLEVID_WEIGHTS / $STYLEVID_WEIGHTS_FORMAT or torchvision's download.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.images import load_image
from stylevid.pipeline.renders import save_image_grid
from stylevid.pipeline.stylize import StyleTransfer

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
CONTENTS = {"Tübingen": "tuebingen.jpg", "Chelsea": "chelsea_cat.png", "Coffee": "coffee.png"}
STYLES = {"The Starry Night": "starry_night.jpg", "The Great Wave": "great_wave.jpg", "Shipwreck of the Minotaur": "shipwreck_of_the_minotaur.jpg"}
SWEEP = (1e-1, 1e0, 1e1, 1e2)  # multiples of the default β


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--iters", type=int, default=500)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    base = StyleConfig(size=args.size, iters=args.iters, device=args.device)
    began = time.perf_counter()
    contents = {name: load_image(SAMPLES / file) for name, file in CONTENTS.items()}
    styles = {name: load_image(SAMPLES / file) for name, file in STYLES.items()}
    columns = []  # one column per style: the stylised contents, top to bottom
    for style_name, style in styles.items():
        engine = StyleTransfer(base, [style])
        columns.append([engine.stylize(engine.prepare_content(picture)).picture for picture in contents.values()])
        print(f"{style_name}: done ({time.perf_counter() - began:.0f} s)", flush=True)
    header = [None, *styles.values()]  # first row: the paintings; first column: the photos
    rows = [header] + [[content, *(column[i] for column in columns)] for i, content in enumerate(contents.values())]
    save_image_grid(rows, args.out / "gallery_grid.jpg", col_labels=["content", *STYLES], cell_side=args.size)

    engine = StyleTransfer(base, [load_image(SAMPLES / "starry_night.jpg")])
    content = engine.prepare_content(contents["Tübingen"])
    default_beta = engine.style_weight_for(content)
    sweep = []
    for factor in SWEEP:
        sweep_engine = StyleTransfer(base.replace(style_weight=default_beta * factor), [load_image(SAMPLES / "starry_night.jpg")], extractor=engine.extractor)
        sweep.append(sweep_engine.stylize(content).picture)
        print(f"β × {factor:g}: done ({time.perf_counter() - began:.0f} s)", flush=True)
    labels = [f"α/β = {1 / (default_beta * f):.1e}" for f in SWEEP]
    save_image_grid([sweep], args.out / "gallery_sweep.jpg", col_labels=labels, cell_side=args.size)
    settings = {"size": args.size, "iters": args.iters, "init": base.init, "optimizer": base.optimizer, "pooling": base.pooling,
                "default_style_weight_at_tuebingen": default_beta, "sweep_factors": SWEEP, "seconds": time.perf_counter() - began,
                "device": str(engine.device)}
    (args.out / "gallery_settings.json").write_text(json.dumps(settings, indent=2) + "\n")


if __name__ == "__main__":
    main()
