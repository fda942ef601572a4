"""The driver of a scaled-out video run: plan, hand frames to the Ray workers, commit, encode.

The driver alone decodes, writes the work folder and encodes; workers get every picture through
Ray's object store. Order of work:

1. decode once, resize to processing size, put each frame in the object store;
2. plan shots and segments (:mod:`.plan`);
3. keyframes first — the opening frame of every segment, stylised on its own, all in parallel —
   then every segment frame by frame from it (a segment inside a shot opens a few frames early
   and drops them), its last frames pulled towards the next segment's first frame
   (:mod:`.handoff`); a worker continues its own segment, and an idle one takes the longest
   segment that is ready;
4. each finished frame is committed to the work folder (the in-process runner's resume store)
   as it arrives, and frames reach the output (encoder or frame folder) in order.

Every frame is one actor call, a pure function of its inputs, so a call lost with a killed
worker is made again on the restarted (or another) worker and gives the same picture; a rerun
after the driver was killed resumes at the frames missing from the work folder. The work folder's
fingerprint holds the plan, not the number of workers: a run may resume on more or fewer.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import VideoConfig
from ..engine.transfer import StyleTransfer
from ..engine.vgg import VGG19Features, deepest
from ..engine.weights import load_state_dict, resolve_weights
from ..errors import StylevidError
from ..io.folder_lock import output_folder_lock
from ..io.images import resize_long_side
from ..io.paths import create_output_folder
from ..io.record import write_json
from ..progress import Progress
from ..validation import validate_run
from ..video.finalise import finalise
from ..video.fingerprint import settings_fingerprint
from ..video.frame_pairs import PreparedFrame
from ..video.frames import Frame, frames_until_damage, open_source
from ..video.output import VideoOutput
from ..video.prefetch import prefetch
from ..video.signals import StopRequest, finish_frame_on_signals, signal_name
from ..video.workdir import WorkFolder
from ..video.writer import FrameWriter
from ..video_job import Interrupted, VideoResult
from .cluster import Workers, check_ray_installed, connect, start_workers, worker_count
from .handoff import settle
from .plan import (
    Plan,
    Segment,
    default_segment_frames,
    handoff_weight,
    independent_plan,
    opening_frame,
    plan_segments,
    settle_fraction,
)
from .worker import FrameDone, FrameJob, WorkerSetup


@dataclass(frozen=True)
class Handoff:
    """How a segment meets the next one in its shot (see :mod:`.handoff`; chosen by benchmarks/seam_handoff.py)."""

    frames: int = 6  # frames before a seam pulled towards the next segment's first frame
    strength: float = 3.0  # their pull just before the seam, relative to the pull towards the predecessor
    # a segment inside a shot opens this many frames early (never before its shot): its chain has
    # settled by its first committed frame, as the segment before it has by its end; those frames are dropped
    preroll: int = 6
    # once a segment is finished, also mix its hand-off frames towards the warped next frame
    # (handoff.settle): measured worse (the ramp's pairs grow), so off
    settle: bool = False


#: Seconds to wait for a killed worker to come back (Ray restarts it and it rebuilds its engine).
RESTART_WAIT = 300.0

#: Attempts at one frame before the run gives up (each lost with a worker).
MAX_ATTEMPTS = 4


def stylize_video_scaled(
    input_path: Path,
    styles: list[np.ndarray],
    out_dir: Path,
    config: VideoConfig,
    *,
    cuts: Sequence[int] | None = None,
    restart: bool = False,
    progress: Progress | None = None,
    handoff: Handoff | None = None,
) -> VideoResult:
    """Stylise every selected frame of ``input_path`` into ``out_dir`` on Ray workers (see the module doc).

    ``cuts``: first frames (0-based positions) of new shots; None → ``config.cuts`` ("auto": the
    scene-cut detector of :mod:`..motion.cuts`, run on every frame as it is read; "off"; or given).
    """
    validate_run(input_path, styles, out_dir, config)
    check_ray_installed()
    import ray

    handoff = handoff or Handoff()
    progress = progress or Progress()
    source = open_source(Path(input_path), start=config.start, end=config.end, every=config.every, fps=config.fps)
    kind = config.output_kind(source.kind)
    out_dir = Path(out_dir)
    create_output_folder(out_dir)
    with output_folder_lock(out_dir):  # one run per output folder, as in one process
        address, resources = connect(config.cluster)
        count, _ = worker_count(config, resources)
        began = time.perf_counter()
        damage: list[StylevidError] = []
        detector = _CutDetector() if cuts is None and config.cuts == "auto" else None
        metas, contents = [], []
        for frame in frames_until_damage(source, damage):
            meta, content = _without_picture(frame, config.style.size)
            if detector is not None:
                detector.add(content)
            metas.append(meta)
            contents.append(ray.put(content))
        if not metas:
            raise StylevidError(f"no frames could be read from {source.path}")
        if cuts is None:
            if detector is not None:
                cuts = detector.finish()
            else:
                cuts = config.cuts if isinstance(config.cuts, tuple) else ()
        plan = _plan(config, len(metas), cuts, count, handoff.preroll)
        settings = settings_fingerprint(source, config, styles)
        settings.update(
            {
                "scale.segments": plan.boundaries(),
                "scale.handoff": [handoff.frames, handoff.strength, handoff.preroll, handoff.settle],
            }
        )
        work = WorkFolder(out_dir / ".work")
        work.open(settings, restart=restart)
        decoded = time.perf_counter() - began
        spec = resolve_weights(config.style.weights, config.style.weights_format)
        state = load_state_dict(spec)
        layers = [config.style.content_layer, *config.style.style_layers]
        extractor = VGG19Features(state, spec.convention, last_layer=deepest(layers), pooling=config.style.pooling)
        # the record's engine: β, precision and the like are read from it; it never optimises
        engine = StyleTransfer(config.style.replace(device="cpu"), styles, extractor=extractor)
        workers = start_workers(WorkerSetup(config, styles, state, spec.convention), config, resources, address)
        output = VideoOutput(source, config, kind, out_dir)
        try:
            with finish_frame_on_signals() as stop_requested:
                driver = _Driver(plan, handoff, config, metas, contents, work, workers, progress)
                with closing(prefetch(_output_items(source, config))) as items, FrameWriter(work, output) as writer:
                    driver.run(writer, items, stop_requested)
            stages = {"reading_frames": decoded, **driver.seconds, "total": time.perf_counter() - began}
            progress.stage("encoding" if kind == "video" else "writing frames")
            closing_began = time.perf_counter()
            output.close()
            stages["closing_output"] = time.perf_counter() - closing_began
        except BaseException:
            output.abort()
            raise
        finally:
            for actor in workers.actors:
                ray.kill(actor)
        record, files = finalise(output, source, engine, work, config, out_dir, stages)
        record["device"] = sorted({w.get("device", "?") for w in driver.worker_records()})
        record["precision"] = sorted({w.get("precision", "?") for w in driver.worker_records()})
        record["scale_out"] = _scale_record(plan, driver, output.rows, address, handoff, stages)
        files["record"] = write_json(files["record"], record)
        result = VideoResult(
            output.output, record["frames"], record["warping_error"], record["mean_style_loss"], record, files
        )
        if damage:
            raise StylevidError(f"{damage[0]}; the {result.frames} frames before it were stylised into {result.output}")
        return result


def _plan(config: VideoConfig, frame_count: int, cuts: Sequence[int], workers: int, preroll: int) -> Plan:
    if config.frame_init == "independent":
        return independent_plan(frame_count)
    segment_frames = config.segment_frames or default_segment_frames(frame_count, workers)
    return plan_segments(frame_count, cuts, segment_frames, preroll)


class _CutDetector:
    """The scene-cut detector of the in-process runner (:mod:`..motion.cuts`), fed one frame at a time."""

    def __init__(self) -> None:
        from ..motion.cuts import CutFinder, flow_estimator

        self.finder, self.dis = CutFinder(), flow_estimator()
        self.previous: np.ndarray | None = None
        self.cuts: list[int] = []

    def add(self, content: np.ndarray) -> None:
        from ..motion.cuts import change_score, shrink

        small = shrink(content)
        if self.previous is not None:
            # frames of another size (a folder of mixed pictures) cannot continue a shot
            same = small.shape == self.previous.shape
            self.cuts += self.finder.add(change_score(self.previous, small, self.dis) if same else 255.0)
        self.previous = small

    def finish(self) -> list[int]:
        return sorted(self.cuts + self.finder.finish())


def _without_picture(frame: Frame, size: int) -> tuple[Frame, np.ndarray]:
    """(the frame without its full-size picture, the picture at processing size)."""
    content = resize_long_side(frame.picture, size)
    return Frame(frame.position, frame.index, frame.time, frame.name, np.empty((0, 0, 3), np.uint8)), content


def _output_items(source: Any, config: VideoConfig) -> Iterator[PreparedFrame]:
    """The frames again, decoded in order for the output (only the driver reads the input)."""
    for frame in frames_until_damage(source, []):
        yield PreparedFrame(frame, resize_long_side(frame.picture, config.style.size), None, None)


@dataclass
class _WorkerState:
    index: int
    actor: Any
    alive: bool = True
    segment: int | None = None  # the segment it is working through
    frames: int = 0
    keyframes: int = 0
    busy: float = 0.0  # seconds inside frame calls (flow, warps and optimisation)
    restarts: int = 0
    described: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Flight:
    worker: _WorkerState
    job: FrameJob
    segment: int
    submitted: float


class _Driver:
    """Keeps every worker busy with the next frame that can be made, and commits what comes back.

    Each segment is a chain of frames from its opening frame (its keyframe, or the pre-roll's first
    frame) to its end; at most one of its frames is in flight at a time. Only frames from the
    segment's start on are committed; pre-roll frames live in the object store only.
    """

    def __init__(
        self,
        plan: Plan,
        handoff: Handoff,
        config: VideoConfig,
        metas: list[Frame],
        contents: list[Any],
        work: WorkFolder,
        workers: Workers,
        progress: Progress,
    ) -> None:
        self.plan, self.handoff, self.config, self.metas, self.contents = plan, handoff, config, metas, contents
        self.work, self.progress = work, progress
        self.workers = [_WorkerState(i, actor) for i, actor in enumerate(workers.actors)]
        count = plan.frame_count
        self.committed = {p for p in range(count) if work.frame_path(p).exists()}  # on disk (an earlier run's too)
        self.resumed = len(self.committed)
        self.pictures: dict[tuple[int, int], Any] = {}  # (segment, position) → object ref of a stylised picture
        self.next_position = {s.index: self._resume_at(s) for s in plan.segments}
        self.attempts: dict[int, int] = {}
        self.in_flight: dict[Any, _Flight] = {}
        self.saving: dict[int, Future] = {}
        self.seconds = {"keyframes": 0.0, "segments": 0.0, "waiting_for_workers": 0.0}
        self.restart_log: list[dict[str, Any]] = []
        self.held: dict[int, list[tuple[FrameDone, dict[str, Any]]]] = {}  # segment → its hand-off frames
        self.preroll_frames = 0
        self.cursor = 0  # the next position the output needs
        self.started = time.perf_counter()

    def opening(self, segment: Segment) -> int:
        return opening_frame(segment, self.handoff.preroll)

    def _resume_at(self, segment: Segment) -> int:
        """The next frame of ``segment`` to make: after its last committed one, or from its opening again."""
        for position in range(segment.start, segment.end):
            if position not in self.committed:
                return self.opening(segment) if position == segment.start else position
        return segment.end

    # --- the loop -----------------------------------------------------------------------------
    def run(self, writer: FrameWriter, items: Iterator[PreparedFrame], stop_requested: StopRequest) -> None:
        import ray

        self.progress.begin(self.plan.frame_count, self.resumed)
        for state in self.workers:
            state.described = ray.get(state.actor.describe.remote())  # waits for the engines to be built
        began = self.started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="stylevid-commit") as savers:
            self.savers = savers
            while True:
                if not stop_requested():
                    self._dispatch()
                if not self.in_flight:
                    break
                waited = time.perf_counter()
                ready, _ = ray.wait(list(self.in_flight), num_returns=1, timeout=1.0)
                self.seconds["waiting_for_workers"] += time.perf_counter() - waited
                for ref in ready:
                    self._receive(ref)
                self._advance_output(writer, items)
            for future in list(self.saving.values()):
                future.result()
            self._advance_output(writer, items)
        self.seconds["segments"] = time.perf_counter() - began - self.seconds["keyframes"]
        if stop_requested.signum is not None and len(self.committed) < self.plan.frame_count:
            writer.flush()
            raise Interrupted(
                f"stopped by {signal_name(stop_requested.signum)} with {len(self.committed)} of "
                f"{self.plan.frame_count} frames finished; their work is saved — run the same command again to resume",
                stop_requested.signum,
            )
        missing = self.plan.frame_count - len(self.committed)
        if missing:
            raise StylevidError(f"{missing} frames were not stylised")  # a scheduling bug, never expected

    def _dispatch(self) -> None:
        for state in self.workers:
            if state.alive and not any(f.worker is state for f in self.in_flight.values()):
                index = self._choose(state)
                if index is not None:
                    self._submit(state, self.plan.segments[index], self.next_position[index])

    def _choose(self, state: _WorkerState) -> int | None:
        """Keyframes first (longest segment first); then the worker's own segment; then the longest ready one."""
        ready = [s for s in self.plan.segments if self._ready(s)]
        keyframes = [s for s in ready if self.next_position[s.index] == self.opening(s)]
        if keyframes:
            return max(keyframes, key=lambda s: s.end - self.opening(s)).index
        if state.segment is not None and any(s.index == state.segment for s in ready):
            return state.segment
        if ready:
            return max(ready, key=lambda s: s.end - self.next_position[s.index]).index
        return None

    def _ready(self, segment: Segment) -> bool:
        """Whether the next frame of ``segment`` can be made now."""
        position = self.next_position[segment.index]
        if position >= segment.end or any(f.segment == segment.index for f in self.in_flight.values()):
            return False
        if position == self.opening(segment):
            return True
        if (segment.index, position - 1) not in self.pictures and position - 1 not in self.committed:
            return False
        weight = handoff_weight(segment, position, self.handoff.frames, self.handoff.strength)
        return weight == 0 or self._key_available(segment)

    def _key_available(self, segment: Segment) -> bool:
        """Whether the next segment's first committed frame (the keyframe of this one's hand-off) exists."""
        key = segment.next_keyframe
        return key is not None and ((segment.index + 1, key) in self.pictures or key in self.committed)

    def _submit(self, state: _WorkerState, segment: Segment, position: int) -> None:
        meta = self.metas[position]
        keyframe = position == self.opening(segment)
        weight = 0.0 if keyframe else handoff_weight(segment, position, self.handoff.frames, self.handoff.strength)
        job = FrameJob(
            position,
            meta.index,
            meta.time,
            meta.name,
            keyframe=keyframe,
            handoff_weight=weight,
            snapshots=position == self.config.gif_frame and position >= segment.start,
        )
        args: list[Any] = [job, self.contents[position]]
        if not keyframe:
            args += [self.contents[position - 1], self._picture(segment.index, position - 1)]
            if weight > 0:
                assert segment.next_keyframe is not None
                key = segment.next_keyframe
                args += [self.contents[key], self._picture(segment.index + 1, key)]
        ref = state.actor.frame.remote(*args)
        state.segment = segment.index
        self.in_flight[ref] = _Flight(state, job, segment.index, time.perf_counter())

    def _picture(self, segment: int, position: int) -> Any:
        """Object ref of a stylised picture of ``segment``: in the store already, or loaded from the work folder."""
        if (segment, position) not in self.pictures:
            import ray

            self.pictures[(segment, position)] = ray.put(self.work.load_frame(position)[0])
        return self.pictures[(segment, position)]

    def _receive(self, ref: Any) -> None:
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        flight = self.in_flight.pop(ref)
        state, job = flight.worker, flight.job
        try:
            done: FrameDone = ray.get(ref)
        except RayActorError as error:
            self._lost(state, job, error)
            return
        except RayTaskError as error:
            cause = error.cause if isinstance(getattr(error, "cause", None), StylevidError) else None
            if cause is not None:
                raise StylevidError(f"worker {state.index + 1} ({self._where(state)}): {cause}") from None
            raise
        self._commit(state, flight, done)

    def _where(self, state: _WorkerState) -> str:
        d = state.described
        return f"{d.get('device', '?')} on {d.get('host', '?')}" if d else "not started"

    def _lost(self, state: _WorkerState, job: FrameJob, error: Exception) -> None:
        """The worker died with ``job`` in flight: Ray restarts it (up to MAX_RESTARTS) and the frame is
        made again (the segment is ready again); a worker that does not come back is dropped."""
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError

        attempts = self.attempts[job.position] = self.attempts.get(job.position, 0) + 1
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        try:
            state.described = ray.get(state.actor.describe.remote(), timeout=RESTART_WAIT)
            state.restarts += 1
            self.restart_log.append({"worker": state.index, "frame": job.position, "reason": reason})
        except (RayActorError, GetTimeoutError):
            state.alive, state.segment = False, None
            self.restart_log.append({"worker": state.index, "frame": job.position, "reason": reason, "lost": True})
        if not any(w.alive for w in self.workers) or attempts >= MAX_ATTEMPTS:
            raise StylevidError(
                f"worker {state.index + 1} ({self._where(state)}) died for good at frame {job.position + 1} "
                f"({reason}); the {len(self.committed)} finished frames are kept — run the same command again "
                "to resume"
            )

    def _commit(self, state: _WorkerState, flight: _Flight, done: FrameDone) -> None:
        import ray

        position, job, segment = done.position, flight.job, self.plan.segments[flight.segment]
        stats = {**done.stats, "worker": state.index, "segment_index": flight.segment, "shot": segment.shot_start}
        state.frames += 1
        state.busy += stats.get("worker_seconds", 0.0)
        self.pictures[(segment.index, position)] = ray.put(done.picture)
        if position - 1 != segment.start:  # a segment's first frame stays: the segment before hands off to it
            self.pictures.pop((segment.index, position - 1), None)
        self.next_position[segment.index] = position + 1
        if job.keyframe:
            state.keyframes += 1
            if not any(self.next_position[s.index] == self.opening(s) for s in self.plan.segments) and not any(
                f.job.keyframe for f in self.in_flight.values()
            ):
                self.seconds["keyframes"] = time.perf_counter() - self.started
        if position < segment.start:  # pre-roll: the chain's input, never committed
            self.preroll_frames += 1
            return
        if position == segment.start and position != self.opening(segment):
            # its worker measured the pair with its own pre-roll frame: the output measures the seam
            # against the frame before it that was kept
            stats["warping_error"] = None
        if done.snapshots or done.history:
            self.work.save_history(done.history, done.snapshots)
        self.progress.frame_done(position, stats)
        if self.handoff.settle and job.handoff_weight > 0:
            # hand-off frames wait for the segment's last one, then are mixed and committed together
            # (a run killed before that redoes them: they are the chain's inputs, unmixed)
            held = self.held.setdefault(segment.index, [])
            held.append((done, stats))
            if position == segment.end - 1:
                for frame, frame_stats in self.held.pop(segment.index):
                    self._save(frame.position, self._settled(segment, frame), frame_stats)
            return
        self._save(position, done.picture, stats)

    def _settled(self, segment: Segment, done: FrameDone) -> np.ndarray:
        assert done.key_warped is not None and done.key_reliable is not None
        fraction = settle_fraction(segment, done.position, self.handoff.frames)
        return settle(done.picture, done.key_warped, done.key_reliable, fraction)

    def _save(self, position: int, picture: np.ndarray, stats: dict[str, Any]) -> None:
        if "handoff_weight" in stats and self.handoff.settle:
            stats = {**stats, "warping_error": None}  # measured afresh by the output, on the mixed picture
        self.saving[position] = self.savers.submit(self.work.save_frame, position, picture, stats)

    def _advance_output(self, writer: FrameWriter, items: Iterator[PreparedFrame]) -> None:
        """Mark saved frames committed and send every frame the output can take now, in order."""
        for position, future in list(self.saving.items()):
            if future.done():
                future.result()  # raises a failed write (a full disk, say)
                del self.saving[position]
                self.committed.add(position)
        while self.cursor < self.plan.frame_count and self.cursor in self.committed:
            item = next(items, None)
            if item is None:
                raise StylevidError("the input yielded fewer frames on the second reading")
            writer.finished_earlier(item)
            self.cursor += 1

    def worker_records(self) -> list[dict[str, Any]]:
        return [
            {
                "worker": w.index,
                **{k: w.described.get(k) for k in ("device", "device_name", "host", "threads", "precision")},
                "frames": w.frames,
                "keyframes": w.keyframes,
                "busy_seconds": w.busy,
                "frames_per_second": w.frames / w.busy if w.busy else None,
                "restarts": w.restarts,
                "lost": not w.alive,
            }
            for w in self.workers
        ]


