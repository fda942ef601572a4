"""Clips of known motion: the generator's flow really carries frame t-k onto frame t where it says so."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from motion_factory import texture

from stylevid.pipeline.io.images import to_tensor
from stylevid.pipeline.motion.flow import flow_to_tensor
from stylevid.pipeline.motion.synthetic import camera_clip, object_clip
from stylevid.pipeline.motion.warp import warp

SIZE = (36, 48)


@pytest.fixture(scope="module")
def photo():
    return texture(120, 160, seed=3)


def _per_pixel_error(clip, t, k):
    flow, valid = clip.backward(t, k)
    warped = warp(to_tensor(clip.frames[t - k]), flow_to_tensor(flow))
    return (warped - to_tensor(clip.frames[t])).abs().mean(dim=1)[0].numpy(), valid


@pytest.mark.parametrize("k", [1, 4])
def test_camera_flow_maps_the_earlier_frame_onto_the_later(photo, k):
    clip = camera_clip(photo, size=SIZE, frames=5, shift=(3.0, -1.5), zoom=1.03, rotate_degrees=2.0)
    error, valid = _per_pixel_error(clip, 4, k)
    unwarped = np.abs(clip.frames[4].astype(float) - clip.frames[4 - k].astype(float)).mean() / 255
    # bilinear resampling of a smooth texture: a small residue, far below the frames' own difference
    assert error[valid].mean() < 0.1 * unwarped
    assert 0.6 < valid.mean() < 1.0  # the view moved: a band along the edge left the frame


def test_object_clip_knows_what_the_disc_covers_and_reveals(photo):
    clip = object_clip(photo, texture(40, 40, seed=8), size=SIZE, frames=3, object_velocity=(-4.0, 1.0))
    error, valid = _per_pixel_error(clip, 2, 1)
    assert error[valid].mean() < 0.005  # integer and half-pixel moves: nearly exact
    assert error[~valid].mean() > 10 * error[valid].mean()  # the excluded pixels really do not match
    # the background just right of the disc was under it a frame ago: invalid, while the disc's centre is valid
    flow, _ = clip.backward(2, 1)
    centre = (round(SIZE[0] * 0.45 + 2 * 1.0), round(SIZE[1] * 0.68 - 2 * 4.0))
    assert valid[centre] and np.allclose(flow[centre], (4.0, -1.0), atol=0.3)


def test_forward_flow_is_the_reverse_direction(photo):
    clip = camera_clip(photo, size=SIZE, frames=3, shift=(2.0, 1.0), zoom=1.0, rotate_degrees=0.0)
    forward, valid = clip.forward(2, 1)
    backward, _ = clip.backward(2, 1)
    # a pure pan: the picture moves by -shift, so forward = -shift and backward = +shift, everywhere
    assert np.allclose(forward[valid], (-2.0, -1.0), atol=1e-4)
    assert np.allclose(backward, (2.0, 1.0), atol=1e-4)
    warped = warp(to_tensor(clip.frames[2]), flow_to_tensor(forward))
    difference = (warped - to_tensor(clip.frames[1])).abs().mean(dim=1)[0].numpy()
    assert difference[valid].mean() < 0.005


def test_clips_repeat_for_a_seed_and_differ_between_seeds(photo):
    a, b = camera_clip(photo, size=SIZE, frames=2, seed=1), camera_clip(photo, size=SIZE, frames=2, seed=1)
    c = camera_clip(photo, size=SIZE, frames=2, seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames))
    assert not np.array_equal(a.frames[0], c.frames[0])
    with pytest.raises(ValueError):
        a.backward(1, 2)
    assert torch.is_tensor(flow_to_tensor(a.flow(1, 0)))
