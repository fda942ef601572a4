"""The flow methods against exact motion, `--flow auto`'s choice, and RAFT's plumbing (never downloading)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.motion.flow import CPU_FLOW, FAST_FLOW, FlowEstimator, resolve_flow_method
from stylevid.pipeline.motion.raft import FLOW_UPDATES, MIN_SIDE, RaftFlow, load_raft
from stylevid.pipeline.motion.synthetic import camera_clip, noise_texture

#: mean end-point error allowed on the turning, zooming pan below (measured 0.16, 0.07, 0.07, 0.07 px)
EPE_BOUNDS = {"dis": 0.4, "dis-fine": 0.15, "deepflow": 0.15, "tvl1": 0.15}


@pytest.fixture(scope="module")
def turning_pan():
    """Two 96×128 frames of a camera panning (5, -3) px, zooming 3 % and turning 4°: exact flow and visibility."""
    return camera_clip(
        noise_texture(256, 256, seed=1), size=(96, 128), frames=2, shift=(5, -3), zoom=1.03, rotate_degrees=4.0
    )


def epe(estimator: FlowEstimator, clip) -> float:
    _, flow_bw = estimator(clip.frames[0], clip.frames[1])
    true_flow, visible = clip.backward(1, 1)
    return float(np.linalg.norm(flow_bw - true_flow, axis=-1)[visible].mean())


@pytest.mark.parametrize("method", EPE_BOUNDS)  # farneback, the fallback, is off by pixels here (EPE ≈ 4 px)
def test_each_method_recovers_a_pan_with_rotation_and_zoom(turning_pan, method):
    assert epe(FlowEstimator(method, "cpu"), turning_pan) < EPE_BOUNDS[method]


def test_dis_fine_refines_what_dis_leaves(turning_pan):
    assert epe(FlowEstimator("dis-fine", "cpu"), turning_pan) < 0.7 * epe(FlowEstimator("dis", "cpu"), turning_pan)


def test_flows_are_deterministic(turning_pan):
    for method in ("dis-fine", "deepflow"):
        first = FlowEstimator(method, "cpu")(turning_pan.frames[0], turning_pan.frames[1])
        again = FlowEstimator(method, "cpu")(turning_pan.frames[0], turning_pan.frames[1])
        assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))


def test_auto_on_a_cpu_is_deepflow_and_dis_fine_for_frames_too_small_for_it(turning_pan):
    cpu = torch.device("cpu")
    assert resolve_flow_method("auto", cpu) == CPU_FLOW == "deepflow"
    assert resolve_flow_method("auto", cpu, (96, 128)) == "deepflow"
    assert resolve_flow_method("auto", cpu, (24, 32)) == FAST_FLOW == "dis-fine"
    assert resolve_flow_method("dis", cpu, (24, 32)) == "dis"
    auto = FlowEstimator("auto", "cpu")
    flows = auto(turning_pan.frames[0], turning_pan.frames[1])
    assert auto.method == "deepflow"
    expected = FlowEstimator("deepflow", "cpu")(turning_pan.frames[0], turning_pan.frames[1])
    assert all(np.array_equal(a, b) for a, b in zip(flows, expected, strict=True))
    small = [np.ascontiguousarray(frame[:24, :32]) for frame in turning_pan.frames]
    auto(small[0], small[1])
    assert auto.method == "dis-fine"


def test_unknown_method_is_one_user_error():
    with pytest.raises(StylevidError, match="unknown optical flow method 'raft-huge'; choose one of: auto, dis"):
        resolve_flow_method("raft-huge", torch.device("cpu"))


class ConstantFlow(torch.nn.Module):
    """Stands in for RAFT's network: remembers its inputs and answers a constant (3, -2) px flow.

    Its estimates are a list, as RAFT's are; only the last is (3, -2), and the padded margin of
    the last holds 99, which must be cropped away.
    """

    def __init__(self, frame_size: tuple[int, int]) -> None:
        super().__init__()
        self.crop = frame_size
        self.scale = torch.nn.Parameter(torch.ones(()))  # so that .to(device) has something to move
        self.inputs: list[tuple[torch.Tensor, torch.Tensor, int]] = []

    def forward(self, image1, image2, num_flow_updates=12):
        self.inputs.append((image1, image2, num_flow_updates))
        b, _, h, w = image1.shape
        last = torch.full((b, 2, h, w), 99.0)
        last[:, 0, : self.crop[0], : self.crop[1]] = 3.0 * self.scale
        last[:, 1, : self.crop[0], : self.crop[1]] = -2.0 * self.scale
        return [torch.zeros(b, 2, h, w), last]


def test_raft_plumbing_pads_normalises_and_keeps_the_convention():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 50, 70, 3), dtype=np.uint8)
    frames[0, 0, 0] = (0, 255, 128)
    network = ConstantFlow((50, 70))
    flows = RaftFlow(network, "cpu")(frames, frames[::-1].copy())

    image1, image2, updates = network.inputs[0]
    assert updates == FLOW_UPDATES
    assert image1.shape == image2.shape == (2, 3, MIN_SIDE, MIN_SIDE)  # 50×70 padded to RAFT's smallest input
    assert image1.dtype == torch.float32 and image1.min() >= -1 and image1.max() <= 1
    assert torch.allclose(
        image1[0, :, 0, 0], torch.tensor([-1.0, 1.0, 128 / 127.5 - 1]), atol=1e-6
    )  # RGB order, [-1, 1]
    assert torch.equal(image1[:, :, :50, 70:], image1[:, :, :50, 69:70].expand(-1, -1, -1, MIN_SIDE - 70))
    assert torch.equal(image1[:, :, 50:, :], image1[:, :, 49:50, :].expand(-1, -1, MIN_SIDE - 50, -1))
    assert torch.equal(image2[0], image1[1])  # each source with its own target

    assert flows.shape == (2, 50, 70, 2) and flows.dtype == np.float32
    assert np.all(flows[..., 0] == 3.0) and np.all(flows[..., 1] == -2.0)  # channel 0 = x, cropped


def test_raft_pads_to_a_multiple_of_8_and_feeds_the_flow_estimator():
    network = ConstantFlow((130, 150))
    frames = np.random.default_rng(1).integers(0, 256, (2, 130, 150, 3), dtype=np.uint8)
    estimator = FlowEstimator("raft-small", "cpu", raft=RaftFlow(network, "cpu"))
    flow_fw, flow_bw = estimator(frames[0], frames[1])
    assert network.inputs[0][0].shape == (2, 3, 136, 152)
    assert flow_fw.shape == flow_bw.shape == (130, 150, 2)
    assert np.all(flow_bw == np.array([3.0, -2.0], np.float32))
    sources, targets = network.inputs[0][:2]
    assert torch.equal(sources[0], targets[1]) and torch.equal(sources[1], targets[0])  # fw: prev→cur, bw: cur→prev
    flow, mask = estimator.reliable_backward(frames[0], frames[1])
    assert flow.shape == (1, 2, 130, 150) and mask.shape == (1, 1, 130, 150)


def optical_flow_models():
    try:
        import torchvision.models.optical_flow  # noqa: F401
    except Exception as error:  # noqa: BLE001 - e.g. a CUDA torchvision next to a CPU torch
        pytest.skip(f"torchvision's optical-flow models do not import here: {type(error).__name__}")


def test_raft_with_random_weights_gives_flows_in_our_layout_without_downloading(tmp_path):
    optical_flow_models()
    method = "raft-small"  # raft (large) goes through the same code, at 5× the CPU time
    hub = tmp_path / "hub"
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(hub))
    try:
        network = load_raft(method, pretrained=False)
    finally:
        torch.hub.set_dir(previous)
    assert not hub.exists()  # nothing fetched
    torch.manual_seed(0)
    frames = np.random.default_rng(2).integers(0, 256, (2, 40, 56, 3), dtype=np.uint8)
    estimator = FlowEstimator(method, "cpu", raft=RaftFlow(network, "cpu"))
    flow_fw, flow_bw = estimator(frames[0], frames[1])
    assert flow_fw.shape == flow_bw.shape == (40, 56, 2)
    assert flow_fw.dtype == np.float32 and np.isfinite(flow_fw).all() and np.isfinite(flow_bw).all()
