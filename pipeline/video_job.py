"""Stylise a video or a frame folder with temporal coherence, resumably.

Data flow, one direction: frame source → (flow on the original frames) → optimiser → work
folder (lossless PNG per frame, atomic) → finalise: encoded video or frame folder, warping
error, preview GIF, plots and run record. The optimiser never sees PyAV.

Frame 1 gets the full budget from ``style.init``; each later frame starts from the previous
stylised frame — warped by optical flow (``prev-warped``, the default) or as is (``prev``) — and
is pulled towards the warped previous frame by the temporal loss of Ruder et al. (2016) where
the flow is reliable. ``independent`` stylises every frame from scratch (a baseline).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import VideoConfig
from .progress import Progress
from .errors import StylevidError
from .video.frame_pairs import PreparedFrame, pair_warping_error, prepare_frames, warp_into
from .video.frames import Frame, FrameSource, open_source
from .engine.optimize import EarlyStop
from .video.prefetch import prefetch
from .io.record import run_record, write_json
from .render.renders import (
    save_clip_gif,
    save_loss_plot,
    save_per_frame_plot,
    save_progress_gif,
    snapshot_iterations,
)
from .video.rolling import RollingBatch, RollingSettings, stylize_rolling
from .video.schedule import segment_frames, starts_segment
from .engine.device import precision_choice
from .engine.transfer import StyleTransfer, TemporalGuide
from .video.output import VideoOutput
from .video.workdir import WorkFolder

#: λ_t when unset, for a 512×512 frame; scaled by area / 512² like the default β, so the balance
#: between the temporal term (a per-pixel mean) and content/style (sums over positions) holds at
#: every --size. Calibrated on the sample clip with the Caffe weights (see docs/method.md).
DEFAULT_TEMPORAL_WEIGHT_AT_512 = 2e14


class Interrupted(StylevidError):
    """Ctrl-C: the frame in flight was finished and saved; rerunning resumes."""

    exit_code = 130


@dataclass
class VideoResult:
    output: Path  # the video file or the frame folder
    frames: int  # frames stylised
    warping_error: float | None  # mean over consecutive pairs (Lai et al. 2018)
    mean_style_loss: float  # mean over frames of the final (weighted) style loss
    record: dict[str, Any]  # what run.json holds
    files: dict[str, Path]  # name → path of every file written


def temporal_weight_for(config: VideoConfig, width: int, height: int) -> float:
    if config.temporal_weight is not None:
        return config.temporal_weight
    return DEFAULT_TEMPORAL_WEIGHT_AT_512 * (width * height) / (512 * 512)


def output_kind(source: FrameSource, config: VideoConfig) -> str:
    if config.output != "auto":
        return config.output
    return "video" if source.kind == "video" else "frames"


def stylize_video(
    input_path: Path,
    styles: list[np.ndarray],
    out_dir: Path,
    config: VideoConfig,
    *,
    restart: bool = False,
    progress: Progress | None = None,
    engine: StyleTransfer | None = None,
) -> VideoResult:
    """Stylise every selected frame of ``input_path`` into ``out_dir`` (see the module doc)."""
    progress = progress or Progress()
    source = open_source(Path(input_path), start=config.start, end=config.end, every=config.every, fps=config.fps)
    kind = output_kind(source, config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    engine = engine or StyleTransfer(config.style, styles)
    work = WorkFolder(out_dir / ".work")
    settings = _fingerprint(source, config, styles)
    done = work.open(settings, restart=restart)
    began = time.perf_counter()
    damage: list[StylevidError] = []
    output = VideoOutput(source, config, kind, out_dir)
    try:
        with _finish_frame_on_ctrl_c() as stop_requested:
            progress.begin(source.expected_count(), done)
            stages = _optimise_frames(_frames_until_damage(source, damage), engine, work, output, config, done, progress, stop_requested)
        stages["total"] = time.perf_counter() - began
        progress.stage("encoding" if kind == "video" else "writing frames")
        closing_began = time.perf_counter()
        output.close()
        stages["closing_output"] = time.perf_counter() - closing_began
    except BaseException:
        output.abort()
        raise
    result = _finalise(output, source, engine, work, config, out_dir, stages)
    if damage:
        raise StylevidError(f"{damage[0]}; the {result.frames} frames before it were stylised into {result.output}")
    return result


def _frames_until_damage(source: FrameSource, damage: list[StylevidError]) -> Iterator[Frame]:
    """The source's frames up to a decoding error, which is noted in ``damage`` (not raised).

    A truncated or corrupt file still yields a video of the frames before the damage; the
    caller reports the error after writing it.
    """
    frames = source.frames()
    yielded = False
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except StylevidError as error:
            if not yielded:
                raise  # nothing decoded at all: the reader's own message says why
            damage.append(error)
            return
        yielded = True
        yield frame


def _optimise_frames(frames: Iterator[Frame], engine: StyleTransfer, work: WorkFolder, output: VideoOutput, config: VideoConfig,
                     done: int, progress: Progress, stop_requested) -> dict[str, float]:
    """Stylise the frames from ``done`` on into ``work`` and send every frame to ``output``.

    Returns seconds spent per stage. Decoding, resizing and optical flow run on a background
    thread ahead of the optimiser, and finished frames are written (work folder, then output)
    by another, so the optimiser (the GPU, when there is one) waits for neither. Frames finished
    by an earlier run go straight to the output. With ``batch_frames`` > 1 the frames from one
    segment anchor to the next (see :mod:`.schedule`) go through one rolling batch (:mod:`.rolling`).
    """
    resume_at = _resume_point(work, done)
    early = EarlyStop() if config.early_stop else None
    prepared = prefetch(prepare_frames(frames, engine.prepare_content, config.flow_method, flows_from=resume_at))
    seconds = {"waiting_for_frames": 0.0, "optimising": 0.0}
    previous_stylised = work.load_frame(resume_at - 1)[0] if resume_at > 0 else None
    with closing(prepared), _FrameWriter(work, output) as writer:
        items = _Lookahead(_frames_to_stylise(prepared, resume_at, writer, seconds))
        while (item := items.peek()) is not None:
            position = item.frame.position
            began, waited_before = time.perf_counter(), seconds["waiting_for_frames"]
            if config.batch_frames == 1 or position in (0, config.gif_frame):
                items.take()
                previous_stylised = _optimise_one(item, previous_stylised, engine, work, config, early, progress, writer)
                last = position
            else:
                every = segment_frames(config.batch_frames)
                segment = items.take_while(lambda p: p == position or not starts_segment(p, every, config.gif_frame))
                previous_stylised, last = _optimise_segment(segment, previous_stylised, engine, config, early, progress, writer, stop_requested)
            seconds["optimising"] += time.perf_counter() - began - (seconds["waiting_for_frames"] - waited_before)
            if stop_requested():
                writer.flush()
                raise Interrupted(
                    f"stopped after frame {last + 1}; its work is saved — run the same command again to resume"
                )
        waited = time.perf_counter()
        writer.flush()
        seconds["waiting_for_writes"] = time.perf_counter() - waited
    return seconds


def _frames_to_stylise(prepared: Iterator[PreparedFrame], resume_at: int, writer: _FrameWriter,
                       seconds: dict[str, float]) -> Iterator[PreparedFrame]:
    """The frames from ``resume_at`` on; earlier ones (finished by an earlier run) go to the writer."""
    while True:
        waited = time.perf_counter()
        item = next(prepared, None)
        seconds["waiting_for_frames"] += time.perf_counter() - waited
        if item is None:
            return
        if item.frame.position < resume_at:
            writer.finished_earlier(item)
        else:
            yield item


class _Lookahead:
    """An iterator of prepared frames that can show its next item before handing it out."""

    def __init__(self, items: Iterator[PreparedFrame]) -> None:
        self._items, self._next = items, next(items, None)

    def peek(self) -> PreparedFrame | None:
        return self._next

    def take(self) -> PreparedFrame | None:
        item, self._next = self._next, next(self._items, None)
        return item

    def take_while(self, keep: Callable[[int], bool]) -> Iterator[PreparedFrame]:
        """Hand out items while ``keep(position)`` holds, lazily (frames are pulled as they are needed)."""
        while self._next is not None and keep(self._next.frame.position):
            yield self.take()


def _resume_point(work: WorkFolder, done: int) -> int:
    """The first frame to stylise: ``done``, or the start of a rolling segment that a kill cut short.

    The frames of a segment depend on each other while in flight, so a run that resumed in the
    middle of one would not repeat an uninterrupted run; the whole segment is redone instead.
    """
    if done == 0:
        return 0
    first, closed = work.load_frame(done - 1)[1].get("segment", [done - 1, True])
    return done if closed else first


def _optimise_one(item: PreparedFrame, previous_stylised: np.ndarray | None, engine: StyleTransfer, work: WorkFolder,
                  config: VideoConfig, early: EarlyStop | None, progress: Progress, writer: _FrameWriter) -> np.ndarray:
    """Stylise one frame on its own (frame 1, the progress GIF's frame, or every frame with --batch-frames 1)."""
    position = item.frame.position
    first = position == 0 or config.frame_init == "independent"
    iters = config.style.iters if first else config.frame_iters
    init: np.ndarray | None = None
    temporal = None
    if not first:
        assert previous_stylised is not None
        warped = warp_into(previous_stylised, item.flow_bw)
        init = warped if config.frame_init == "prev-warped" else previous_stylised
        weight = temporal_weight_for(config, item.content.shape[1], item.content.shape[0])
        if weight > 0:
            temporal = TemporalGuide(warped, item.reliable, weight)
    want_snapshots = position == config.gif_frame
    progress.frame_started(position, iters)
    result = engine.stylize(
        item.content,
        init=init,
        iters=iters,
        seed=config.style.seed + position,
        temporal=temporal,
        snapshot_at=[0, *snapshot_iterations(iters)] if want_snapshots else (),
        on_report=lambda i, losses: progress.iteration(position, i, losses),
        early_stop=None if first else early,
    )
    if want_snapshots:
        work.save_history(result.history, result.snapshots)
    stats = _frame_stats(item, previous_stylised, result.picture, result.iterations, result.seconds, result.final)
    if engine.cuda_graphs:
        stats.update(replayed=result.replayed, graph_failure=result.graph_failure)
    writer.stylised(item, result.picture, stats)
    progress.frame_done(position, stats)
    return result.picture


def _optimise_segment(segment: Iterator[PreparedFrame], previous_stylised: np.ndarray | None, engine: StyleTransfer,
                      config: VideoConfig, early: EarlyStop | None, progress: Progress, writer: _FrameWriter,
                      stop_requested) -> tuple[np.ndarray, int]:
    """Stylise a segment of consecutive frames through one rolling batch; returns the last picture and position."""
    independent = config.frame_init == "independent"
    opening = next(segment)
    height, width = opening.content.shape[:2]
    settings = RollingSettings(
        slots=config.batch_frames,
        frame_iters=config.style.iters if independent else config.frame_iters,
        temporal_weight=0.0 if independent else temporal_weight_for(config, width, height),
        early_stop=None if independent else early,
        from_previous=not independent,
        warp_init=config.frame_init == "prev-warped",
    )

    def report(positions: list[int], iteration: int, losses: dict[str, float]) -> None:
        progress.frame_started(positions[0], settings.frame_iters, frames=len(positions))
        progress.iteration(positions[0], iteration, losses)

    last = opening.frame.position
    try:
        batch = RollingBatch(engine, settings, height, width)  # its L-BFGS history: 2·history·K frames of memory
        finished = stylize_rolling(batch, itertools.chain([opening], segment), previous_stylised,
                                   seed_of=lambda p: config.style.seed + p, stop_admitting=stop_requested, report=report)
        for done in finished:
            stats = _frame_stats(done.prepared, previous_stylised, done.picture, done.iterations, done.seconds, done.final)
            stats["segment"] = [opening.frame.position, done.closes_run]
            if engine.cuda_graphs:
                stats.update(replayed=done.replayed, graph_failure=batch.graph_failure)
            writer.stylised(done.prepared, done.picture, stats)
            progress.frame_done(done.prepared.frame.position, stats)
            previous_stylised, last = done.picture, done.prepared.frame.position
    except torch.cuda.OutOfMemoryError:
        raise engine.out_of_memory(opening.content, config.batch_frames) from None
    assert previous_stylised is not None
    return previous_stylised, last


def _frame_stats(item: PreparedFrame, previous_stylised: np.ndarray | None, picture: np.ndarray, iterations: int,
                 seconds: float, final: dict[str, float]) -> dict[str, Any]:
    """What the work folder keeps of a finished frame (and run.json's per-frame row)."""
    frame = item.frame
    error = (pair_warping_error(previous_stylised, picture, item)
             if previous_stylised is not None and item.flow_bw is not None else None)
    return {"frame": frame.position, "source_index": frame.index, "time": frame.time, "name": frame.name,
            "iterations": iterations, "seconds": seconds, "warping_error": error, **final}


class _FrameWriter:
    """Writes frames on one background thread, in order: new ones into the work folder, all to the output.

    A failed write (a full disk, say) is raised at the next call or at :meth:`flush`; at most
    ``max_pending`` frames wait, so a slow encoder holds the optimiser back instead of filling
    memory. Leaving the ``with`` block waits for every queued write.
    """

    def __init__(self, work: WorkFolder, output: VideoOutput, max_pending: int = 8) -> None:
        self._work, self._output, self._max_pending = work, output, max_pending
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stylevid-write")
        self._pending: list[Future] = []

    def stylised(self, item: PreparedFrame, picture: np.ndarray, stats: dict[str, Any]) -> None:
        """A frame just stylised: save it for resuming, then write it out."""
        def write() -> None:
            self._work.save_frame(item.frame.position, picture, stats)
            self._output.add(item.frame, item.content, picture, stats)

        self._submit(write)

    def finished_earlier(self, item: PreparedFrame) -> None:
        """A frame stylised by an earlier run: load it from the work folder and write it out."""
        def write() -> None:
            stylised, stats = self._work.load_frame(item.frame.position)
            self._output.add(item.frame, item.content, stylised, stats)

        self._submit(write)

    def _submit(self, job) -> None:
        while len(self._pending) >= self._max_pending or (self._pending and self._pending[0].done()):
            self._pending.pop(0).result()  # raises the write's error, if any
        self._pending.append(self._pool.submit(job))

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        for write in pending:
            write.result()

    def __enter__(self) -> _FrameWriter:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        try:
            if kind is None:
                self.flush()
        finally:
            self._pool.shutdown(wait=True)  # after an error too: frames already finished reach the disk


def _finalise(output: VideoOutput, source: FrameSource, engine: StyleTransfer, work: WorkFolder, config: VideoConfig, out_dir: Path, stages: dict[str, float]) -> VideoResult:
    """Renders (GIFs, plots) and the run record, once every frame is written."""
    began = time.perf_counter()
    rows, processing_shape = output.rows, output.processing_shape
    if not rows:
        raise StylevidError(f"no frames were stylised from {source.path}")
    files = dict(output.files)
    files.update(_renders(work, config, source, out_dir, rows, output.preview))
    mean_style = float(np.mean([r["style"] for r in rows]))
    pair_errors = [r["warping_error"] for r in rows[1:]]
    warping = math.fsum(pair_errors) / len(pair_errors) if pair_errors else None
    record = run_record(
        kind="video",
        input=source.describe(),
        output=str(files.get("video") or files.get("frames")),
        config=_config_dict(config),
        device=str(engine.device),
        precision=engine.precision,
        precision_reason=precision_choice(engine.config.precision, engine.device)[1],
        processing_size=list(processing_shape[::-1]),
        style_weight=engine.style_weight_for(np.empty((*processing_shape, 3), np.uint8)),
        temporal_weight=temporal_weight_for(config, processing_shape[1], processing_shape[0]),
        frames=len(rows),
        seconds={"optimise": stages["total"], "optimise_stages": {k: v for k, v in stages.items() if k not in ("total", "closing_output")},
                 "finalise": stages["closing_output"] + time.perf_counter() - began,
                 "per_frame_mean": float(np.mean([r["seconds"] for r in rows]))},
        warping_error=warping,
        mean_style_loss=mean_style,
        mean_content_loss=float(np.mean([r["content"] for r in rows])),
        mean_iterations=float(np.mean([r["iterations"] for r in rows])),
        cuda_graph=_graph_summary(rows) if engine.cuda_graphs else None,
        per_frame=rows,
    )
    files["record"] = write_json(out_dir / "run.json", record)
    return VideoResult(output.output, len(rows), warping, mean_style, record, files)


def _graph_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """run.json's account of --cuda-graphs: iterations replayed, and each distinct reason a graph fell back.

    Rows from a run before this one (a resumed run) may lack the fields; they count as not replayed."""
    failures: dict[str, list[int]] = {}
    for row in rows:
        if row.get("graph_failure"):
            failures.setdefault(row["graph_failure"], []).append(row["frame"])
    return {
        "replayed_iterations": sum(row.get("replayed", 0) for row in rows),
        "iterations": sum(row["iterations"] for row in rows),
        "failures": [{"reason": reason, "frames": frames} for reason, frames in failures.items()],
    }


def _renders(work: WorkFolder, config: VideoConfig, source: FrameSource, out_dir: Path, rows, preview) -> dict[str, Path]:
    files: dict[str, Path] = {}
    title = _title(config)
    history, snapshots = work.load_history()
    if snapshots:
        files["progress_gif"] = save_progress_gif(snapshots, out_dir / "progress.gif")
    if history:
        files["loss_plot"] = save_loss_plot(history, out_dir / "losses.png", title=f"frame {config.gif_frame + 1} — {title}")
    files["frame_plot"] = save_per_frame_plot(
        [{k: r.get(k) for k in ("frame", "total", "content", "style", "tv", "temporal", "iterations", "warping_error")} for r in rows],
        out_dir / "frame_losses.png",
        title=f"per frame — {title}",
    )
    files["preview_gif"] = save_clip_gif(preview, out_dir / "preview.gif", fps=float(source.fps) / config.every)
    return files


def _title(config: VideoConfig) -> str:
    s = config.style
    return (f"{s.size}px, {s.optimizer} {s.iters}/{config.frame_iters} it, init {config.frame_init}, "
            f"α={s.content_weight:g}, β={'auto' if s.style_weight is None else f'{s.style_weight:g}'}, "
            f"λt={'auto' if config.temporal_weight is None else f'{config.temporal_weight:g}'}, pooling {s.pooling}"
            + (f", {config.batch_frames} frames in flight" if config.batch_frames > 1 else ""))


def _config_dict(config: VideoConfig) -> dict[str, Any]:
    data = asdict(config)
    data["fps"] = None if config.fps is None else str(config.fps)
    return data


def _fingerprint(source: FrameSource, config: VideoConfig, styles: list[np.ndarray]) -> dict[str, Any]:
    """Everything that changes the stylised frames; encoding-only settings are left out."""
    style = config.style.to_dict()
    style.pop("device", None)
    digest = hashlib.sha256()
    for picture in styles:
        digest.update(np.ascontiguousarray(picture).tobytes())
    if source.path.is_file():
        identity = f"{source.path.stat().st_size} bytes"
    else:  # a folder: its frame files' names and sizes
        files = hashlib.sha256("\n".join(f"{p.name}:{p.stat().st_size}" for p in source.files).encode())
        identity = f"frames sha256 {files.hexdigest()}"
    flat = {f"style.{k}": v for k, v in style.items()}
    flat.update({
        "input": str(source.path.resolve()),
        "input_identity": identity,
        "fps": None if config.fps is None else str(config.fps),
        "styles_sha256": digest.hexdigest(),
        "frame_iters": config.frame_iters,
        "batch_frames": config.batch_frames,
        "frame_init": config.frame_init,
        "temporal_weight": config.temporal_weight,
        "flow_method": config.flow_method,
        "early_stop": config.early_stop,
        "start": config.start,
        "end": config.end,
        "every": config.every,
        "gif_frame": config.gif_frame,
    })
    return flat


@contextmanager
def _finish_frame_on_ctrl_c() -> Iterator[Any]:
    """First Ctrl-C: finish and save the frame in flight, then stop. Second: stop at once."""
    requested = {"stop": False}
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):  # noqa: ARG001
        if requested["stop"]:
            raise KeyboardInterrupt
        requested["stop"] = True

    try:
        signal.signal(signal.SIGINT, handler)
        installed = True
    except ValueError:  # not the main thread: leave Ctrl-C alone
        installed = False
    try:
        yield lambda: requested["stop"]
    finally:
        if installed:
            signal.signal(signal.SIGINT, previous)
