"""The pictures a batch of photos writes, and how a rerun knows which are done.

Each photo ``NAME.EXT`` becomes ``<output>/NAME_stylised.png``. The picture carries, as a PNG
text chunk ahead of its pixels, a stamp: the settings it was made with, the photo it came from
(name and sha256 of the file) and its numbers (run.json's row). A rerun reads the stamps from the
headers alone and skips every photo whose output matches; an output made with other settings,
from another file, or not by a batch at all is never overwritten unless the run restarts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..config import VideoConfig
from ..errors import StylevidError
from ..io.images import save_image
from ..io.paths import check_not_input
from ..video.fingerprint import engine_settings
from ..video.workdir import first_difference

#: Key of the PNG text chunk holding an output's stamp.
STAMP_KEY = "stylevid-batch"
#: Bumped when the stamp or the meaning of its settings changes (older outputs are then redone).
STAMP_VERSION = 1


def output_path(out_dir: Path, photo: Path) -> Path:
    """Where the stylised ``photo`` goes: ``<out_dir>/<stem>_stylised.png``."""
    return Path(out_dir) / f"{photo.stem}_stylised.png"


def batch_settings(config: VideoConfig, styles: list[np.ndarray]) -> dict[str, Any]:
    """Everything a batch's output pictures depend on (as JSON would store it)."""
    settings = {
        "batch_version": STAMP_VERSION,
        **engine_settings(config.style, styles),
        "output_size": config.output_size,
    }
    return json.loads(json.dumps(settings))


def photo_identity(photo: Path) -> dict[str, str]:
    """The photo an output came from: its name and the sha256 of its file."""
    digest = hashlib.sha256()
    with open(photo, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"name": photo.name, "sha256": digest.hexdigest()}


def save_output(
    path: Path, picture: np.ndarray, settings: dict[str, Any], photo: dict[str, str], stats: dict[str, Any]
) -> Path:
    """Write one stylised photo with its stamp (atomically: the file is whole or absent)."""
    stamp = {"settings": settings, "photo": photo, "stats": stats}
    return save_image(path, picture, text={STAMP_KEY: json.dumps(stamp)})


def read_stamp(path: Path) -> dict[str, Any] | None:
    """The stamp of an output picture, from its header; None when it has none (or cannot be read)."""
    try:
        with Image.open(path) as image:
            text = image.info.get(STAMP_KEY)
        stamp = json.loads(text) if isinstance(text, str) else None
    except (OSError, SyntaxError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


@dataclass(frozen=True)
class PlannedPhoto:
    """One photo of a batch, with what an earlier run left of it."""

    source: Path  # the photo
    output: Path  # its stylised picture
    done: dict[str, Any] | None  # its numbers when an earlier run with the same settings made the output


def plan_photos(
    photos: list[Path], out_dir: Path, settings: dict[str, Any], *, restart: bool, inputs: list[Path]
) -> list[PlannedPhoto]:
    """Each photo's output and whether it is done; refuses (StylevidError) before any work when two
    photos would share an output name, an output would overwrite one of ``inputs``, or an output
    exists that these settings did not make from this photo (unless ``restart``)."""
    by_name: dict[str, Path] = {}
    plan = []
    for photo in photos:
        output = output_path(out_dir, photo)
        other = by_name.setdefault(output.name.lower(), photo)  # case-blind: macOS and Windows folders are
        if other != photo:
            raise StylevidError(
                f"{other.name} and {photo.name} would both be written as {output.name}; rename one of them"
            )
        check_not_input(output, inputs)
        plan.append(PlannedPhoto(photo, output, None if restart else _done_earlier(output, photo, settings)))
    return plan


def _done_earlier(output: Path, photo: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The stats stamped on ``output`` when it was made from ``photo`` with ``settings``; None when
    there is no output yet; a StylevidError when it was made otherwise."""
    if not output.exists():
        return None
    stamp = read_stamp(output)
    again = "use --restart to stylise every photo again, or another --output folder"
    if stamp is None or not isinstance(stamp.get("stats"), dict):
        raise StylevidError(f"{output} exists and was not made by a photo batch; {again}")
    if stamp.get("settings") != settings:
        changed = first_difference(stamp.get("settings"), settings)
        raise StylevidError(f"{output} was made with other settings ({changed}); {again}")
    if stamp.get("photo") != photo_identity(photo):
        raise StylevidError(f"{output} was made from another {photo.name} (the file has changed since); {again}")
    return stamp["stats"]
