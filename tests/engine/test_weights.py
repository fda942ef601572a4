"""Which VGG19 weights a run uses, and the one-line errors for files that cannot be used."""

from __future__ import annotations

import os
import shlex
import socket

import pytest
import torch

from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine.vgg import build_extractor
from stylevid.pipeline.engine.weights import (
    ENV_WEIGHTS,
    ENV_WEIGHTS_FORMAT,
    WeightsSpec,
    load_state_dict,
    resolve_weights,
)
from stylevid.pipeline.errors import StylevidError

# --------------------------------------------------------------------------- resolve_weights


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv(ENV_WEIGHTS, raising=False)
    monkeypatch.delenv(ENV_WEIGHTS_FORMAT, raising=False)
    return monkeypatch


def test_resolve_weights_defaults_to_torchvision(clean_env):
    assert resolve_weights() == WeightsSpec("torchvision", "torchvision")
    assert resolve_weights("torchvision", "torchvision") == WeightsSpec("torchvision", "torchvision")


def test_resolve_weights_honours_environment(clean_env, tmp_path):
    clean_env.setenv(ENV_WEIGHTS, str(tmp_path / "env.pth"))
    clean_env.setenv(ENV_WEIGHTS_FORMAT, "caffe")
    assert resolve_weights() == WeightsSpec(str(tmp_path / "env.pth"), "caffe")
    assert resolve_weights(None, "torchvision") == WeightsSpec(str(tmp_path / "env.pth"), "torchvision")
    # StyleConfig's defaults leave the choice to the environment
    config = StyleConfig()
    assert resolve_weights(config.weights, config.weights_format) == WeightsSpec(str(tmp_path / "env.pth"), "caffe")


def test_explicit_weights_win_over_environment(clean_env, tmp_path):
    clean_env.setenv(ENV_WEIGHTS, str(tmp_path / "env.pth"))
    clean_env.setenv(ENV_WEIGHTS_FORMAT, "caffe")
    mine = str(tmp_path / "mine.pth")
    assert resolve_weights(mine, "torchvision") == WeightsSpec(mine, "torchvision")
    assert resolve_weights(mine) == WeightsSpec(mine, "caffe")  # the env format still describes a local file
    # asking for torchvision's weights by name ignores the env file and the env file's format
    assert resolve_weights("torchvision") == WeightsSpec("torchvision", "torchvision")


def test_local_file_without_format_is_refused(clean_env, tmp_path):
    with pytest.raises(StylevidError, match="--weights-format"):
        resolve_weights(str(tmp_path / "w.pth"))
    clean_env.setenv(ENV_WEIGHTS, str(tmp_path / "w.pth"))
    with pytest.raises(StylevidError, match="--weights-format"):
        resolve_weights()


def test_torchvision_weights_with_caffe_format_are_refused(clean_env):
    with pytest.raises(StylevidError, match="torchvision input convention"):
        resolve_weights("torchvision", "caffe")
    with pytest.raises(StylevidError, match="torchvision input convention"):
        resolve_weights(None, "caffe")


def test_unknown_weights_format_is_refused(clean_env, tmp_path):
    with pytest.raises(StylevidError):
        resolve_weights(str(tmp_path / "w.pth"), "rgb")


# --------------------------------------------------------------------------- load errors


def one_line_error(call) -> str:
    with pytest.raises(StylevidError) as info:
        call()
    message = str(info.value)
    assert message and "\n" not in message and "Traceback" not in message
    return message


def test_missing_weights_file(tmp_path):
    message = one_line_error(lambda: load_state_dict(WeightsSpec(str(tmp_path / "nope.pth"), "caffe")))
    assert "does not exist" in message and "nope.pth" in message


def test_weights_path_is_a_folder(tmp_path):
    assert "folder" in one_line_error(lambda: load_state_dict(WeightsSpec(str(tmp_path), "caffe")))


def test_corrupt_weights_file(tmp_path):
    path = tmp_path / "corrupt.pth"
    path.write_bytes(os.urandom(4096))
    assert "corrupt.pth" in one_line_error(lambda: load_state_dict(WeightsSpec(str(path), "caffe")))
    truncated = tmp_path / "truncated.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:300])
    one_line_error(lambda: load_state_dict(WeightsSpec(str(truncated), "caffe")))


class _RunsCode:
    """Unpickling this calls os.system(command)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_pickle_that_would_run_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"features.0.weight": _RunsCode(f"touch {shlex.quote(str(marker))}")}, path)
    message = one_line_error(lambda: load_state_dict(WeightsSpec(str(path), "caffe")))
    assert "refused" in message
    assert not marker.exists(), "loading the weights ran code from the file"
    # the file really is dangerous: an unrestricted load runs the command
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_file_that_is_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(3)], path)
    assert "state dict" in one_line_error(lambda: load_state_dict(WeightsSpec(str(path), "caffe")))
    path = tmp_path / "other.pth"
    torch.save({"classifier.0.weight": torch.zeros(2, 2)}, path)
    assert "features.0.weight" in one_line_error(lambda: load_state_dict(WeightsSpec(str(path), "caffe")))


def test_weights_with_wrong_shapes(tmp_path, caffe_state):
    path = tmp_path / "wrong.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 5, 5), "features.0.bias": caffe_state["features.0.bias"]}, path)
    message = one_line_error(lambda: build_extractor(WeightsSpec(str(path), "caffe"), ["relu1_1"]))
    assert "features.0.weight" in message and "(64, 3, 3, 3)" in message


def test_weights_with_missing_keys(tmp_path, caffe_state):
    path = tmp_path / "short.pth"
    torch.save(
        {
            k: caffe_state[k].half()
            for k in ("features.0.weight", "features.0.bias", "features.2.weight", "features.2.bias")
        },
        path,
    )
    assert len(build_extractor(WeightsSpec(str(path), "caffe"), ["relu1_2"]).features) == 4  # enough for relu1_2
    message = one_line_error(lambda: build_extractor(WeightsSpec(str(path), "caffe"), ["relu2_1"]))
    assert "features.5.weight" in message


def test_torchvision_download_offline_says_use_weights(monkeypatch, tmp_path):
    """The real download path with an empty cache on a machine without internet."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(2)
    try:
        message = one_line_error(lambda: load_state_dict(WeightsSpec("torchvision", "torchvision")))
    finally:
        socket.setdefaulttimeout(previous)
    assert "--weights" in message
    assert not list(tmp_path.rglob("vgg19*.pth"))
