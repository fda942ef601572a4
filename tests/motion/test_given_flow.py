"""Given flow (.flo folders): which file serves which pair, masks, sizes, and the true-motion warping error."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from motion_factory import texture

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io.flo import write_flo, write_mask_png
from stylevid.pipeline.io.flow_folder import FlowFolder
from stylevid.pipeline.io.images import to_picture, to_tensor
from stylevid.pipeline.io.true_motion import save_true_motion_clip
from stylevid.pipeline.motion.flow import flow_to_tensor
from stylevid.pipeline.motion.given_flow import pair_motion
from stylevid.pipeline.motion.occlusion import consistency_mask
from stylevid.pipeline.motion.synthetic import object_clip
from stylevid.pipeline.motion.warp import warp
from stylevid.pipeline.motion.warping_error import GivenFlowMeter

SIZE = (36, 48)


@pytest.fixture(scope="module")
def clip():
    return object_clip(texture(120, 160, seed=3), texture(40, 40, seed=8), size=SIZE, frames=4)


@pytest.fixture()
def saved(clip, tmp_path):
    save_true_motion_clip(clip, tmp_path / "frames", tmp_path / "flow")
    return tmp_path / "flow"


def _motion(folder, first, second):
    return pair_motion(*folder.pair(first, second, *SIZE).arrays())


def _measure(path, pictures):
    folder, meter = FlowFolder(path), GivenFlowMeter()
    for number, picture in enumerate(pictures, start=1):
        meter.update(picture, _motion(folder, number - 1, number) if number > 1 else None)
    return meter.result()


def test_an_exactly_warped_copy_scores_near_zero_and_an_unrelated_clip_does_not(clip, saved):
    copy = [texture(*SIZE, seed=11)]  # any picture, carried along the clip's exact motion
    for t in range(1, len(clip)):
        flow, _ = clip.backward(t, 1)
        copy.append(to_picture(warp(to_tensor(copy[-1]), flow_to_tensor(flow))))
    warped_copy = _measure(saved, copy)
    unrelated = _measure(saved, [texture(*SIZE, seed=20 + t) for t in range(len(clip))])
    assert len(warped_copy.values) == 3
    assert warped_copy.mean < 1e-5  # uint8 rounding only
    assert unrelated.mean > 1000 * warped_copy.mean


def test_sintel_forward_flow_with_its_mask_tree_is_measured_on_the_earlier_frame(clip, tmp_path):
    root = tmp_path / "training"
    (root / "flow" / "scene").mkdir(parents=True)
    (root / "occlusions" / "scene").mkdir(parents=True)
    for t in range(1, len(clip)):
        flow, valid = clip.forward(t, 1)
        write_flo(root / "flow" / "scene" / f"frame_{t:04d}.flo", flow)  # frame t → t+1, numbered from 1
        write_mask_png(root / "occlusions" / "scene" / f"frame_{t:04d}.png", ~valid)
    folder = FlowFolder(root / "flow" / "scene")
    assert set(folder.forward) == {(1, 2), (2, 3), (3, 4)} and not folder.backward
    motion = _motion(folder, 1, 2)
    assert motion.flow_bw is None and motion.flow_fw is not None
    assert float(motion.reliable_fw.mean()) == pytest.approx(float(clip.forward(1, 1)[1].mean()), abs=1e-6)
    with_masks = _measure(root / "flow" / "scene", clip.frames)
    shutil.rmtree(root / "occlusions")
    without_masks = _measure(root / "flow" / "scene", clip.frames)
    assert with_masks.mean < 1e-4  # the originals follow their own exact motion where visible
    assert without_masks.mean > 10 * with_masks.mean  # the disc's trail counts when nobody says it is occluded


def test_flow_at_the_original_size_is_scaled_to_the_processing_size(tmp_path):
    flow = np.zeros((20, 40, 2), np.float32)
    flow[..., 0], flow[..., 1] = 4.0, -2.0
    write_flo(tmp_path / "backward_2_1.flo", flow)
    motion = pair_motion(*FlowFolder(tmp_path).pair(1, 2, 10, 20).arrays())
    assert motion.flow_bw.shape == (1, 2, 10, 20)
    assert torch.allclose(motion.flow_bw[0, 0], torch.full((10, 20), 2.0))
    assert torch.allclose(motion.flow_bw[0, 1], torch.full((10, 20), -1.0))


def test_without_masks_both_directions_use_the_forward_backward_check(clip, saved):
    shutil.rmtree(saved / "occlusions")
    motion = _motion(FlowFolder(saved), 2, 3)
    assert torch.equal(motion.reliable_bw, consistency_mask(motion.flow_fw, motion.flow_bw))
    assert float(motion.reliable_bw.mean()) < 1.0  # the disc's edge is caught


def test_missing_pairs_and_wrong_sizes_are_one_clear_line(saved, tmp_path):
    folder = FlowFolder(saved)
    folder.check([(1, 2), (2, 3)], [SIZE], run=True)
    (saved / "backward_3_2.flo").unlink()
    with pytest.raises(StylevidError, match="no backward_3_2.flo for frames 2 and 3"):
        folder.__class__(saved).check([(1, 2), (2, 3)], [SIZE], run=True)
    with pytest.raises(StylevidError, match="the frames need 20×10"):
        folder.check([(1, 2)], [(10, 20)], run=True)
    with pytest.raises(StylevidError, match="holds no flow files"):
        FlowFolder(tmp_path / "frames")
    with pytest.raises(StylevidError, match="not a folder"):
        FlowFolder(tmp_path / "nowhere")
