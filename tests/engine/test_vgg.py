"""VGG19 layer naming, feature shapes and input conventions, with the real shared weights."""

from __future__ import annotations

import pytest
import torch
from conftest import CAFFE_WEIGHTS, CONTENT_FILE, load_picture
from torch import nn

from stylevid.pipeline.engine import vgg
from stylevid.pipeline.engine.vgg import CAFFE_MEAN_BGR, LAYER_NAMES, InputConvention, VGG19Features, build_extractor
from stylevid.pipeline.engine.weights import WeightsSpec
from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io import images

PAPER_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1")


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """Tübingen at 64×48 as a (1, 3, H, W) RGB tensor in 0–1."""
    return images.to_tensor(load_picture(CONTENT_FILE, 64))


# --------------------------------------------------------------------------- layer names


def test_layer_names_follow_the_vgg19_layout():
    assert len(LAYER_NAMES) == 37  # 16 conv + 16 relu + 5 pool = torchvision's vgg19().features
    expected = {
        "conv1_1": 0,
        "relu1_1": 1,
        "relu1_2": 3,
        "pool1": 4,
        "conv2_1": 5,
        "relu2_1": 6,
        "pool2": 9,
        "conv3_1": 10,
        "relu3_1": 11,
        "relu3_4": 17,
        "pool3": 18,
        "conv4_1": 19,
        "relu4_1": 20,
        "conv4_2": 21,
        "relu4_2": 22,
        "pool4": 27,
        "conv5_1": 28,
        "relu5_1": 29,
        "relu5_4": 35,
        "pool5": 36,
    }
    assert {name: LAYER_NAMES.index(name) for name in expected} == expected
    assert vgg.channels_of("relu1_1") == 64 and vgg.channels_of("relu3_2") == 256
    assert vgg.channels_of("relu4_2") == 512 and vgg.channels_of("pool5") == 512


def _torchvision_models():
    try:
        import torchvision.models as models
    except Exception as error:  # noqa: BLE001 — a broken install raises RuntimeError, not ImportError
        pytest.skip(f"torchvision cannot be imported here ({type(error).__name__}: {error})")
    return models


def test_layer_names_match_torchvision_vgg19_layer_types():
    models = _torchvision_models()
    with torch.device("meta"):  # architecture only: no download, no 570 MB of initialised parameters
        features = models.vgg19(weights=None).features
    assert len(features) == len(LAYER_NAMES)
    kinds = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}
    for index, (name, layer) in enumerate(zip(LAYER_NAMES, features)):
        assert isinstance(layer, kinds[name[:4]]), f"index {index}: {name} vs {type(layer).__name__}"
        if isinstance(layer, nn.Conv2d):
            assert layer.out_channels == vgg.channels_of(name), name


# --------------------------------------------------------------------------- the shared weights


def test_shared_weights_load_as_float32_conv1_1_to_conv5_1(caffe_state):
    assert len(caffe_state) == 26  # 13 conv layers × (weight, bias)
    assert all(t.dtype == torch.float32 for t in caffe_state.values())
    assert caffe_state["features.0.weight"].shape == (64, 3, 3, 3)
    assert caffe_state["features.28.weight"].shape == (512, 512, 3, 3)
    assert "features.30.weight" not in caffe_state


def test_feature_shapes(extractor):
    x = torch.rand(1, 3, 64, 48, generator=torch.Generator().manual_seed(0))
    out = extractor(x, ["relu1_1", "relu4_2", "relu5_1"])
    assert set(out) == {"relu1_1", "relu4_2", "relu5_1"}
    assert out["relu1_1"].shape == (1, 64, 64, 48)
    assert out["relu4_2"].shape == (1, 512, 8, 6)
    assert out["relu5_1"].shape == (1, 512, 4, 3)
    assert (out["relu4_2"] >= 0).all() and out["relu4_2"].abs().sum() > 0  # a real ReLU output


def test_extractor_is_built_only_up_to_relu5_1(extractor, caffe_state, photo):
    assert len(extractor.features) == LAYER_NAMES.index("relu5_1") + 1
    assert not any(p.requires_grad for p in extractor.parameters())
    with pytest.raises(StylevidError, match="deeper"):
        extractor(photo, ["relu5_2"])
    with pytest.raises(StylevidError, match="unknown"):
        extractor(photo, ["relu9_9"])
    with pytest.raises(StylevidError):  # the shared file ends at conv5_1
        VGG19Features(caffe_state, "caffe", last_layer="relu5_2")
    with pytest.raises(StylevidError):
        VGG19Features(caffe_state, "caffe", last_layer="fc6")
    with pytest.raises(StylevidError):
        VGG19Features(caffe_state, "caffe", last_layer="relu1_1", pooling="median")
    small = build_extractor(WeightsSpec(str(CAFFE_WEIGHTS), "caffe"), ["relu1_1", "relu2_1"])
    assert len(small.features) == LAYER_NAMES.index("relu2_1") + 1
    torch.testing.assert_close(small(photo, ["relu2_1"])["relu2_1"], extractor(photo, ["relu2_1"])["relu2_1"])


