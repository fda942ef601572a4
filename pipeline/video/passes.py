"""Multi-pass stylisation (Ruder, Dosovitskiy & Brox 2016, Sec. 3.3): ``--passes N``.

Pass 1 is the ordinary sequential run (:mod:`.steps`), forward through each shot; its frames go
to the work folder only. Passes 2…N run through each shot in alternating directions (2 backward,
3 forward, …). In pass k, frame i starts from a blend of its neighbour n already done in this pass
(i+1 going backward, i−1 going forward), warped onto i, and its own result of pass k−1:

    x'_i = δ·c·ω(x_n) + (1 − δ·c)·x_i^(k−1)        (δ = :data:`PASS_BLEND`, c = reliability of the flow n → i)

then gets ``--pass-iters`` iterations with the temporal loss towards ω(x_n) where c = 1. The
frame that opens a shot in the pass's direction has no neighbour: it starts from its previous
result, without a temporal term. No pass crosses a scene cut: each shot is its own sequence.
Once the last pass is done its frames are sent, in order, to the output (the source is decoded
again for timestamps and names), and the warping error of every pass is measured on the
consecutive pairs, with the run's flow, as for a one-pass run.

What later passes need lives in the work folder, never in RAM: the frames at processing size
(``.work/contents/``, lossless PNG, written during pass 1), and each pass's frames
(``.work/pass2/frames/`` …; pass 1's are ``.work/frames/``). The flows are estimated again from
the stored frames, the same pairs giving the same flows. ``.work/passes.json`` marks pass 1 done
(with its frame count); a frame of a later pass is done when its file exists, so a killed run
resumes at the first missing frame of the pass it was in, with the same result.
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from ..engine.optimize import EarlyStop
from ..engine.transfer import StyleTransfer, TemporalGuide
from ..errors import StylevidError
from ..io.images import atomic_write
from ..io.record import write_json
from ..motion.cuts import shots
from ..motion.flow import FlowEstimator
from ..progress import Progress
from .frame_pairs import PreparedFrame, pair_warping_error, warp_into
from .frames import Frame
from .output import VideoOutput
from .prefetch import prefetch
from .steps import temporal_weight_for
from .workdir import WorkFolder

if TYPE_CHECKING:
    from ..config import VideoConfig

#: δ of Ruder et al. (2016), eq. (8): the share of the warped neighbour in a reliable pixel's start.
PASS_BLEND = 0.5


def direction_of(number: int) -> str:
    """Pass 1, 3, 5 … run forward; 2, 4 … backward."""
    return "forward" if number % 2 == 1 else "backward"


def blend_start(previous_pass: np.ndarray, warped_neighbour: np.ndarray, reliable: torch.Tensor) -> np.ndarray:
    """x' = δ·c·ω(x_n) + (1 − δ·c)·x_prev, rounded to uint8 like every stylised frame (pure arithmetic)."""
    share = PASS_BLEND * reliable[0, 0].detach().cpu().numpy().astype(np.float32)[..., None]
    mixed = share * warped_neighbour.astype(np.float32) + (1.0 - share) * previous_pass.astype(np.float32)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def pass_order(shot_list: list[tuple[int, int]], direction: str) -> list[tuple[int, int | None]]:
    """(frame, neighbour it follows in this pass, or None for the shot's opening in this direction)."""
    order: list[tuple[int, int | None]] = []
    for first, last in shot_list:
        if direction == "forward":
            order += [(p, None if p == first else p - 1) for p in range(first, last + 1)]
        else:
            order += [(p, None if p == last else p + 1) for p in range(last, first - 1, -1)]
    return order


class PassStore:
    """The multi-pass part of a work folder: frames at processing size, and one frame folder per pass."""

    def __init__(self, work: WorkFolder) -> None:
        self.work = work
        self.contents_dir = work.root / "contents"
        self.marker = work.root / "passes.json"

    def folder(self, number: int) -> WorkFolder:
        """Where pass ``number``'s frames live (pass 1: the work folder itself)."""
        if number == 1:
            return self.work
        folder = WorkFolder(self.work.root / f"pass{number}")
        folder.frames_dir.mkdir(parents=True, exist_ok=True)
        return folder

    def content_path(self, position: int) -> Path:
        return self.contents_dir / f"{position:06d}.png"

    def save_content(self, position: int, content: np.ndarray) -> None:
        """Frame ``position`` at processing size, kept for the later passes (once; atomic)."""
        path = self.content_path(position)
        if path.exists():
            return
        self.contents_dir.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        Image.fromarray(content).save(buffer, format="PNG", compress_level=1)
        atomic_write(path, lambda handle: handle.write(buffer.getvalue()))

    def load_content(self, position: int) -> np.ndarray:
        path = self.content_path(position)
        try:
            with Image.open(path) as image:
                return np.asarray(image.convert("RGB")).copy()
        except (OSError, ValueError) as error:
            raise StylevidError(f"work file {path} is missing or damaged ({error}); run again with --restart") from None

    def first_pass_frames(self) -> int | None:
        """How many frames pass 1 stylised, once it is complete (None before)."""
        if not self.marker.exists():
            return None
        return int(json.loads(self.marker.read_text(encoding="utf-8"))["frames"])

    def mark_first_pass(self, frames: int) -> None:
        write_json(self.marker, {"frames": frames})

    def clear_leftovers(self) -> None:
        """Temp files of writes cut short by a kill, in the contents and pass folders."""
        for leftover in [*self.work.root.glob(".passes.json.*.partial"), *self.work.root.glob("*/.*.partial")]:
            leftover.unlink(missing_ok=True)
        for leftover in self.work.root.glob("pass*/frames/.*.partial"):
            leftover.unlink(missing_ok=True)


