"""The driver of a scaled-out video run: plan, hand frames to the Ray workers, commit, encode.

The driver alone decodes, writes the work folder and encodes; workers get every picture through
Ray's object store. Order of work:

1. a reading thread (:mod:`.intake`) decodes the input once, resizes each frame to processing
   size, puts it in the object store and scores scene cuts, while the workers work;
2. shots and segments are planned as the frames arrive (:class:`.plan.PlanBuilder`): a segment's
   opening frame is handed out as soon as it is read and its place in the plan is known;
3. keyframes first — the opening frame of every segment, stylised on its own, all in parallel —
   then every segment frame by frame from it (a segment inside a shot opens a few frames early
   and drops them), its last frames pulled towards the next segment's first frame
   (:mod:`.handoff`); a worker continues its own segment, and an idle one takes the longest
   segment that is ready;
4. each finished frame is committed to the work folder (the in-process runner's resume store)
   as it arrives, and frames reach the output (encoder or frame folder) in order, with the
   frames at processing size from the object store (the input is decoded a second time only for
   ``--output-size original``).

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
from contextlib import closing, nullcontext
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
from .cluster import Workers, check_ray_installed, connect, start_workers, wait_for_restart, worker_count
from .handoff import settle
from .intake import FrameIntake
from .plan import (
    SEGMENTS_PER_WORKER,
    Plan,
    PlanBuilder,
    Segment,
    default_segment_frames,
    handoff_weight,
    opening_frame,
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

#: Frames past the output's position whose stylised pictures the driver keeps at hand for the output
#: (later ones are read back from the work folder when the output reaches them).
AT_HAND = 256

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
    stream: bool = True,
) -> VideoResult:
    """Stylise every selected frame of ``input_path`` into ``out_dir`` on Ray workers (see the module doc).

    ``cuts``: first frames (0-based positions) of new shots; None → ``config.cuts`` ("auto": the
    scene-cut detector of :mod:`..motion.cuts`, run on every frame as it is read; "off"; or given).
    ``stream`` False waits for the whole input to be read before handing out any work (the tests
    compare the two: the same plan gives the same pictures).
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
        count, on_gpus = worker_count(config, resources)
        began = time.perf_counter()
        independent = config.frame_init == "independent"
        segment_frames = _segment_frames(config, source, count, handoff.preroll, on_gpus)
        detect = cuts is None and config.cuts == "auto" and not independent
        given = list(cuts) if cuts is not None else list(config.cuts) if isinstance(config.cuts, tuple) else []
        builder = PlanBuilder(segment_frames, handoff.preroll, handoff.frames, independent=independent)
        settings = settings_fingerprint(source, config, styles)
        settings.update(
            {
                # the plan is a function of the clip, its cuts and this rule: not of the number of workers
                "scale.plan": ["stream", segment_frames, independent, given if cuts is not None else None],
                "scale.handoff": [handoff.frames, handoff.strength, handoff.preroll, handoff.settle],
            }
        )
        work = WorkFolder(out_dir / ".work")
        work.open(settings, restart=restart)
        spec = resolve_weights(config.style.weights, config.style.weights_format)
        state = load_state_dict(spec)
        layers = [config.style.content_layer, *config.style.style_layers]
        extractor = VGG19Features(state, spec.convention, last_layer=deepest(layers), pooling=config.style.pooling)
        # the record's engine: β, precision and the like are read from it; it never optimises
        engine = StyleTransfer(config.style.replace(device="cpu"), styles, extractor=extractor)
        workers = start_workers(WorkerSetup(config, styles, state, spec.convention), config, resources, address)
        output = VideoOutput(source, config, kind, out_dir)
        intake = FrameIntake(source, config.style.size, ray.put, detect_cuts=detect)
        try:
            with finish_frame_on_signals() as stop_requested, intake:
                driver = _Driver(
                    builder, given, intake, handoff, config, work, workers, progress, source.expected_count()
                )
                again = _output_items(source, config) if config.output_size == "original" else None
                with closing(prefetch(again)) if again is not None else nullcontext() as items:
                    with FrameWriter(work, output) as writer:
                        driver.run(writer, items, stop_requested, stream=stream)
            plan = driver.plan
            stages = {"reading_frames": intake.seconds, **driver.seconds, "total": time.perf_counter() - began}
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
        if intake.damage:
            raise StylevidError(
                f"{intake.damage[0]}; the {result.frames} frames before it were stylised into {result.output}"
            )
        return result


