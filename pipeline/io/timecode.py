"""Parsing ``--start`` / ``--end`` values: a frame index or a time.

Imports neither av, numpy nor torch: the CLI calls it while parsing options.
"""

from __future__ import annotations

import re

from ..errors import StylevidError

__all__ = ["parse_time_or_index"]

_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"


def parse_time_or_index(text: str) -> int | float:
    """Parse a ``--start``/``--end`` value.

    ``"16"`` is frame index 16 (int); ``"1.5s"`` is 1.5 seconds and ``"250ms"`` 0.25
    seconds (float); ``"1:30"`` / ``"0:01:30.5"`` are minutes:seconds / hours:minutes:seconds.
    """
    raw = text
    text = text.strip().lower()
    if text.startswith("-"):
        raise StylevidError(f"{raw!r} is negative; give a frame index or a time of zero or more")
    if re.fullmatch(r"\d+", text):
        return int(text)
    match = re.fullmatch(_NUMBER + r"\s*(s|sec|ms)", text)
    if match:
        value = float(match.group(1))
        return value / 1000.0 if match.group(2) == "ms" else value
    if re.fullmatch(r"(\d+:)?\d+:\d{1,2}(\.\d+)?", text):
        parts = [float(p) for p in text.split(":")]
        return float(sum(p * 60**i for i, p in enumerate(reversed(parts))))
    hint = " (add 's' for seconds, e.g. '1.5s')" if re.fullmatch(_NUMBER, text) else ""
    raise StylevidError(
        f"cannot read {raw!r} as a frame index or time{hint}; use e.g. '16' (frame), '1.5s', '250ms' or '1:30'"
    )
