"""Tests for stylevid.pipeline.io.record: the JSON run record, written to real files."""

from __future__ import annotations

import json
import math
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io.record import PACKAGES, run_record, versions, write_json


def test_write_json_turns_non_finite_numbers_paths_and_tuples_into_json(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    data = {
        "loss": math.nan,
        "best": math.inf,
        "worst": -math.inf,
        "kept": 0.25,
        "output": Path("out") / "frame.png",
        "size": (64, 48),
        "per_frame": {3: [1.0, math.nan]},
    }
    assert write_json(path, data) == path
    assert json.loads(path.read_text("utf-8")) == {
        "loss": None,
        "best": None,
        "worst": None,
        "kept": 0.25,
        "output": str(Path("out") / "frame.png"),
        "size": [64, 48],
        "per_frame": {"3": [1.0, None]},
    }
    assert data["loss"] != data["loss"] and data["size"] == (64, 48)  # the caller's data is untouched


def test_write_json_is_indented_utf8_with_a_final_newline(tmp_path: Path) -> None:
    path = write_json(tmp_path / "run.json", {"content": "Tübingen", "iters": 3})
    text = path.read_bytes().decode("utf-8")
    assert "Tübingen" in text and text.endswith("}\n")
    assert '\n  "iters": 3' in text


def test_write_json_replaces_the_old_record_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text("old")
    write_json(path, {"n": 1})
    assert json.loads(path.read_text()) == {"n": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_write_json_into_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(StylevidError, match="does not exist"):
        write_json(tmp_path / "missing" / "run.json", {})


def test_versions_name_python_the_platform_and_every_package() -> None:
    found = versions()
    assert found["python"] == sys.version.split()[0]
    assert set(found) == {"python", "platform", *PACKAGES}
    assert found["numpy"] == metadata.version("numpy")
    assert all(isinstance(value, str) and value for value in found.values())


def test_run_record_adds_a_timestamp_and_the_versions_to_the_fields(tmp_path: Path) -> None:
    before = time.time()
    record = run_record(kind="image", seconds=1.5)
    assert record["kind"] == "image" and record["seconds"] == 1.5
    assert record["versions"] == versions()
    created = time.mktime(time.strptime(record["created"], "%Y-%m-%dT%H:%M:%S%z"))
    assert before - 2 <= created <= time.time() + 2
    assert json.loads(write_json(tmp_path / "run.json", record).read_text())["kind"] == "image"
