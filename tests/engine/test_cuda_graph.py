"""--cuda-graphs: the loss and gradient replayed from a CUDA graph give the eager run's iterates.

On the CPU the option must change nothing. The ``gpu`` tests (skipped without CUDA) compare a
graphed run with an eager one — a single image on both L-BFGS implementations, and a video
frame with a temporal term — check that a capture-unsafe loss falls back to the eager run, and
that the graph's memory is handed back when the run ends, and that the frames of a video share
one graph per size and kind of frame.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import CAFFE_WEIGHTS, CONTENT_FILE, STYLE_FILE, load_picture

from stylevid.pipeline.config import StyleConfig
from stylevid.pipeline.engine.cuda_graph import GraphedEvaluation, clear_cublas_workspaces
from stylevid.pipeline.engine.optimize import Optimisation, OptimiserSettings
from stylevid.pipeline.engine.transfer import StyleTransfer, TemporalGuide
from stylevid.pipeline.engine.vgg import VGG19Features
from stylevid.pipeline.errors import StylevidError


def test_cuda_graphs_change_nothing_on_the_cpu(extractor):
    content, style = load_picture(CONTENT_FILE, 32), load_picture(STYLE_FILE, 32)
    runs = []
    for graphs in (False, True):
        config = StyleConfig(size=32, iters=5, init="content", device="cpu", cuda_graphs=graphs)
        engine = StyleTransfer(config, [style], extractor=extractor)
        runs.append(engine.stylize(engine.prepare_content(content)))
    eager, graphed = runs
    assert graphed.replayed == 0 and graphed.graph_failure is None
    assert [row["total"] for row in graphed.history] == [row["total"] for row in eager.history]
    assert torch.equal(graphed.image, eager.image)


def test_cuda_graphs_setting_must_be_a_bool():
    with pytest.raises(StylevidError, match="cuda_graphs"):
        StyleConfig(cuda_graphs="yes")


def test_graphed_evaluation_needs_a_cuda_tensor():
    with pytest.raises(ValueError, match="CUDA"):
        GraphedEvaluation(torch.zeros(1, 3, 4, 4, requires_grad=True), lambda: ())


@pytest.mark.parametrize("fast_lbfgs", [True, False])  # pipeline/engine/lbfgs.py and torch.optim.LBFGS
def test_renewed_optimisation_runs_as_a_fresh_one(fast_lbfgs):
    """What a kept CUDA graph relies on: after renew, the same optimisation steps like a new one."""
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(1, 3, 8, 8, generator=generator)

    def loss(image):
        total = (image - target).pow(4).flatten(1).sum(dim=1)
        return {"total": total, "content": total}

    first, second = torch.rand(2, 1, 3, 8, 8, generator=generator)
    settings = OptimiserSettings(history_size=5, fast_lbfgs=fast_lbfgs)
    kept = Optimisation(first, loss, settings)
    kept.run(6, keep_graph=True)
    kept.renew(second)
    renewed = kept.run(6, keep_graph=True)
    fresh = Optimisation(second, loss, settings).run(6)
    assert [row["total"] for row in renewed.history] == [row["total"] for row in fresh.history]
    assert torch.equal(renewed.image, fresh.image)
    kept.renew(first)
    assert not torch.equal(renewed.image, kept.image)  # the result was a copy


def test_keeping_graphs_changes_nothing_on_the_cpu(extractor):
    content, style = load_picture(CONTENT_FILE, 32), load_picture(STYLE_FILE, 32)
    config = StyleConfig(size=32, iters=3, init="content", device="cpu", cuda_graphs=True)
    engine = StyleTransfer(config, [style], extractor=extractor)
    prepared = engine.prepare_content(content)
    alone = engine.stylize(prepared)
    with engine.keeping_graphs():
        kept = [engine.stylize(prepared), engine.stylize(prepared)]
    assert engine.graph_recordings == 0
    for run in kept:
        assert [row["total"] for row in run.history] == [row["total"] for row in alone.history]
        assert torch.equal(run.image, alone.image)


def test_video_records_no_graphs_on_the_cpu(tmp_path):
    from media_factory import make_test_clip

    from stylevid.pipeline import VideoConfig, stylize_video

    clip = make_test_clip(tmp_path / "clip.mp4", frames=3, audio=False)
    config = VideoConfig(
        style=StyleConfig(size=32, iters=3, device="cpu", cuda_graphs=True), frame_iters=2, early_stop=False
    )
    result = stylize_video(clip, [load_picture(STYLE_FILE, 32)], tmp_path / "out", config)
    assert result.record["cuda_graph"] is None
    assert not any("replayed" in row for row in result.record["per_frame"])


def test_graph_summary_counts_replays_and_groups_failures_by_reason():
    from stylevid.pipeline.video.finalise import _graph_summary

    rows = [
        {"frame": 0, "iterations": 10},  # stylised by an earlier run, before graphs were asked for
        {"frame": 1, "iterations": 5, "replayed": 3, "graph_failure": None},
        {"frame": 2, "iterations": 5, "replayed": 0, "graph_failure": "capture failed: X"},
        {"frame": 3, "iterations": 5, "replayed": 0, "graph_failure": "capture failed: X"},
    ]
    assert _graph_summary(rows, None, 2) == {
        "replayed_iterations": 3,
        "iterations": 25,
        "recordings": 2,
        "failures": [{"reason": "capture failed: X", "frames": [2, 3]}],
        "turned_off_after": None,
    }
    assert _graph_summary(rows, "capture failed: X", 0)["turned_off_after"] == "capture failed: X"


def test_engine_turns_graphs_off_after_the_first_failure(extractor):
    style = load_picture(STYLE_FILE, 32)
    engine = StyleTransfer(StyleConfig(size=32, iters=2, device="cpu"), [style], extractor=extractor)
    engine.optimiser = replace(engine.optimiser, cuda_graphs=True)  # as on a CUDA engine with --cuda-graphs
    asked = engine.optimiser
    engine.note_graph_failure(None)  # a run whose graph was recorded, or that asked for none
    assert engine.graph_failure is None and engine.optimiser == asked
    engine.note_graph_failure("capture failed: X")
    assert engine.graph_failure == "capture failed: X"
    assert engine.optimiser == replace(asked, cuda_graphs=False)
    engine.note_graph_failure("capture failed: Y")  # (no later optimisation asks; the first reason stays)
    assert engine.graph_failure == "capture failed: X"


# --------------------------------------------------------------------------- GPU (skipped without CUDA)


def _cuda_engine(caffe_state, style: np.ndarray, **settings) -> StyleTransfer:
    config = StyleConfig(size=128, init="content", device="cuda", **settings)
    return StyleTransfer(config, [style], extractor=VGG19Features(caffe_state, "caffe", last_layer="relu5_1"))


def _assert_same_run(graphed, eager, iters: int) -> None:
    assert graphed.graph_failure is None
    assert graphed.replayed == iters - 2  # two eager iterations, then every evaluation replayed
    assert eager.replayed == 0
    # the same start; after ~10 L-BFGS iterations non-deterministic kernels (atomic adds) may have
    # sent the trajectories apart, so the outcomes are compared, not the pixels
    assert graphed.history[0]["total"] == pytest.approx(eager.history[0]["total"], rel=1e-3)
    assert graphed.history[-1]["total"] == pytest.approx(eager.history[-1]["total"], rel=0.03)
    assert graphed.history[-1]["total"] < 0.7 * graphed.history[0]["total"]


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["bf16", "fp32"])  # pipeline/engine/lbfgs.py and torch.optim.LBFGS
def test_gpu_graphed_image_matches_the_eager_run_and_frees_its_memory(caffe_state, precision):
    content, style = load_picture(CONTENT_FILE, 128), load_picture(STYLE_FILE, 128)
    iters = 12
    eager_engine = _cuda_engine(caffe_state, style, iters=iters, precision=precision)
    graphed_engine = _cuda_engine(caffe_state, style, iters=iters, precision=precision, cuda_graphs=True)
    prepared = eager_engine.prepare_content(content)
    eager_engine.stylize(prepared, iters=3)  # style targets, cuDNN autotuning, allocator
    graphed_engine.stylize(prepared, iters=3)
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    graphed = graphed_engine.stylize(prepared)
    torch.cuda.synchronize()
    left = torch.cuda.memory_allocated() - before
    eager = eager_engine.stylize(prepared)
    _assert_same_run(graphed, eager, iters)
    # what stays is the result (1×3×128×128 fp32, 0.2 MB); a graph left behind would hold the
    # activations of a whole forward and backward pass (tens of MB at this size)
    clear_cublas_workspaces()  # a cached cuBLAS workspace (32 MiB on Hopper) is no graph left behind
    left_uncached = torch.cuda.memory_allocated() - before
    assert left_uncached < 4 * 2**20, (
        f"{left_uncached / 2**20:.1f} MiB still allocated after the graphed run "
        f"({left / 2**20:.1f} MiB with cuBLAS's cache)"
    )


@pytest.mark.gpu
def test_gpu_graphed_frame_with_a_temporal_term_matches_the_eager_run(caffe_state):
    content, style = load_picture(CONTENT_FILE, 128), load_picture(STYLE_FILE, 128)
    iters = 10
    runs = []
    for graphs in (False, True):
        engine = _cuda_engine(caffe_state, style, iters=iters, precision="bf16", cuda_graphs=graphs)
        prepared = engine.prepare_content(content)
        height, width = prepared.shape[:2]
        previous = np.ascontiguousarray(np.roll(prepared, 3, axis=1))  # "the previous stylised frame, warped"
        reliable = torch.ones(1, 1, height, width)
        reliable[..., : height // 3, :] = 0  # an occluded band
        guide = TemporalGuide(previous, reliable, weight=1e4)
        runs.append(engine.stylize(prepared, temporal=guide))
    eager, graphed = runs
    assert eager.final["temporal"] > 0
    _assert_same_run(graphed, eager, iters)


def _run_isolated(script: str) -> None:
    """Run ``script`` in a Python process of its own: a failed capture may leave torch's allocator
    believing a capture is under way (torch ≤ 2.11), which would poison the tests after it."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), str(CAFFE_WEIGHTS), str(CONTENT_FILE), str(STYLE_FILE)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.gpu