def keep_contents(prepared: Iterator[PreparedFrame], store: PassStore) -> Iterator[PreparedFrame]:
    """``prepared`` unchanged, each frame's processing-size picture saved for the later passes."""
    for item in prepared:
        store.save_content(item.frame.position, item.content)
        yield item


class FirstPassSink(VideoOutput):
    """Pass 1's frames reach the work folder only; the output gets the last pass's."""

    def add(self, frame: Frame, content: np.ndarray, stylised: np.ndarray, stats: dict[str, Any]) -> None:
        return None


@dataclass
class _Work:
    position: int
    neighbour: int | None
    content: np.ndarray
    flow_bw: torch.Tensor | None  # onto this frame from its neighbour in the pass
    reliable: torch.Tensor | None


def _motions(order: list[tuple[int, int | None]], store: PassStore, flow_method: str) -> Iterator[_Work]:
    """Each frame still to do with the flow from its neighbour (estimated again from the stored frames)."""
    flow = FlowEstimator(flow_method)
    for position, neighbour in order:
        content = store.load_content(position)
        if neighbour is None:
            yield _Work(position, None, content, None, None)
        else:
            flow_bw, reliable = flow.reliable_backward(store.load_content(neighbour), content)
            yield _Work(position, neighbour, content, flow_bw, reliable)


def run_later_passes(
    engine: StyleTransfer,
    config: VideoConfig,
    store: PassStore,
    frames: int,
    progress: Progress,
    check_stop: Callable[[int, int], None],
) -> float:
    """Passes 2…N over the ``frames`` frames pass 1 made; returns the seconds spent.

    ``check_stop(pass, position)`` runs after every saved frame (it raises to stop the run).
    """
    began = time.perf_counter()
    first_rows = [store.work.load_frame(p)[1] for p in range(frames)]
    cuts = [r["frame"] for r in first_rows if r["frame"] > 0 and r.get("shot", 0) == r["frame"]]
    shot_list = shots(cuts, frames)
    iters = config.later_pass_iters
    early = EarlyStop() if config.early_stop else None
    for number in range(2, config.passes + 1):
        folder, previous = store.folder(number), store.folder(number - 1)
        direction = direction_of(number)
        order = pass_order(shot_list, direction)
        todo = [(p, n) for p, n in order if not folder.frame_path(p).exists()]
        progress.pass_started(number, config.passes, frames, frames - len(todo))
        last: tuple[int, np.ndarray] | None = None  # the frame just made, to spare reading it back
        with closing(prefetch(_motions(todo, store, config.flow_method))) as work_items:
            for item in work_items:
                position = item.position
                start = previous.load_frame(position)[0]
                temporal = None
                if item.neighbour is not None:
                    assert item.flow_bw is not None and item.reliable is not None
                    just_made = last is not None and last[0] == item.neighbour
                    neighbour = last[1] if just_made and last is not None else folder.load_frame(item.neighbour)[0]
                    warped = warp_into(neighbour, item.flow_bw)  # the temporal target: always bilinear
                    sharp = config.init_sampling != "bilinear"
                    start_from = warp_into(neighbour, item.flow_bw, config.init_sampling) if sharp else warped
                    start = blend_start(start, start_from, item.reliable)
                    weight = temporal_weight_for(config, item.content.shape[1], item.content.shape[0])
                    if weight > 0:
                        temporal = TemporalGuide(warped, item.reliable, weight)
                progress.frame_started(position, iters)

                def report(iteration: int, losses: dict[str, float], position: int = position) -> None:
                    progress.iteration(position, iteration, losses)

                result = engine.stylize(
                    item.content,
                    init=start,
                    iters=iters,
                    seed=config.style.seed + position,
                    temporal=temporal,
                    on_report=report,
                    early_stop=early,
                )
                row = first_rows[position]
                stats: dict[str, Any] = {
                    **{k: row[k] for k in ("frame", "source_index", "time", "name", "shot") if k in row},
                    "pass": number,
                    "direction": direction,
                    "follows": item.neighbour,  # the neighbour it was started from and held to (None: none)
                    "iterations": result.iterations,
                    "seconds": result.seconds,
                    "warping_error": None,  # measured on the consecutive pairs once the last pass is done
                    **result.final,
                }
                folder.save_frame(position, result.picture, stats)
                progress.frame_done(position, stats)
                last = (position, result.picture)
                check_stop(number, position)
    return time.perf_counter() - began


