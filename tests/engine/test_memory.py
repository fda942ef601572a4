"""The memory model (engine/memory.py) grows with the picture and the history as it should, and the
advice it gives picks the largest setting that fits a budget. (Its figures against measured peaks:
the reliability issue's tests.)"""

from __future__ import annotations

from dataclasses import replace

import pytest

from stylevid.pipeline.config import DEFAULT_CONTENT_LAYER, DEFAULT_STYLE_LAYERS
from stylevid.pipeline.engine import memory
from stylevid.pipeline.engine.memory import RunShape, largest_fitting, run_bytes, scaled, size_candidates

SHAPE = RunShape({DEFAULT_CONTENT_LAYER, *DEFAULT_STYLE_LAYERS}, DEFAULT_STYLE_LAYERS, DEFAULT_CONTENT_LAYER)


def test_activations_grow_with_the_area():
    small = memory.activation_bytes(256, 384, SHAPE)
    large = memory.activation_bytes(512, 768, SHAPE)
    # every layer's output is 4× larger; only the Grams (C² per style layer) stay: ≈ 4×
    assert large == pytest.approx(4 * small, rel=0.02)
    assert large < 4 * small


def test_activations_stop_at_the_deepest_layer_and_follow_the_element_size():
    shallow = replace(
        SHAPE, layers={"relu1_1", "relu2_1"}, style_layers=("relu1_1", "relu2_1"), content_layer="relu2_1"
    )
    assert memory.activation_bytes(64, 64, shallow) < memory.activation_bytes(64, 64, SHAPE)
    assert set(memory.layer_sizes(64, 64, {"relu2_1"})) == {
        "conv1_1",
        "relu1_1",
        "conv1_2",
        "relu1_2",
        "pool1",
        "conv2_1",
        "relu2_1",
    }
    assert memory.layer_sizes(64, 64, {"pool1"})["pool1"] == 64 * 32 * 32
    half = memory.activation_bytes(256, 256, replace(SHAPE, element_bytes=2))
    assert half < memory.activation_bytes(256, 256, SHAPE)


def test_lbfgs_history_is_linear_in_its_length():
    sizes = [memory.optimiser_bytes(480, 640, replace(SHAPE, history=m)) for m in (10, 20, 30)]
    assert (
        sizes[1] - sizes[0] == sizes[2] - sizes[1] == 10 * 2 * 3 * 480 * 640 * 4
    )  # 2 image-sized fp32 buffers per pair


def test_the_estimate_counts_items_and_a_graph_pool():
    one = run_bytes(256, 256, SHAPE)
    # 3× less the style targets, which the items share
    assert run_bytes(256, 256, replace(SHAPE, items=3)) == pytest.approx(3 * one, rel=0.01)
    assert run_bytes(256, 256, replace(SHAPE, items=3)) < 3 * one
    graphed = run_bytes(256, 256, replace(SHAPE, graphs=True))
    assert graphed - one == memory.activation_bytes(256, 256, SHAPE)
    # the case: 2048×1536, history 100 — its L-BFGS history alone is about 7.6 GB
    assert memory.optimiser_bytes(1536, 2048, SHAPE) > 7.5e9


def test_advice_picks_the_largest_size_that_fits():
    height, width = 1536, 2048
    budget = int(2.8e9)

    def estimate(side: int) -> int:
        return run_bytes(*scaled(height, width, side), SHAPE)

    size = largest_fitting(estimate, budget, size_candidates(max(height, width)))
    assert size is not None and size % 16 == 0 and size < 2048
    assert estimate(size) <= budget < estimate(size + 16)


def test_advice_finds_nothing_when_even_the_smallest_does_not_fit():
    assert largest_fitting(lambda side: 10**12, 10**9, size_candidates(512)) is None
    assert list(size_candidates(80)) == [64]  # multiples of 16 below the current size
    assert list(size_candidates(64)) == []


def test_scaled_keeps_the_aspect_ratio():
    assert scaled(1536, 2048, 1024) == (768, 1024)
    assert scaled(2048, 1536, 1024) == (1024, 768)


def test_activations_keep_relu_and_pooling_outputs_and_max_pooling_indices():
    assert memory.activation_bytes(64, 64, replace(SHAPE, pooling="avg")) < memory.activation_bytes(64, 64, SHAPE)
    # a convolution's output is kept only when the loss reads it (else its ReLU's output is)
    reads_conv = replace(SHAPE, layers={*SHAPE.layers, "conv4_2"})
    added = memory.activation_bytes(64, 64, reads_conv) - memory.activation_bytes(64, 64, SHAPE)
    assert added == memory.layer_sizes(64, 64, {"conv4_2"})["conv4_2"] * memory.FP32_BYTES


def test_weights_count_vgg19s_convolutions_up_to_the_deepest_layer():
    assert memory.conv_params(["pool5"]) == 20_024_384  # VGG19's 16 convolutions
    assert memory.conv_params(["relu1_1"]) == 3 * 64 * 9 + 64
    assert memory.weight_bytes(SHAPE.layers) == memory.conv_params(["relu5_1"]) * 4


def test_the_style_pass_grows_with_the_style_picture():
    small, large = memory.style_pass_bytes(256, 256, SHAPE), memory.style_pass_bytes(512, 512, SHAPE)
    assert small < large < 4 * small
