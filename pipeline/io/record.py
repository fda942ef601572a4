"""The run record: a JSON file saying what was run, where, how long it took and what came out."""

from __future__ import annotations

import json
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from .images import atomic_write

PACKAGES = ("stylevid", "torch", "torchvision", "av", "numpy", "opencv-contrib-python-headless", "pillow")


def versions() -> dict[str, str]:
    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as indented JSON atomically (NaN written as null)."""
    text = json.dumps(_clean(data), indent=2, ensure_ascii=False) + "\n"
    atomic_write(Path(path), lambda handle: handle.write(text.encode("utf-8")))
    return Path(path)


def run_record(**fields: Any) -> dict[str, Any]:
    """A record with the versions and a timestamp, plus whatever the job adds."""
    return {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "versions": versions(), **fields}


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
