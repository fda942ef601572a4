"""The device decision, made once per run."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from ..errors import StylevidError


def pick_device(spec: str = "auto") -> torch.device:
    """Turn "auto" | "cpu" | "cuda" | "cuda:N" into a torch.device that exists on this machine."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
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
        # always with its index: some CUDA calls (the per-process memory fraction) refuse a bare "cuda"
        return torch.device("cuda", int(index) if index else torch.cuda.current_device())
    raise StylevidError(f"bad device {spec!r}; use auto, cpu, cuda or cuda:N")


def choose_precision(asked: str, on_cuda: bool, native_bf16: bool) -> tuple[str, str]:
    """(precision, why) for ``--precision asked`` on a device of this kind: the decision without the device.

    "auto" is bf16 on a GPU with native bf16 convolutions (Ampere, compute capability 8.0, and
    later) and fp32 elsewhere. A GPU before Ampere (T4, V100) has no bf16 convolution kernels
    (bf16 would be emulated, slowly); its fast half type, fp16, has too little range for these
    losses and gradients without loss scaling, so fp32 is the safe choice there. On the CPU
    bf16 convolutions are slow on most processors.
    """
    if asked != "auto":
        return asked, f"asked for (--precision {asked})"
    if not on_cuda:
        return "fp32", "auto on the CPU: fp32 (bf16 convolutions are slow on most CPUs)"
    if native_bf16:
        return "bf16", "auto on a GPU with native bf16 (compute capability >= 8.0): bf16 autocast"
    return "fp32", "auto on a GPU without native bf16 (compute capability < 8.0): fp32 (fp16 would need loss scaling)"


def has_native_bf16(device: torch.device) -> bool:
    """Does this CUDA device run bf16 natively (not emulated)?"""
    with torch.cuda.device(device):  # is_bf16_supported asks about the current device
        try:
            return torch.cuda.is_bf16_supported(including_emulation=False)
        except TypeError:  # a torch without the argument
            return torch.cuda.get_device_capability(device) >= (8, 0)


def precision_choice(precision: str, device: torch.device) -> tuple[str, str]:
    """(precision, why) for ``--precision precision`` on ``device``."""
    on_cuda = device.type == "cuda"
    return choose_precision(precision, on_cuda, on_cuda and precision == "auto" and has_native_bf16(device))


def resolve_precision(precision: str, device: torch.device) -> str:
    """The precision a run uses: ``precision`` unless "auto" (see :func:`choose_precision`)."""
    return precision_choice(precision, device)[0]


@contextlib.contextmanager
def fp32_math(device: torch.device, mode: str) -> Iterator[None]:
    """fp32 convolutions and matmuls on CUDA: 'ieee' (true fp32), 'tf32', or 'torch-default' (left alone:
    PyTorch lets cuDNN use TF32 for fp32 convolutions by default, not cuBLAS for matmuls)."""
    if device.type != "cuda" or mode == "torch-default":
        yield
        return
    if hasattr(torch.backends.cudnn, "conv"):  # torch >= 2.9: the per-operator API
        settings = (torch.backends.cudnn.conv, torch.backends.cuda.matmul)
        previous = [setting.fp32_precision for setting in settings]
        for setting in settings:
            setting.fp32_precision = mode
        try:
            yield
        finally:
            for setting, value in zip(settings, previous):
                setting.fp32_precision = value
    else:  # older torch: the legacy flags
        previous_matmul = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
        try:
            cudnn = torch.backends.cudnn
            with cudnn.flags(
                enabled=True, benchmark=cudnn.benchmark, deterministic=cudnn.deterministic, allow_tf32=mode == "tf32"
            ):
                yield
        finally:
            torch.backends.cuda.matmul.allow_tf32 = previous_matmul
