"""The work folder of a video run: finished frames on disk, so nothing computed is ever lost.

Layout (inside the output folder)::

    .work/manifest.json        settings fingerprint of the run (written once, atomically)
    .work/frames/000000.png    stylised frame 0 at processing size, lossless, with its stats
    .work/first_frame.json     per-iteration losses of the progress-GIF frame
    .work/snapshots/…png       that frame's snapshots for the progress GIF

Each frame is written to a temp file and renamed into place, so a frame file either exists
complete or not at all; a killed run resumes at the first missing frame (or at the start of the
rolling segment it cut short, see :meth:`WorkFolder.resume_point`).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

from ..errors import StylevidError
from ..io.images import atomic_write
from ..io.record import write_json

MANIFEST_VERSION = 1


class WorkFolder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.frames_dir = root / "frames"
        self.snapshots_dir = root / "snapshots"

    # --- manifest ---------------------------------------------------------------------------------
    def open(self, settings: dict[str, Any], *, restart: bool) -> int:
        """Create or reuse the folder for ``settings``; return how many frames are already done.

        Refuses (StylevidError) to mix results of different settings unless ``restart``.
        """
        manifest = self.root / "manifest.json"
        wanted = {"version": MANIFEST_VERSION, "settings": settings}
        if manifest.exists() and restart:
            shutil.rmtree(self.root)
        elif manifest.exists():
            try:
                found = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                found = None
            if found != json.loads(json.dumps(wanted)):
                changed = first_difference(found.get("settings") if isinstance(found, dict) else None, settings)
                raise StylevidError(
                    f"{self.root.parent} holds frames of a run with other settings ({changed}); "
                    "use --restart to discard them, or another --output folder"
                )
        self.frames_dir.mkdir(parents=True, exist_ok=True)
        self.snapshots_dir.mkdir(parents=True, exist_ok=True)
        for leftover in [*self.frames_dir.glob(".*.partial"), *self.snapshots_dir.glob(".*.partial")]:
            leftover.unlink(missing_ok=True)  # a write cut short by kill -9 or a full disk
        if not manifest.exists():
            write_json(manifest, wanted)
        return self.done_count()

    def done_count(self) -> int:
        """Number of consecutive finished frames from the start."""
        count = 0
        while self.frame_path(count).exists():
            count += 1
        return count

    def resume_point(self, done: int) -> int:
        """The first frame to stylise: ``done``, or the start of a rolling segment that a kill cut short.

        The frames of a segment depend on each other while in flight, so a run that resumed in the
        middle of one would not repeat an uninterrupted run; the whole segment is redone instead.
        """
        if done == 0:
            return 0
        first, closed = self.load_frame(done - 1)[1].get("segment", [done - 1, True])
        return done if closed else first

    # --- frames -----------------------------------------------------------------------------------
    def frame_path(self, position: int) -> Path:
        return self.frames_dir / f"{position:06d}.png"

    def save_frame(self, position: int, picture: np.ndarray, stats: dict[str, Any]) -> None:
        info = PngImagePlugin.PngInfo()
        info.add_text("stylevid", json.dumps(stats))
        buffer = io.BytesIO()
        Image.fromarray(picture).save(buffer, format="PNG", pnginfo=info, compress_level=1)
        atomic_write(self.frame_path(position), lambda handle: handle.write(buffer.getvalue()))

    def load_frame(self, position: int) -> tuple[np.ndarray, dict[str, Any]]:
        path = self.frame_path(position)
        try:
            with Image.open(path) as image:
                image.load()
                stats = json.loads(image.text.get("stylevid", "{}"))
                return np.asarray(image.convert("RGB")).copy(), stats
        except (OSError, ValueError) as error:
            raise StylevidError(f"work file {path} is damaged ({error}); delete it and run again") from None

    # --- progress-GIF frame -----------------------------------------------------------------------
    def save_history(self, history: list[dict[str, float]], snapshots: list[tuple[int, np.ndarray]]) -> None:
        for iteration, picture in snapshots:
            buffer = io.BytesIO()
            Image.fromarray(picture).save(buffer, format="PNG", compress_level=1)
            atomic_write(self.snapshots_dir / f"{iteration:06d}.png", lambda h, b=buffer: h.write(b.getvalue()))
        write_json(self.root / "first_frame.json", {"history": history})

    def load_history(self) -> tuple[list[dict[str, float]], list[tuple[int, np.ndarray]]]:
        path = self.root / "first_frame.json"
        if not path.exists():
            return [], []
        history = json.loads(path.read_text(encoding="utf-8"))["history"]
        snapshots = []
        for file in sorted(self.snapshots_dir.glob("*.png")):
            with Image.open(file) as image:
                snapshots.append((int(file.stem), np.asarray(image.convert("RGB")).copy()))
        return history, snapshots


def first_difference(found: Any, wanted: dict[str, Any]) -> str:
    if not isinstance(found, dict):
        return "unreadable manifest"
    wanted = json.loads(json.dumps(wanted))
    for key in sorted(set(found) | set(wanted)):
        if found.get(key) != wanted.get(key):
            return f"{key}: {found.get(key)!r} then, {wanted.get(key)!r} now"
    return "format changed"
