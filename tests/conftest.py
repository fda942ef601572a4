"""Shared fixtures: the real pretrained VGG19 weights and sample media from ../shared.

``shared/`` lies beside the repository (``<repo>/../shared``) on every developer machine and
in CI. Tests use the real Caffe-convention weights (no download, no internet) and the sample
pictures at tiny sizes so the whole suite stays fast on a 2-core CPU.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine.vgg import VGG19Features
from stylevid.pipeline.engine.weights import ENV_WEIGHTS, ENV_WEIGHTS_FORMAT, WeightsSpec, load_state_dict
from stylevid.pipeline.io import images

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CAFFE_WEIGHTS = SHARED / "weights" / "vgg19-caffe-conv-fp16.pth"
MEDIA = SHARED / "media"
CONTENT_FILE = MEDIA / "content" / "tuebingen_neckarfront.jpg"
STYLE_FILE = MEDIA / "styles" / "vangogh_starry_night.jpg"

#: Long side of the sample pictures handed to tests.
PICTURE_SIDE = 96


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``@pytest.mark.gpu`` on machines without CUDA."""
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session", autouse=True)
def shared_weights_env():
    """Point $STYLEVID_WEIGHTS(_FORMAT) at the shared Caffe weights unless already set.

    Then the CLI and API defaults find real weights offline. A missing file is a broken
    checkout (CI always has it), so this fails rather than skips.
    """
    if not CAFFE_WEIGHTS.is_file():
        pytest.fail(
            f"pretrained weights not found at {CAFFE_WEIGHTS}; the tests need the shared/ folder "
            "beside the repository (<repo>/../shared/weights/vgg19-caffe-conv-fp16.pth)",
            pytrace=False,
        )
    added = []
    for name, value in ((ENV_WEIGHTS, str(CAFFE_WEIGHTS)), (ENV_WEIGHTS_FORMAT, "caffe")):
        if not os.environ.get(name):
            os.environ[name] = value
            added.append(name)
    yield
    for name in added:
        os.environ.pop(name, None)


@pytest.fixture(scope="session")
def caffe_state(shared_weights_env) -> dict[str, torch.Tensor]:
    """The shared weights as a float32 ``features.N.*`` state dict (Caffe input convention)."""
    return load_state_dict(WeightsSpec(str(CAFFE_WEIGHTS), "caffe"))


@pytest.fixture(scope="session")
def extractor(caffe_state) -> VGG19Features:
    """VGG19 up to relu5_1, max pooling, Caffe convention: built once for the session."""
    return VGG19Features(caffe_state, "caffe", last_layer="relu5_1", pooling="max")


@pytest.fixture
def tiny_config() -> StyleConfig:
    return StyleConfig(size=64, iters=20, weights=str(CAFFE_WEIGHTS), weights_format="caffe", device="cpu")


_pictures: dict[tuple[Path, int], np.ndarray] = {}


def load_picture(path: Path, long_side: int = PICTURE_SIDE) -> np.ndarray:
    """A sample picture at a small size (cached; callers get their own copy)."""
    key = (path, long_side)
    if key not in _pictures:
        _pictures[key] = images.resize_long_side(images.load_image(path), long_side)
    return _pictures[key].copy()


@pytest.fixture
def content_picture() -> np.ndarray:
    """Tübingen Neckarfront, H×W×3 uint8, long side 96 px."""
    return load_picture(CONTENT_FILE)


@pytest.fixture
def style_picture() -> np.ndarray:
    """The Starry Night, H×W×3 uint8, long side 96 px."""
    return load_picture(STYLE_FILE)


def run_cli(capsys, *args) -> tuple[int, str, str]:
    """Run the real `stylevid` entry point in-process: (exit code, stdout, stderr)."""
    from stylevid.cli.app import main

    with pytest.raises(SystemExit) as exited:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def cli_error_line(capsys, *args) -> str:
    """The CLI's error for ``args``, asserting exit code 2, one line and no traceback."""
    code, _, err = run_cli(capsys, *args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="session")
def ray_cluster(shared_weights_env):
    """One local Ray for the whole session (2 CPUs), shared by the scale-out tests; yields its address
    (for a second driver to join). Ray comes with the ``ray`` extra (CI installs it); without it the
    tests that use this are skipped."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()