def emit_last_pass(
    frames: Iterator[Frame], count: int, store: PassStore, config: VideoConfig, output: VideoOutput
) -> list[dict[str, Any]]:
    """Send the last pass's ``count`` frames to ``output`` in order; return each pass's summary for run.json.

    ``frames``: the source decoded again (timestamps, names, the original for --output-size original).
    The warping error of every pass is measured on the consecutive pairs with the run's flow, so
    the passes compare with each other and with a one-pass run.
    """
    flow = FlowEstimator(config.flow_method)
    folders = [store.folder(number) for number in range(1, config.passes + 1)]
    errors: list[list[float]] = [[] for _ in folders]
    rows: list[list[dict[str, Any]]] = [[] for _ in folders]
    before: tuple[np.ndarray, list[np.ndarray]] | None = None  # (content, each pass's picture) of the frame before
    for frame in islice(frames, count):
        position = frame.position
        content = store.load_content(position)
        loaded = [folder.load_frame(position) for folder in folders]
        pictures = [picture for picture, _ in loaded]
        opens_shot = loaded[0][1].get("shot", 0) == position
        pair_errors: list[float | None] = [None] * len(folders)
        if before is not None and not opens_shot:
            flow_bw, reliable = flow.reliable_backward(before[0], content)
            pair = PreparedFrame(frame, content, flow_bw, reliable, loaded[0][1].get("shot", 0))
            pair_errors = [pair_warping_error(b, p, pair) for b, p in zip(before[1], pictures, strict=True)]
        for k, ((_, stats), error) in enumerate(zip(loaded, pair_errors, strict=True)):
            rows[k].append(stats)
            if error is not None:
                errors[k].append(error)
        output.add(frame, content, pictures[-1], {**loaded[-1][1], "warping_error": pair_errors[-1]})
        before = (content, pictures)
    return [
        {
            "pass": number,
            "direction": direction_of(number),
            "iterations_budget": config.frame_iters if number == 1 else config.later_pass_iters,
            "seconds": math.fsum(r["seconds"] for r in pass_rows),  # optimisation, summed over its frames
            "mean_iterations": float(np.mean([r["iterations"] for r in pass_rows])),
            "mean_style_loss": float(np.mean([r["style"] for r in pass_rows])),
            "mean_content_loss": float(np.mean([r["content"] for r in pass_rows])),
            "warping_error": math.fsum(e) / len(e) if e else None,
        }
        for number, (pass_rows, e) in enumerate(zip(rows, errors, strict=True), start=1)
    ]


def run_passes(
    first_pass: Callable[[VideoOutput], dict[str, float]],
    frames_again: Callable[[], Iterator[Frame]],
    engine: StyleTransfer,
    work: WorkFolder,
    output: VideoOutput,
    config: VideoConfig,
    progress: Progress,
    check_stop: Callable[[int, int], None],
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """The whole multi-pass run: pass 1 (unless done), passes 2…N, then the last pass to ``output``.

    ``first_pass(sink)``: the ordinary run into the work folder, its frames sent to ``sink``;
    ``frames_again()``: the source's frames decoded again. Returns seconds per stage and the
    per-pass summaries for run.json.
    """
    store = PassStore(work)
    store.clear_leftovers()
    stages: dict[str, float] = {}
    frames = store.first_pass_frames()
    if frames is None:
        progress.pass_started(1, config.passes, output.source.expected_count(), work.done_count())
        sink = FirstPassSink(output.source, output.config, output.kind, output.out_dir)
        stages.update(first_pass(sink))
        frames = work.done_count()
        store.mark_first_pass(frames)
    stages["later_passes"] = run_later_passes(engine, config, store, frames, progress, check_stop)
    began = time.perf_counter()
    progress.stage(f"pass {config.passes} done: writing frames")
    summaries = emit_last_pass(frames_again(), frames, store, config, output)
    stages["sending_last_pass"] = time.perf_counter() - began
    return stages, summaries