def _segment_frames(config: VideoConfig, source: Any, workers: int, preroll: int, on_gpus: bool) -> int:
    """``--segment-frames``, or its default from the declared frame count (frames are planned as they are read)."""
    if config.segment_frames is not None:
        return config.segment_frames
    if config.frame_init == "independent":
        return 1
    expected = source.expected_count()
    if expected is None:
        raise StylevidError(
            f"{source.path} declares no frame count or duration, so the segments cannot be sized: give --segment-frames"
        )
    per_worker = SEGMENTS_PER_WORKER["gpu" if on_gpus else "cpu"]
    return default_segment_frames(max(1, expected), workers, preroll, per_worker)


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
    keyframe_busy: float = 0.0  # of which on keyframes
    first_sent: float | None = None  # when its first call was handed out (perf_counter)
    last_back: float | None = None  # when its last result came back
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
    segment's start on are committed; pre-roll frames live in the object store only. Segments
    appear as the frames are read (:class:`.plan.PlanBuilder`); the one still open is worked on
    up to where its frames cannot depend on its end.
    """

    def __init__(
        self,
        builder: PlanBuilder,
        given_cuts: list[int],
        intake: FrameIntake,
        handoff: Handoff,
        config: VideoConfig,
        work: WorkFolder,
        workers: Workers,
        progress: Progress,
        expected: int | None,
    ) -> None:
        self.builder, self.given_cuts, self.intake = builder, given_cuts, intake
        self.handoff, self.config, self.expected = handoff, config, expected
        self.work, self.progress = work, progress
        self.workers = [_WorkerState(i, actor) for i, actor in enumerate(workers.actors)]
        self.metas: list[Frame] = []
        self.contents: list[Any] = []  # object refs of the frames at processing size
        self.cuts: list[int] = list(given_cuts)
        self.decided_until: int | None = None  # cuts before this position are decided (None: all are given)
        self.segments: list[Segment] = []  # final ones, then the open one (if any)
        self.committed: set[int] = set()  # on disk (an earlier run's too)
        self.resumed = 0
        self.pictures: dict[tuple[int, int], Any] = {}  # (segment, position) → object ref of a stylised picture
        self.next_position: dict[int, int] = {}
        self.attempts: dict[int, int] = {}
        self.in_flight: dict[Any, _Flight] = {}
        self.saving: dict[int, Future] = {}
        self.at_hand: dict[int, tuple[np.ndarray, dict[str, Any]]] = {}  # saved, not yet written out
        self.seconds = {
            "starting_workers": 0.0,
            "keyframes": 0.0,
            "segments": 0.0,
            "waiting_for_workers": 0.0,
            "waiting_for_frames": 0.0,
        }
        self.restart_log: list[dict[str, Any]] = []
        self.held: dict[int, list[tuple[FrameDone, dict[str, Any]]]] = {}  # segment → its hand-off frames
        self.preroll_frames = 0
        self.cursor = 0  # the next position the output needs
        self.started = time.perf_counter()

    @property
    def frame_count(self) -> int | None:
        """The clip's frames, once read to its end."""
        return len(self.metas) if self.intake.done else None

    @property
    def plan(self) -> Plan:
        return self.builder.plan()

    def opening(self, segment: Segment) -> int:
        return opening_frame(segment, self.handoff.preroll)

    def _resume_at(self, segment: Segment, position: int) -> int:
        """The next frame of ``segment`` to make from ``position`` on: the first not committed (its opening
        again when that is the segment's first frame)."""
        for p in range(max(position, segment.start), segment.end):
            if p not in self.committed:
                return self.opening(segment) if p == segment.start else p
        return segment.end

    # --- frames arriving, the plan growing -----------------------------------------------------------
    def _take_frames(self, wait: float) -> None:
        waited = time.perf_counter()
        arrivals = self.intake.take(wait)
        self.seconds["waiting_for_frames"] += time.perf_counter() - waited if not arrivals else 0.0
        for arrival in arrivals:
            position = len(self.metas)
            self.metas.append(arrival.meta)
            self.contents.append(arrival.content)
            self.cuts += arrival.cuts
            self.decided_until = arrival.decided_until
            if self.work.frame_path(position).exists():
                self.committed.add(position)
                self.resumed += 1
        if self.intake.done:
            self.cuts += self.intake.final_cuts
            self.intake.final_cuts = []
        if arrivals or self.intake.done:
            self._grow_plan()

    def _grow_plan(self) -> None:
        known = len(self.metas)
        if self.decided_until is not None and not self.intake.done:
            known = min(known, self.decided_until)
        self.builder.advance(known, sorted(set(self.cuts)), finished=self.intake.done)
        segments = list(self.builder.segments)
        opened = self.builder.open_segment()
        if opened is not None:
            segments.append(opened)
        for segment in segments:
            index = segment.index
            if index not in self.next_position:
                self.next_position[index] = self._resume_at(segment, segment.start)
            elif self.next_position[index] >= self.segments[index].end:
                # the segment grew past where it had stopped: skip what an earlier run committed
                self.next_position[index] = self._resume_at(segment, self.segments[index].end)
        self.segments = segments

    # --- the loop -----------------------------------------------------------------------------
    def run(
        self,
        writer: FrameWriter,
        items: Iterator[PreparedFrame] | None,
        stop_requested: StopRequest,
        *,
        stream: bool = True,
    ) -> None:
        import ray

        done = sum(1 for _ in self.work.frames_dir.glob("*.png"))
        self.progress.begin(self.expected, done)
        waited = time.perf_counter()
        for state in self.workers:
            state.described = ray.get(state.actor.describe.remote())  # waits for the engines to be built
        began = self.started = time.perf_counter()
        self.seconds["starting_workers"] = began - waited
        while not stream and not self.intake.done:
            self._take_frames(wait=1.0)
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="stylevid-commit") as savers:
            self.savers = savers
            while True:
                self._take_frames(wait=0.0)
                if not stop_requested():
                    self._dispatch()
                if not self.in_flight:
                    if self.intake.done or stop_requested():
                        break
                    self._take_frames(wait=0.2)  # nothing to do until more frames are read
                    continue
                waited = time.perf_counter()
                # while frames are still arriving, look at them often; after that, only at the workers
                ready, _ = ray.wait(list(self.in_flight), num_returns=1, timeout=1.0 if self.intake.done else 0.02)
                self.seconds["waiting_for_workers"] += time.perf_counter() - waited
                for ref in ready:
                    self._receive(ref)
                self._advance_output(writer, items)
                self._note_keyframes()
            for future in list(self.saving.values()):
                future.result()
            self._advance_output(writer, items)
        self.seconds["segments"] = time.perf_counter() - began - self.seconds["keyframes"]
        total = len(self.metas)
        if stop_requested.signum is not None and (not self.intake.done or len(self.committed) < total):
            writer.flush()
            raise Interrupted(
                f"stopped by {signal_name(stop_requested.signum)} with {len(self.committed)} of "
                f"{self.expected or total} frames finished; their work is saved — run the same command again to resume",
                stop_requested.signum,
            )
        missing = total - len(self.committed)
        if missing:
            raise StylevidError(f"{missing} frames were not stylised")  # a scheduling bug, never expected

    def _note_keyframes(self) -> None:
        """The keyframe phase ends when the whole plan is known and every opening frame is made."""
        if self.seconds["keyframes"] or not self.builder.finished:
            return
        if not any(self.next_position[s.index] == self.opening(s) for s in self.segments) and not any(
            f.job.keyframe for f in self.in_flight.values()
        ):
            self.seconds["keyframes"] = time.perf_counter() - self.started

    def _dispatch(self) -> None:
        for state in self.workers:
            if state.alive and not any(f.worker is state for f in self.in_flight.values()):
                index = self._choose(state)
                if index is not None:
                    self._submit(state, self.segments[index], self.next_position[index])

    def _choose(self, state: _WorkerState) -> int | None:
        """Keyframes first (longest segment first); then the worker's own segment; then the longest ready one."""
        ready = [s for s in self.segments if self._ready(s)]
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
        if state.first_sent is None:
            state.first_sent = time.perf_counter()
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
        attempts = self.attempts[job.position] = self.attempts.get(job.position, 0) + 1
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        described = wait_for_restart(state.actor, RESTART_WAIT)
        if described is not None:
            state.described = described
            state.restarts += 1
            self.restart_log.append({"worker": state.index, "frame": job.position, "reason": reason})
        else:
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

        position, job, segment = done.position, flight.job, self.segments[flight.segment]
        stats = {**done.stats, "worker": state.index, "segment_index": flight.segment, "shot": segment.shot_start}
        state.frames += 1
        state.busy += stats.get("worker_seconds", 0.0)
        state.last_back = time.perf_counter()
        if job.keyframe:
            state.keyframe_busy += stats.get("worker_seconds", 0.0)
        self.pictures[(segment.index, position)] = ray.put(done.picture)
        if position - 1 != segment.start:  # a segment's first frame stays: the segment before hands off to it
            self.pictures.pop((segment.index, position - 1), None)
        self.next_position[segment.index] = position + 1
        if job.keyframe:
            state.keyframes += 1
        if position < segment.start:  # pre-roll: the chain's input, never committed
            self.preroll_frames += 1
            return
        if position == segment.start and position != self.opening(segment):
            # its worker measured the pair with its own pre-roll frame: the output measures the seam
            # against the frame before it that was kept
            stats["warping_error"] = None
        if done.snapshots or done.history:
            self.work.save_history(done.history, done.snapshots)
        # the display also learns how much of its segment the worker has left (not kept in the work folder)
        self.progress.frame_done(position, {**stats, "worker_frames_left": self._left(segment, position)})
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

    def _left(self, segment: Segment, position: int) -> int | None:
        """Frames of ``segment`` after ``position`` (None while the segment's end is not known yet)."""
        final = segment.index < len(self.builder.segments)
        return self.builder.segments[segment.index].end - position - 1 if final else None

    def _settled(self, segment: Segment, done: FrameDone) -> np.ndarray:
        assert done.key_warped is not None and done.key_reliable is not None
        fraction = settle_fraction(segment, done.position, self.handoff.frames)
        return settle(done.picture, done.key_warped, done.key_reliable, fraction)

    def _save(self, position: int, picture: np.ndarray, stats: dict[str, Any]) -> None:
        if "handoff_weight" in stats and self.handoff.settle:
            stats = {**stats, "warping_error": None}  # measured afresh by the output, on the mixed picture
        self.saving[position] = self.savers.submit(self.work.save_frame, position, picture, stats)
        if position < self.cursor + AT_HAND:
            self.at_hand[position] = (picture, stats)

    def _advance_output(self, writer: FrameWriter, items: Iterator[PreparedFrame] | None) -> None:
        """Mark saved frames committed and send every frame the output can take now, in order
        (``items``: the input decoded again, for ``--output-size original``; else the frames at
        processing size come from the object store)."""
        import ray

        for position, future in list(self.saving.items()):
            if future.done():
                future.result()  # raises a failed write (a full disk, say)
                del self.saving[position]
                self.committed.add(position)
        while self.cursor < len(self.metas) and self.cursor in self.committed:
            if items is None:
                item = PreparedFrame(self.metas[self.cursor], ray.get(self.contents[self.cursor]), None, None)
            else:
                again = next(items, None)
                if again is None:
                    raise StylevidError("the input yielded fewer frames on the second reading")
                item = again
            if self.cursor in self.at_hand:
                writer.saved(item, *self.at_hand.pop(self.cursor))
            else:
                writer.finished_earlier(item)
            self.cursor += 1

    def worker_records(self) -> list[dict[str, Any]]:
        return [
            {
                "worker": w.index,
                **{
                    k: w.described.get(k)
                    for k in ("device", "device_name", "host", "threads", "opencv_threads", "precision")
                },
                "frames": w.frames,
                "keyframes": w.keyframes,
                "busy_seconds": w.busy,
                "keyframe_seconds": w.keyframe_busy,
                # from its first call handed out to its last result back; less busy: waiting for work or Ray
                "active_seconds": w.last_back - w.first_sent if w.first_sent and w.last_back else None,
                "first_call_at": w.first_sent - self.started if w.first_sent else None,
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
            "starting_workers": driver.seconds["starting_workers"],
            # from the engines built to the last frame committed: the workers' part of the run
            "working": driver.seconds["keyframes"] + driver.seconds["segments"],
            "reading_frames": stages.get("reading_frames"),  # the reading thread, beside the workers
            "waiting_for_workers": driver.seconds["waiting_for_workers"],
            "waiting_for_frames": driver.seconds["waiting_for_frames"],
            "total": stages.get("total"),
        },
        "frames_per_second": (plan.frame_count - driver.resumed) / stages["total"]
        if stages.get("total") and not math.isclose(stages["total"], 0.0)
        else None,
    }
