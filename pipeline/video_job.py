"""Stylise a video or a frame folder with temporal coherence, resumably.

Data flow, one direction: frame source → frames at processing size with their optical flow
(prepared ahead, on a background thread) → optimiser (:mod:`.video.steps`) → writer thread:
work folder (lossless PNG per frame, atomic) and output (encoded video or frame folder) →
finalise: renders and run record. The optimiser never sees PyAV.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .budget import PeakMemory, estimate_for_input, run_device
from .config import VideoConfig
from .engine.transfer import StyleTransfer
from .errors import StylevidError
from .io.folder_lock import output_folder_lock
from .io.paths import create_output_folder
from .progress import Progress
from .validation import validate_run
from .video.finalise import finalise
from .video.fingerprint import settings_fingerprint
from .video.frame_pairs import PreparedFrame, prepare_frames
from .video.frames import Frame, FrameSource, frames_until_damage, open_source, with_first_frame_checked
from .video.given_motion import RunFlow, open_given_flow
from .video.lookahead import Lookahead
from .video.output import VideoOutput
from .video.passes import PassStore, keep_contents, run_passes
from .video.prefetch import prefetch
from .video.schedule import segment_frames, starts_segment
from .video.signals import StopRequest, exit_code_for, finish_frame_on_signals, signal_name
from .video.steps import FrameSteps
from .video.workdir import WorkFolder
from .video.writer import FrameWriter


class Interrupted(StylevidError):
    """A stop signal (Ctrl-C, SIGTERM, SIGHUP): the frame in flight was finished and saved; rerunning resumes.

    ``exit_code`` is 128 + the signal's number: 130, 143 or 129.
    """

    def __init__(self, message: str, signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.signum = int(signum)
        self.exit_code = exit_code_for(signum)


@dataclass
class VideoResult:
    """What :func:`stylize_video` made."""

    output: Path  # the video file or the frame folder
    frames: int  # frames stylised
    warping_error: float | None  # mean over consecutive pairs (Lai et al. 2018)
    mean_style_loss: float  # mean over frames of the final (weighted) style loss
    record: dict[str, Any]  # what run.json holds
    files: dict[str, Path]  # name → path of every file written


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
    """Stylise every selected frame of ``input_path`` into ``out_dir`` (see the module doc).

    Frames finished by an earlier run with the same settings are reused unless ``restart``.
    """
    if validate_run(input_path, styles, out_dir, config) == "batch":
        raise StylevidError(
            f"the pictures of {input_path} differ in size: a batch of photos, not a video; "
            "stylise them with stylize_photos"
        )
    source = open_source(Path(input_path), start=config.start, end=config.end, every=config.every, fps=config.fps)
    given_flow = open_given_flow(source, config)  # --flow-dir: every pair's file, checked before any work
    damage: list[StylevidError] = []
    frames = with_first_frame_checked(frames_until_damage(source, damage))  # an empty window: one line, no display
    out_dir = Path(out_dir)
    create_output_folder(out_dir)
    with output_folder_lock(out_dir):  # before anything in the folder changes (--restart deletes .work)
        return _stylize_into(
            source, frames, damage, styles, out_dir, config, restart, progress or Progress(), engine, given_flow
        )


def _stylize_into(
    source: FrameSource,
    frames: Iterator[Frame],
    damage: list[StylevidError],
    styles: list[np.ndarray],
    out_dir: Path,
    config: VideoConfig,
    restart: bool,
    progress: Progress,
    engine: StyleTransfer | None,
    given_flow: RunFlow | None,
) -> VideoResult:
    """The run itself, in the output folder this process holds."""
    peak = PeakMemory(run_device(config.style.device)).start()
    kind = config.output_kind(source.kind)
    engine = engine or StyleTransfer(config.style, styles)
    work = WorkFolder(out_dir / ".work")
    done = work.open(settings_fingerprint(source, config, styles), restart=restart)
    began = time.perf_counter()
    output = VideoOutput(source, config, kind, out_dir)
    passes: list[dict[str, Any]] | None = None  # each pass's summary (--passes > 1)
    try:
        with finish_frame_on_signals() as stop_requested:
            progress.begin(source.expected_count(), done)
            if config.passes == 1:
                stages = _optimise_frames(
                    frames, engine, work, output, config, done, progress, stop_requested, given_flow
                )
            else:  # Ruder et al.'s multi-pass (video/passes.py): pass 1 is the run above, into the work folder only
                stages, passes = run_passes(
                    lambda sink: _optimise_frames(
                        frames, engine, work, sink, config, done, progress, stop_requested, given_flow
                    ),
                    lambda: frames_until_damage(source, []),
                    engine,
                    work,
                    output,
                    config,
                    progress,
                    lambda number, position: _stop_if_requested(stop_requested, position, number),
                )
        stages["total"] = time.perf_counter() - began
        progress.stage("encoding" if kind == "video" else "writing frames")
        closing_began = time.perf_counter()
        output.close()
        stages["closing_output"] = time.perf_counter() - closing_began
    except BaseException:
        output.abort()
        raise
    estimate = estimate_for_input(source.path, source.kind, styles, config, str(engine.device), engine.precision)
    record, files = finalise(
        output, source, engine, work, config, out_dir, stages, memory=peak.record(estimate), passes=passes
    )
    result = VideoResult(
        output.output, record["frames"], record["warping_error"], record["mean_style_loss"], record, files
    )
    if damage:
        raise StylevidError(f"{damage[0]}; the {result.frames} frames before it were stylised into {result.output}")
    return result


def _optimise_frames(
    frames: Iterator[Frame],
    engine: StyleTransfer,
    work: WorkFolder,
    output: VideoOutput,
    config: VideoConfig,
    done: int,
    progress: Progress,
    stop_requested: StopRequest,
    given_flow: RunFlow | None = None,
) -> dict[str, float]:
    """Stylise the frames from ``done`` on into ``work`` and send every frame to ``output``.

    Returns seconds spent per stage. Decoding, resizing and optical flow run on a background
    thread ahead of the optimiser, and finished frames are written (work folder, then output)
    by another, so the optimiser (the GPU, when there is one) waits for neither. Frames finished
    by an earlier run go straight to the output. With ``batch_frames`` > 1 the frames from one
    segment anchor to the next (see :mod:`.video.schedule`) go through one rolling batch. A frame
    that opens a shot (frame 0, or the first after a cut) is stylised on its own, afresh.
    """
    resume_at = work.resume_point(done)
    made = prepare_frames(
        frames,
        engine.prepare_content,
        config.flow_method,
        flows_from=resume_at,
        cuts=config.cuts,
        given=given_flow,
        long_term=config.long_term,
        device=engine.device,
    )
    if config.passes > 1:  # the later passes read every frame at processing size back from the work folder
        made = keep_contents(made, PassStore(work))
    prepared = prefetch(made)
    seconds = {"waiting_for_frames": 0.0, "optimising": 0.0}
    previous_stylised = work.load_frame(resume_at - 1)[0] if resume_at > 0 else None
    with closing(prepared), FrameWriter(work, output) as writer, engine.keeping_graphs():
        steps = FrameSteps(engine, config, work, writer, progress, stop_requested)
        if len(config.long_term) > 1:  # --long-term: the frames it reaches back to, as an uninterrupted run has them
            steps.recent.reload(work, resume_at)
        items = Lookahead(_frames_to_stylise(prepared, resume_at, writer, seconds))
        while (item := items.peek()) is not None:
            position = item.frame.position
            began, waited_before = time.perf_counter(), seconds["waiting_for_frames"]
            if config.batch_frames == 1 or position == config.gif_frame or item.opens_shot:
                items.take()
                previous_stylised, last = steps.one(item, previous_stylised), position
            else:
                every = segment_frames(config.batch_frames)
                segment = items.take_while(_in_segment(position, every, config.gif_frame))
                previous_stylised, last = steps.segment(segment, previous_stylised)
            seconds["optimising"] += time.perf_counter() - began - (seconds["waiting_for_frames"] - waited_before)
            if stop_requested.signum is not None:
                writer.flush()
                _stop_if_requested(stop_requested, last)
        waited = time.perf_counter()
        writer.flush()
        seconds["waiting_for_writes"] = time.perf_counter() - waited
    return seconds


def _stop_if_requested(stop_requested: StopRequest, last: int, pass_number: int = 1) -> None:
    """Raise :class:`Interrupted` when a stop signal came; frame ``last`` (0-based) is saved."""
    if stop_requested.signum is None:
        return
    by = "" if stop_requested.signum == signal.SIGINT else f" by {signal_name(stop_requested.signum)}"
    where = f" in pass {pass_number}" if pass_number > 1 else ""
    raise Interrupted(
        f"stopped{by}{where} after frame {last + 1}; its work is saved — run the same command again to resume",
        stop_requested.signum,
    )


def _in_segment(first: int, every: int, gif_frame: int) -> Callable[[PreparedFrame], bool]:
    """Whether a frame belongs to the segment that opens at ``first`` (a segment never spans a cut)."""
    return lambda item: (
        item.frame.position == first or not starts_segment(item.frame.position, every, gif_frame, item.shot_start)
    )


def _frames_to_stylise(
    prepared: Iterator[PreparedFrame], resume_at: int, writer: FrameWriter, seconds: dict[str, float]
) -> Iterator[PreparedFrame]:
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