def test_gpu_a_loss_that_syncs_the_host_is_never_recorded():
    _run_isolated("""
        import torch
        from stylevid.pipeline.engine.optimize import optimize

        device = torch.device("cuda")
        target = torch.rand(1, 3, 16, 16, device=device, generator=torch.Generator(device).manual_seed(0))

        def loss_fn(image):
            if float(image.mean()) > 2.0:  # a host sync: cannot be recorded
                raise AssertionError("pixels are clamped to 0–1")
            total = (image - target).pow(2).flatten(1).sum(dim=1)
            return {"total": total, "content": total}

        start = torch.full((1, 3, 16, 16), 0.5, device=device)
        graphed = optimize(start, loss_fn, iters=6, fast_lbfgs=True, cuda_graphs=True)
        eager = optimize(start, loss_fn, iters=6, fast_lbfgs=True)
        assert graphed.replayed == 0
        # found by the checked eager call, before any recording was tried; one line
        assert graphed.graph_failure.startswith("the evaluation syncs with the host"), graphed.graph_failure
        assert "\\n" not in graphed.graph_failure
        assert torch.cuda.get_sync_debug_mode() == 0  # restored
        assert torch.equal(graphed.image, eager.image)
        assert [r["total"] for r in graphed.history] == [r["total"] for r in eager.history]
    """)


