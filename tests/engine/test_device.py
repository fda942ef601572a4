"""The device and precision decisions; the GPU cases through the device-free decision function."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import CONTENT_FILE, STYLE_FILE

from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine.device import choose_precision, pick_device, precision_choice, resolve_precision
from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.image_job import stylize_image_file


@pytest.mark.parametrize(
    ("on_cuda", "native_bf16", "expected"),
    [
        (True, True, "bf16"),  # Ampere and later: the fast path
        (True, False, "fp32"),  # T4, V100: no bf16 convolutions, and fp16 would need loss scaling
        (False, False, "fp32"),  # CPU
        (False, True, "fp32"),  # a CPU with bf16 instructions still defaults to fp32
    ],
)
def test_auto_precision_follows_native_bf16_support(on_cuda, native_bf16, expected):
    precision, why = choose_precision("auto", on_cuda, native_bf16)
    assert precision == expected
    assert why.startswith("auto") and expected in why


@pytest.mark.parametrize("asked", ["fp32", "bf16"])
@pytest.mark.parametrize(("on_cuda", "native_bf16"), [(True, True), (True, False), (False, False)])
def test_an_explicit_precision_is_kept_everywhere(asked, on_cuda, native_bf16):
    assert choose_precision(asked, on_cuda, native_bf16) == (asked, f"asked for (--precision {asked})")


def test_cpu_resolution_without_asking_the_gpu(monkeypatch):
    def no_gpu_question(*args, **kwargs):
        raise AssertionError("asked a GPU question for a CPU run")

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", no_gpu_question)
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == "fp32"
    assert resolve_precision("bf16", cpu) == "bf16"
    assert precision_choice("auto", cpu)[1].startswith("auto on the CPU")


def test_run_record_says_which_precision_ran_and_why(tmp_path):
    config = StyleConfig(size=24, iters=1, device="cpu")
    result = stylize_image_file(CONTENT_FILE, [STYLE_FILE], tmp_path, config)
    record = json.loads(result.files["record"].read_text())
    assert record["precision"] == "fp32"
    assert record["precision_reason"] == precision_choice("auto", torch.device("cpu"))[1]


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(StylevidError, match="bad device"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(StylevidError, match="no CUDA GPU"):
            pick_device("cuda")


@pytest.mark.gpu
def test_gpu_auto_precision_matches_the_compute_capability():
    device = torch.device("cuda")
    native = torch.cuda.get_device_capability(device) >= (8, 0)
    assert resolve_precision("auto", device) == ("bf16" if native else "fp32")
