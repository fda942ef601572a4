"""Tests for stylevid.pipeline.io.timecode: --start / --end values."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io.timecode import parse_time_or_index


@pytest.mark.parametrize(
    "text, value",
    [
        ("16", 16),
        ("0", 0),
        ("1.5s", 1.5),
        ("2s", 2.0),
        ("250ms", 0.25),
        (" 3 s ", 3.0),
        ("1:30", 90.0),
        ("0:01:02.5", 62.5),
    ],
)
def test_parse_time_or_index(text: str, value) -> None:
    parsed = parse_time_or_index(text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("text", ["", "abc", "-3", "-1.5s", "1.5", "12 frames", "1e3"])
def test_parse_time_or_index_rejects(text: str) -> None:
    with pytest.raises(StylevidError):
        parse_time_or_index(text)


def test_bare_decimal_hints_at_seconds() -> None:
    with pytest.raises(StylevidError, match="add 's' for seconds"):
        parse_time_or_index("1.5")


def test_parsing_imports_no_heavy_library() -> None:
    """The CLI parses --start/--end before any work; that must not load PyAV, numpy or torch."""
    code = (
        "import sys\n"
        "from stylevid.pipeline.io.timecode import parse_time_or_index\n"
        "assert parse_time_or_index('1:30') == 90.0\n"
        "print(sorted({'av', 'numpy', 'torch', 'cv2'} & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