@pytest.mark.gpu
def test_gpu_a_failed_recording_turns_graphs_off_for_the_engine():
    _run_isolated("""
        import sys
        from pathlib import Path

        import torch
        from stylevid.pipeline.config import StyleConfig
        from stylevid.pipeline.engine.transfer import StyleTransfer
        from stylevid.pipeline.engine.vgg import VGG19Features
        from stylevid.pipeline.engine.weights import WeightsSpec, load_state_dict
        from stylevid.pipeline.io.images import load_image

        class SyncsWhileRecording(VGG19Features):
            def forward(self, rgb01, layers):
                features = super().forward(rgb01, layers)
                if torch.cuda.is_current_stream_capturing():
                    float(rgb01.sum())  # a host sync only while recording: the checked eager call passes
                return features

        state = load_state_dict(WeightsSpec(sys.argv[1], "caffe"))
        content, style = load_image(Path(sys.argv[2])), load_image(Path(sys.argv[3]))
        runs = {}
        for graphs in (True, False):
            config = StyleConfig(size=64, iters=6, init="content", device="cuda", precision="bf16", cuda_graphs=graphs)
            kind = SyncsWhileRecording if graphs else VGG19Features
            engine = StyleTransfer(config, [style], extractor=kind(state, "caffe", last_layer="relu5_1"))
            prepared = engine.prepare_content(content)
            runs[graphs] = engine, [engine.stylize(prepared), engine.stylize(prepared)]
        engine, (failed, after) = runs[True]
        _, (eager, _) = runs[False]
        assert failed.graph_failure and failed.replayed == 0, failed.graph_failure
        assert engine.graph_failure == failed.graph_failure and not engine.optimiser.cuda_graphs
        assert after.graph_failure is None and after.replayed == 0  # no second recording was tried
        for run in (failed, after):
            assert abs(run.history[-1]["total"] / eager.history[-1]["total"] - 1) < 0.03, (run.history, eager.history)
    """)


