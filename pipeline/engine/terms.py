"""The names of the loss terms, in the order the loop records them (torch-free: renders and run.json read them)."""

from __future__ import annotations

#: The weighted loss terms; "total" is the sum of the others.
LOSS_TERMS = ("total", "content", "style", "tv", "temporal")
