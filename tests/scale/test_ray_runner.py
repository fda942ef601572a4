"""The Ray runner end to end on the session's local cluster: 2 CPU workers, a generated clip with one
cut and two segments per shot, real weights at a tiny size.

Checked: frame count, rate and audio; the seam bound; a worker killed mid-frame is restarted and
the output is identical to an undisturbed run; a driver killed (another process) and run again
resumes without redoing a finished frame.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import STYLE_FILE
from media_factory import make_test_clip
from PIL import Image

pytest.importorskip("ray")

from stylevid.pipeline import VideoConfig  # noqa: E402
from stylevid.pipeline.config import StyleConfig  # noqa: E402
from stylevid.pipeline.io.images import load_image  # noqa: E402
from stylevid.pipeline.io.probe import probe_video  # noqa: E402
from stylevid.pipeline.progress import Progress  # noqa: E402
from stylevid.pipeline.scale.runner import Handoff, stylize_video_scaled  # noqa: E402

FRAMES, CUT, SEGMENT = 40, 20, 10  # two shots of two segments each
# the defaults: a pre-roll shorter than a segment, so the second segment of a shot does not open on the
# shot's keyframe (it would then repeat the first segment exactly, and its seam would not be one)
HANDOFF = Handoff()
CONFIG = VideoConfig(
    style=StyleConfig(size=32, iters=8, device="cpu"),
    frame_iters=6,
    early_stop=False,
    workers=2,
    segment_frames=SEGMENT,
)


def frames_of(out: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p)) for p in sorted((out / ".work" / "frames").glob("*.png"))]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_test_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", frames=FRAMES)


@pytest.fixture(scope="module")
def styles():
    return [load_image(STYLE_FILE)]


@pytest.fixture(scope="module")
def undisturbed(ray_cluster, clip, styles, tmp_path_factory):
    out = tmp_path_factory.mktemp("undisturbed")
    result = stylize_video_scaled(clip, styles, out, CONFIG, cuts=[CUT], handoff=HANDOFF)
    return out, result


def test_frame_count_rate_audio_and_the_record(clip, undisturbed):
    out, result = undisturbed
    video, source = probe_video(result.output), probe_video(clip)
    assert video.frame_count == FRAMES and video.fps == source.fps
    assert video.audio_streams == 1
    assert abs(video.duration - source.duration) < 0.1
    scale = result.record["scale_out"]
    made = sum(w["frames"] for w in scale["workers"])
    assert len(scale["workers"]) == 2 and made == FRAMES + scale["preroll_frames"] > FRAMES
    assert all(w["busy_seconds"] > 0 for w in scale["workers"])
    assert [(s["start"], s["end"]) for s in scale["segments"]] == [(0, 10), (10, 20), (20, 30), (30, 40)]
    assert [(s["frame"], s["kind"]) for s in scale["seams"]] == [(10, "segment"), (20, "cut"), (30, "segment")]
    assert json.loads((out / "run.json").read_text())["scale_out"]["seams"] == scale["seams"]


@pytest.fixture(scope="module")
def seams_left_alone(ray_cluster, clip, styles, tmp_path_factory):
    """The same run with segments that open on their first frame and no hand-off (a fresh keyframe at each seam)."""
    out = tmp_path_factory.mktemp("naive")
    result = stylize_video_scaled(clip, styles, out, CONFIG, cuts=[CUT], handoff=Handoff(frames=0, preroll=0))
    return {s["frame"]: s for s in result.record["scale_out"]["seams"]}


def test_the_hand_off_hides_every_seam_inside_a_shot(undisturbed, seams_left_alone):
    """The issue's bound (seam pair ≤ 1.5× the median pair) is met on the sample clip at 64 px
    (benchmarks/seam_handoff.py, docs/scale-out.md), not at this test's 32 px and 6 iterations
    per frame; here each seam must be at least 3 times steadier than with the seams left alone."""
    _, result = undisturbed
    seams = [s for s in result.record["scale_out"]["seams"] if s["kind"] == "segment"]
    assert [s["frame"] for s in seams] == [10, 30]
    for seam in seams:
        alone = seams_left_alone[seam["frame"]]
        assert seam["warping_error"] * 3 <= alone["warping_error"], (seam, alone)


def test_frames_handed_out_while_the_input_is_read_are_those_of_a_run_that_read_it_first(
    ray_cluster, clip, styles, undisturbed, tmp_path
):
    """The driver plans and hands out work as it decodes; waiting for the whole input first (the plan
    is the same) gives the same pictures, bit for bit."""
    reference, streamed = undisturbed
    result = stylize_video_scaled(clip, styles, tmp_path, CONFIG, cuts=[CUT], handoff=HANDOFF, stream=False)
    assert result.record["scale_out"]["segments"] == streamed.record["scale_out"]["segments"]
    mine, theirs = frames_of(tmp_path), frames_of(reference)
    assert len(mine) == len(theirs) == FRAMES
    assert all(np.array_equal(a, b) for a, b in zip(mine, theirs))


class KillAWorker(Progress):
    """Kills a worker process (SIGKILL) other than the one that just delivered, once ``after`` frames are done."""

    def __init__(self, after: int) -> None:
        self.after, self.count, self.pids, self.killed = after, 0, {}, None

    def frame_done(self, position, stats):
        self.count += 1
        self.pids[stats["worker"]] = stats["worker_pid"]
        others = [pid for worker, pid in self.pids.items() if worker != stats["worker"]]
        if self.killed is None and self.count >= self.after and others:
            self.killed = others[0]
            os.kill(self.killed, signal.SIGKILL)


def test_a_killed_worker_is_restarted_and_the_output_is_identical(ray_cluster, clip, styles, undisturbed, tmp_path):
    reference, _ = undisturbed
    killer = KillAWorker(after=3)
    result = stylize_video_scaled(clip, styles, tmp_path, CONFIG, cuts=[CUT], handoff=HANDOFF, progress=killer)
    assert killer.killed is not None
    assert result.record["scale_out"]["restarts"], "the kill went unnoticed"
    mine, theirs = frames_of(tmp_path), frames_of(reference)
    assert len(mine) == len(theirs) == FRAMES
    assert all(np.array_equal(a, b) for a, b in zip(mine, theirs))


class KillEveryWorker(Progress):
    """Kills every worker process it has heard of once ``after`` frames are done (and both were heard of)."""

    def __init__(self, after: int) -> None:
        self.after, self.count, self.pids, self.killed = after, 0, {}, False

    def frame_done(self, position, stats):
        self.count += 1
        self.pids[stats["worker"]] = stats["worker_pid"]
        if not self.killed and self.count >= self.after and len(self.pids) == 2:
            self.killed = True
            for pid in self.pids.values():
                os.kill(pid, signal.SIGKILL)


def test_workers_lost_for_good_stop_the_run_with_one_line_and_keep_every_finished_frame(
    ray_cluster, clip, styles, undisturbed, tmp_path, monkeypatch
):
    from stylevid.pipeline.errors import StylevidError
    from stylevid.pipeline.scale import cluster

    reference, _ = undisturbed
    monkeypatch.setattr(cluster, "MAX_RESTARTS", 0)  # as if each worker's GPU had failed for good
    killer = KillEveryWorker(after=4)
    with pytest.raises(StylevidError) as stopped:
        stylize_video_scaled(clip, styles, tmp_path, CONFIG, cuts=[CUT], handoff=HANDOFF, progress=killer)
    message = str(stopped.value)
    assert killer.killed and "died for good" in message and "\n" not in message
    kept = sorted((tmp_path / ".work" / "frames").glob("*.png"))
    assert len(kept) >= 4
    for path in kept:
        theirs = reference / ".work" / "frames" / path.name
        assert np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(theirs)))


DRIVER = """
import sys
from pathlib import Path
from stylevid.pipeline.io.images import load_image
from stylevid.pipeline.scale.runner import stylize_video_scaled
sys.path[:0] = [{tests!r}, str(Path({tests!r}).parent)]
from test_ray_runner import CONFIG, CUT, HANDOFF
config = CONFIG.replace(cluster={address!r})
stylize_video_scaled(Path({clip!r}), [load_image(Path({style!r}))], Path({out!r}), config, cuts=[CUT], handoff=HANDOFF)
"""


def test_a_killed_driver_resumes_without_redoing_finished_frames(ray_cluster, clip, undisturbed, tmp_path):
    reference, _ = undisturbed
    out = tmp_path / "out"
    script = DRIVER.format(
        tests=str(Path(__file__).parent), address=ray_cluster, clip=str(clip), style=str(STYLE_FILE), out=str(out)
    )
    command = [sys.executable, "-c", script]
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while len(list((out / ".work" / "frames").glob("*.png"))) < 12:
        assert driver.poll() is None, driver.communicate()
        assert time.monotonic() < deadline, "the driver made no progress"
        time.sleep(0.05)
    driver.kill()
    driver.wait()
    kept = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / ".work" / "frames").glob("*.png")}
    assert 12 <= len(kept) < FRAMES
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "run.json").read_text())["scale_out"]
    assert record["resumed_frames"] == len(kept)
    for name, identity in kept.items():  # finished frames were not made again
        path = out / ".work" / "frames" / name
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == identity
    assert all(np.array_equal(a, b) for a, b in zip(frames_of(out), frames_of(reference)))
    assert probe_video(out / "clip_stylised.mp4").frame_count == FRAMES


@pytest.mark.parametrize("frame_init,segment", [("prev-warped", 100), ("independent", 1)])
def test_a_run_on_workers_repeats_the_in_process_run(ray_cluster, styles, tmp_path, frame_init, segment):
    """One segment (or independent frames, each its own keyframe, spread over the workers) makes the
    same pictures as the in-process runner, bit for bit (CPU, one torch thread each)."""
    import torch

    from stylevid.pipeline import stylize_video

    clip = make_test_clip(tmp_path / "clip.mp4", frames=6)
    config = CONFIG.replace(frame_init=frame_init, segment_frames=segment)
    stylize_video_scaled(clip, styles, tmp_path / "workers", config)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        stylize_video(clip, styles, tmp_path / "here", config.replace(workers=0, segment_frames=None))
    finally:
        torch.set_num_threads(threads)
    mine, theirs = frames_of(tmp_path / "workers"), frames_of(tmp_path / "here")
    assert len(mine) == len(theirs) == 6
    assert all(np.array_equal(a, b) for a, b in zip(mine, theirs))
