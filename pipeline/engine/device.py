"""The device decision, made once per run."""

from __future__ import annotations

import torch

from ..errors import StylevidError


def pick_device(spec: str = "auto") -> torch.device:
    """Turn "auto" | "cpu" | "cuda" | "cuda:N" into a torch.device that exists on this machine."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise StylevidError(f"device {spec!r} asked for, but no CUDA GPU is available; use --device cpu")
        index = spec.partition(":")[2]
        if index:
            if not index.isdigit():
                raise StylevidError(f"bad device {spec!r}; use cuda:0, cuda:1, …")
            if int(index) >= torch.cuda.device_count():
                raise StylevidError(
                    f"device {spec!r} does not exist; this machine has {torch.cuda.device_count()} GPU(s)"
                )
        return torch.device(spec)
    raise StylevidError(f"bad device {spec!r}; use auto, cpu, cuda or cuda:N")


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return "cpu"


def resolve_precision(precision: str, device: torch.device) -> str:
    """"auto" is bf16 on CUDA (the fast path) and fp32 on the CPU (bf16 convolutions are slow there)."""
    if precision == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    return precision