@pytest.mark.gpu
def test_gpu_graphed_rolling_batch_matches_the_eager_one(caffe_state):
    """One graph serves the whole batch: frames entering and leaving change only buffers it reads."""
    from media_factory import prepared_frames, shifted_frames

    from stylevid.pipeline.video.rolling import RollingBatch, RollingSettings, stylize_rolling

    style = load_picture(STYLE_FILE, 64)
    pictures = shifted_frames(6, size=64)
    items = prepared_frames(pictures)
    runs = []
    for graphs in (False, True):
        engine = _cuda_engine(caffe_state, style, iters=10, precision="bf16", cuda_graphs=graphs)
        first = engine.stylize(pictures[0], iters=10).picture
        settings = RollingSettings(slots=3, frame_iters=9, temporal_weight=1e4, early_stop=None)
        batch = RollingBatch(engine, settings, 64, 64)
        finished = list(stylize_rolling(batch, iter(items[1:]), first, seed_of=lambda p: p))
        runs.append((finished, batch))
    (eager, eager_batch), (graphed, graphed_batch) = runs
    assert eager_batch.replayed == 0
    # 5 frames, 9 iterations each, one entering every 3 iterations: 3·(5 + 2) = 21 evaluations, 2 eager
    assert graphed_batch.graph_failure is None and graphed_batch.replayed == 19
    assert [f.prepared.frame.position for f in graphed] == [f.prepared.frame.position for f in eager] == [1, 2, 3, 4, 5]
    # frame 1 was in flight for evaluations 1–9, the two eager ones among them; the others only saw replays
    assert [f.replayed for f in graphed] == [7, 9, 9, 9, 9] and [f.replayed for f in eager] == [0] * 5
    for a, b in zip(graphed, eager):
        assert a.iterations == b.iterations == 9
        assert a.final["total"] == pytest.approx(b.final["total"], rel=0.03)  # outcomes: the trajectories are chaotic
        assert a.final["temporal"] > 0


@pytest.mark.gpu
@pytest.mark.parametrize("batch_frames", [1, 3])
def test_gpu_video_run_records_its_replays(tmp_path, caffe_state, batch_frames):
    from media_factory import make_test_clip

    from stylevid.pipeline import VideoConfig, stylize_video

    clip = make_test_clip(tmp_path / "clip.mp4", frames=5, audio=False)
    style = load_picture(STYLE_FILE, 64)
    engine = _cuda_engine(caffe_state, style, iters=6, precision="bf16", cuda_graphs=True)
    config = VideoConfig(style=engine.config, frame_iters=6, early_stop=False, batch_frames=batch_frames)
    result = stylize_video(clip, [style], tmp_path / "out", config, engine=engine)
    summary = result.record["cuda_graph"]
    assert summary["failures"] == [] and summary["iterations"] == 5 * 6
    replayed = [row["replayed"] for row in result.record["per_frame"]]
    # two graphs, each after two eager evaluations: frame 0 (no temporal term), then frames 1–4.
    # One frame at a time, frames 2–4 replay the graph kept from frame 1 from their first
    # evaluation. Batched: frames 1–4 go through one rolling batch, the next frame entering every
    # 2 iterations (⌈6/3⌉), after the two eager evaluations
    assert replayed == [4, 4, 6, 6, 6]
    assert summary["replayed_iterations"] == sum(replayed)
    assert summary["recordings"] == 2


@pytest.mark.gpu
def test_gpu_video_frames_of_one_size_share_one_graph(tmp_path, caffe_state):
    """A video's frames reuse one recording and end as frames with fresh graphs would; it is freed at the end."""
    from media_factory import shifted_frames

    from stylevid.pipeline import VideoConfig, stylize_video
    from stylevid.pipeline.io.images import save_image

    style = load_picture(STYLE_FILE, 64)
    pictures = shifted_frames(4, size=64)
    folder = tmp_path / "frames"
    folder.mkdir()
    for index, picture in enumerate(pictures):
        save_image(folder / f"{index:03d}.png", picture)
    alone = _cuda_engine(caffe_state, style, iters=8, precision="bf16", cuda_graphs=True)
    fresh = [alone.stylize(alone.prepare_content(picture)) for picture in pictures]  # a graph each
    assert alone.graph_recordings == 4
    engine = _cuda_engine(caffe_state, style, iters=8, precision="bf16", cuda_graphs=True)
    engine.stylize(engine.prepare_content(pictures[0]), iters=1)  # style targets, cuDNN autotuning (no graph)
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    config = VideoConfig(style=engine.config, frame_init="independent", early_stop=False)
    result = stylize_video(folder, [style], tmp_path / "out", config, engine=engine)
    torch.cuda.synchronize()
    left = torch.cuda.memory_allocated() - before
    assert engine.graph_recordings == 1 and result.record["cuda_graph"]["recordings"] == 1
    rows = result.record["per_frame"]
    assert [row["replayed"] for row in rows] == [6, 8, 8, 8]  # two eager evaluations, once
    for row, alone in zip(rows, fresh):
        assert row["total"] == pytest.approx(alone.final["total"], rel=0.03)  # outcomes: trajectories are chaotic
    clear_cublas_workspaces()  # a cached cuBLAS workspace is no graph left behind
    left_uncached = torch.cuda.memory_allocated() - before
    assert left_uncached < 4 * 2**20, (
        f"{left_uncached / 2**20:.1f} MiB still allocated after the video run "
        f"({left / 2**20:.1f} MiB with cuBLAS's cache)"
    )