def test_average_pooling_changes_features_after_the_first_pool(extractor, caffe_state, photo):
    avg = VGG19Features(caffe_state, "caffe", last_layer="relu5_1", pooling="avg")
    a, m = avg(photo, PAPER_LAYERS), extractor(photo, PAPER_LAYERS)
    torch.testing.assert_close(a["relu1_1"], m["relu1_1"])  # before any pooling
    assert relative_difference(a["relu2_1"], m["relu2_1"]) > 0.1
    assert relative_difference(a["relu5_1"], m["relu5_1"]) > 0.5


# --------------------------------------------------------------------------- memory layout


def _layout_entering_conv1_1(extractor: VGG19Features, image: torch.Tensor) -> tuple[str, dict[str, torch.Tensor]]:
    """(layout of the tensor conv1_1 receives, relu2_1 features) for ``image``."""
    seen = []
    hook = extractor.features[0].register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    try:
        features = extractor(image, ["relu2_1"])
    finally:
        hook.remove()
    (x,) = seen
    if x.is_contiguous():
        return "nchw", features["relu2_1"]
    return "channels_last" if x.is_contiguous(memory_format=torch.channels_last) else "other", features["relu2_1"]


@pytest.mark.parametrize("weights_layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("input_layout", ["nchw", "channels_last"])
def test_convolutions_work_in_channels_last_when_weights_or_input_are(caffe_state, photo, weights_layout, input_layout):
    """The normalisation's index_select returns NCHW: the extractor converts after it, so a
    channels-last input (or channels-last weights, as the engine makes them on CUDA) reaches
    conv1_1 channels-last, and the features are those of the plain NCHW path."""
    plain = VGG19Features(caffe_state, "caffe", last_layer="relu2_1")
    layout, reference = _layout_entering_conv1_1(plain, photo)
    assert layout == "nchw"
    extractor = VGG19Features(caffe_state, "caffe", last_layer="relu2_1")
    if weights_layout == "channels_last":
        extractor = extractor.to(memory_format=torch.channels_last)
    image = photo.contiguous(memory_format=torch.channels_last) if input_layout == "channels_last" else photo
    layout, features = _layout_entering_conv1_1(extractor, image)
    assert layout == ("nchw" if weights_layout == input_layout == "nchw" else "channels_last")
    assert relative_difference(features, reference) < 1e-5  # other convolution kernels: rounding only


# --------------------------------------------------------------------------- input conventions


def test_caffe_convention_maps_rgb01_to_bgr255_minus_mean():
    norm = InputConvention("caffe")
    red = torch.zeros(1, 3, 1, 1)
    red[:, 0] = 1.0
    # pure red → BGR (0, 0, 255) minus the BGR mean (103.939, 116.779, 123.68)
    torch.testing.assert_close(norm(red).flatten(), torch.tensor([-103.939, -116.779, 255.0 - 123.68]))
    blue_grey = torch.tensor([0.2, 0.4, 0.6]).view(1, 3, 1, 1)
    expected = torch.tensor([0.6 * 255 - 103.939, 0.4 * 255 - 116.779, 0.2 * 255 - 123.68])
    torch.testing.assert_close(norm(blue_grey).flatten(), expected)
    assert CAFFE_MEAN_BGR == (103.939, 116.779, 123.68)


def test_torchvision_convention_is_imagenet_normalisation():
    norm = InputConvention("torchvision")
    red = torch.zeros(1, 3, 1, 1)
    red[:, 0] = 1.0
    expected = torch.tensor([(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0 - 0.406) / 0.225])
    torch.testing.assert_close(norm(red).flatten(), expected)
    with pytest.raises(StylevidError):
        InputConvention("bgr")


def test_wrong_convention_gives_very_different_features(extractor, caffe_state, photo):
    """The same Caffe weights fed torchvision-normalised input: silently wrong features."""
    wrong = VGG19Features(caffe_state, "torchvision", last_layer="relu5_1")
    right, bad = extractor(photo, PAPER_LAYERS), wrong(photo, PAPER_LAYERS)
    for layer in PAPER_LAYERS:  # measured ≈ 0.98 at every layer
        assert relative_difference(bad[layer], right[layer]) > 0.5, layer


def test_caffe_weights_folded_to_torchvision_convention_reproduce_features(extractor, caffe_state, photo):
    """caffe_to_torchvision_state moves the convention into conv1_1: the same features, up to border padding."""
    folded = vgg.caffe_to_torchvision_state(caffe_state)
    assert folded["features.2.weight"] is caffe_state["features.2.weight"]  # only conv1_1 changes
    as_torchvision = VGG19Features(folded, "torchvision", last_layer="relu5_1")
    right, converted = extractor(photo, PAPER_LAYERS), as_torchvision(photo, PAPER_LAYERS)
    for layer in PAPER_LAYERS:  # measured ≤ 0.0021 (relu1_1, border) and ≈ 0.0006 at relu4/5
        assert relative_difference(converted[layer], right[layer]) < 0.01, layer
    # away from the one-pixel border, conv1_1 agrees to float precision
    conv_right = extractor(photo, ["conv1_1"])["conv1_1"][..., 1:-1, 1:-1]
    conv_converted = as_torchvision(photo, ["conv1_1"])["conv1_1"][..., 1:-1, 1:-1]
    torch.testing.assert_close(conv_converted, conv_right, rtol=1e-4, atol=2e-3)