def _scale_record(
    plan: Plan,
    driver: _Driver,
    rows: list[dict[str, Any]],
    address: str,
    handoff: Handoff,
    stages: dict[str, float],
) -> dict[str, Any]:
    """run.json's ``scale_out``: workers, segments, seams with their errors, per-worker times."""
    cuts = set(plan.cuts)
    errors = {p: rows[p].get("warping_error") for p in range(1, len(rows))}
    within_shots = [e for p, e in errors.items() if p not in cuts and e is not None]
    median = statistics.median(within_shots) if within_shots else None
    seams: list[dict[str, Any]] = []
    for position in sorted((*plan.seams, *plan.cuts)):
        error = errors.get(position)
        ratio = error / median if error is not None and median else None
        kind = "cut" if position in cuts else "segment"
        seams.append({"frame": position, "kind": kind, "warping_error": error, "ratio_to_median": ratio})
    inside = [s["ratio_to_median"] for s in seams if s["kind"] == "segment" and s["ratio_to_median"] is not None]
    return {
        "cluster": address,
        "workers": driver.worker_records(),
        "handoff": {
            "frames": handoff.frames,
            "strength": handoff.strength,
            "preroll": handoff.preroll,
            "settle": handoff.settle,
        },
        "shots": [list(s) for s in plan.shots],
        "segments": [
            {
                "index": s.index,
                "shot": s.shot,
                "start": s.start,
                "end": s.end,
                "seam_after": s.next_keyframe is not None,
            }
            for s in plan.segments
        ],
        "median_pair_error": median,
        "seams": seams,
        "worst_seam_ratio": max(inside) if inside else None,
        "resumed_frames": driver.resumed,
        "preroll_frames": driver.preroll_frames,
        "restarts": driver.restart_log,
        "seconds": {
            "keyframe_phase": driver.seconds["keyframes"],
            "waiting_for_workers": driver.seconds["waiting_for_workers"],
            "total": stages.get("total"),
        },
        "frames_per_second": (plan.frame_count - driver.resumed) / stages["total"]
        if stages.get("total") and not math.isclose(stages["total"], 0.0)
        else None,
    }
