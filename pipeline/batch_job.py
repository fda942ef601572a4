"""Stylise a folder of photos one by one, each at its own size, resumably.

A batch (``--frame-init independent`` on a folder whose pictures differ in size, see
:func:`.validation.check_folder`) is a loop over photos: decode one, stylise it with the one
engine (VGG and style targets built once, :func:`.batch.photo.stylise_photo`), write
``<stem>_stylised.png`` stamped with its settings (:mod:`.batch.outputs`). Photos whose output an
earlier run with the same settings wrote are skipped. With ``--workers``/``--cluster`` the photos
are spread over Ray workers (:mod:`.scale.photos`); the driver still reads and writes them all.
run.json, rewritten after every photo, lists them all. A photo that cannot be read or stylised is
noted and the batch goes on; the run then ends with one line naming it. Ctrl-C finishes and saves
the photo in flight. With --each-style (:func:`stylize_photos_each_style`) each style alone makes a
batch of its own folder; the styles share one network, or on Ray every (photo, style) pair is a task.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .batch.outputs import PlannedPhoto, batch_settings, photo_identity, plan_photos, save_output
from .batch.photo import StylisedPhoto, stylise_photo
from .config import VideoConfig
from .engine.device import precision_choice
from .engine.transfer import StyleTransfer
from .errors import StylevidError
from .io.folder import select_pictures
from .io.folder_lock import output_folder_lock
from .io.images import load_image, resize
from .io.paths import create_output_folder
from .io.record import run_record, write_json
from .progress import Progress
from .validation import validate_run
from .video.signals import StopRequest, finish_frame_on_signals, signal_name
from .video_job import Interrupted


@dataclass
class PhotoBatchResult:
    """What :func:`stylize_photos` made."""

    output: Path  # the output folder
    outputs: list[Path]  # every photo's stylised picture, in the photos' order
    stylised: int  # photos stylised by this run
    done_earlier: int  # photos an earlier run with the same settings had stylised (skipped)
    record: dict[str, Any]  # what run.json holds
    files: dict[str, Path]  # "record": run.json


def stylize_photos(
    folder: Path,
    styles: list[np.ndarray],
    out_dir: Path,
    config: VideoConfig,
    *,
    restart: bool = False,
    progress: Progress | None = None,
    engine: StyleTransfer | None = None,
) -> PhotoBatchResult:
    """Stylise every picture of ``folder`` that the window selects into ``out_dir``, each at its own
    size (long side = ``config.style.size``, aspect kept), after the validation pass.

    Needs ``config.frame_init == "independent"``; works on any such folder, whatever its sizes
    (the command line sends a folder here only when they differ). Of the video settings, the
    window (start, end, every, fps) and ``output_size`` apply. Photos finished by an earlier run
    with the same settings are skipped unless ``restart``; an output made otherwise is refused
    before any work unless ``restart``.
    """
    _check_batch(folder, styles, out_dir, config)
    batch = PhotoBatch(Path(out_dir), None)
    return _run_batches(Path(folder), styles, [batch], config, restart, progress or Progress(), engine)[0]


def stylize_photos_each_style(
    folder: Path,
    styles: list[np.ndarray],
    out_dirs: list[Path],
    config: VideoConfig,
    *,
    restart: bool = False,
    progress: Progress | None = None,
    records: list[dict[str, Any]] | None = None,
) -> list[PhotoBatchResult]:
    """--each-style on a batch: every photo of ``folder`` in each style alone, style ``i``'s into
    ``out_dirs[i]`` (each a batch's folder: pictures and run.json, ``records[i]`` added to it).

    In one process the styles run one after another on one network; with ``--workers``/``--cluster``
    every (photo, style) pair is one task on the Ray workers. Otherwise as :func:`stylize_photos`."""
    if len(out_dirs) != len(styles):
        raise ValueError("one output folder per style")
    for style, out_dir in zip(styles, out_dirs, strict=True):
        _check_batch(folder, [style], out_dir, config.replace(style=config.style.replace(style_blend=None)))
    batches = [
        PhotoBatch(Path(out_dir), index, (records or [{}] * len(styles))[index])
        for index, out_dir in enumerate(out_dirs)
    ]
    return _run_batches(Path(folder), styles, batches, config, restart, progress or Progress(), None)


def _check_batch(folder: Path, styles: list[np.ndarray], out_dir: Path, config: VideoConfig) -> None:
    kind = validate_run(folder, styles, out_dir, config)
    if kind not in ("folder", "batch"):
        raise StylevidError(f"{folder} is not a folder; a batch of photos is a folder of pictures")
    if config.frame_init != "independent":
        raise StylevidError(
            f"a batch stylises each photo on its own: use frame init independent, not {config.frame_init}"
        )
    if config.output == "video":
        raise StylevidError("a batch of photos is written as pictures, not a video; leave out --to video")


@dataclass
class PhotoBatch:
    """The photos going to one output folder: in every style blended (``style`` None), or in style
    number ``style`` alone (--each-style)."""

    out_dir: Path
    style: int | None
    extra: dict[str, Any] = field(default_factory=dict)  # more fields for its run.json
    # filled in by the run:
    settings: dict[str, Any] = field(default_factory=dict)  # what its pictures depend on (their stamp)
    plan: list[PlannedPhoto] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)  # run.json's line per photo
    offset: int = 0  # its first photo's position in the progress display (all batches' photos in a row)
    engine: StyleTransfer | None = None

    def styles(self, styles: list[np.ndarray]) -> list[np.ndarray]:
        """The style pictures of its engine."""
        return list(styles) if self.style is None else [styles[self.style]]

    def pending(self) -> list[int]:
        """Positions of the photos no earlier run finished."""
        return [position for position, item in enumerate(self.plan) if item.done is None]


def _run_batches(
    folder: Path,
    styles: list[np.ndarray],
    batches: list[PhotoBatch],
    config: VideoConfig,
    restart: bool,
    progress: Progress,
    engine: StyleTransfer | None,
) -> list[PhotoBatchResult]:
    """The photos of every batch: one after another in this process (one network for all), or every
    (photo, batch) pair fanned out over the Ray workers."""
    selection = select_pictures(folder, start=config.start, end=config.end, every=config.every, fps=config.fps)
    each = config.replace(style=config.style.replace(style_blend=None))  # the config of one style alone
    offset = 0
    for batch in batches:  # every plan before any work: an output made otherwise is refused first
        batch.settings = batch_settings(config if batch.style is None else each, batch.styles(styles))
        batch.plan = plan_photos(
            selection.files, batch.out_dir, batch.settings, restart=restart, inputs=selection.files
        )
        batch.rows = [_row(item, "pending" if item.done is None else "done earlier", item.done) for item in batch.plan]
        batch.offset, offset = offset, offset + len(batch.plan)
    with contextlib.ExitStack() as held:
        for batch in batches:
            create_output_folder(batch.out_dir)
            held.enter_context(output_folder_lock(batch.out_dir))  # one run per output folder
        pending = [(b, position) for b, batch in enumerate(batches) for position in batch.pending()]
        pool = None
        if pending and config.scaled_out:  # spread over Ray workers, each with its own engine
            from .scale.photos import start_pool

            pool = start_pool(config, styles)
        else:  # the first engine builds the network, the others share it; a finished batch loads no weights
            for batch in batches:
                if batch.pending():
                    shared = next((x.engine for x in batches if x.engine is not None), engine)
                    batch.engine = _engine_for(config, each, styles, batch, shared)
        began = time.perf_counter()

        def record(batch: PhotoBatch) -> dict[str, Any]:
            data = _record(folder, batch.out_dir, config, batch.engine, batch.rows, time.perf_counter() - began)
            if pool is not None:
                devices = sorted({str(w.get("device")) for w in pool.described})
                data["device"] = devices[0] if len(devices) == 1 else devices
                data["precision"] = pool.described[0].get("precision") if pool.described else None
                data["scale_out"] = {"cluster": pool.address, "workers": pool.records()}
            data.update(batch.extra)
            write_json(batch.out_dir / "run.json", data)
            return data

        progress.begin(offset, sum(len(b.plan) - len(b.pending()) for b in batches))
        with finish_frame_on_signals() as stop_requested:
            if pool is not None:
                try:
                    _fan_out(batches, pending, pool, config, progress, record, stop_requested)
                finally:
                    from .scale.photos import stop_pool

                    stop_pool(pool)
            else:
                for b, position in pending:
                    batch = batches[b]
                    item = batch.plan[position]
                    assert batch.engine is not None
                    shown = batch.offset + position
                    progress.frame_started(shown, config.style.iters)
                    batch.rows[position] = _stylise_one(item, batch.engine, config, batch.settings, progress, shown)
                    progress.frame_done(shown, batch.rows[position])
                    record(batch)
                    if stop_requested() and (b, position) != pending[-1]:
                        assert stop_requested.signum is not None
                        by = (
                            ""
                            if stop_requested.signum == signal.SIGINT
                            else f" by {signal_name(stop_requested.signum)}"
                        )
                        raise Interrupted(
                            f"stopped{by} after photo {position + 1} ({item.source.name}); its picture is saved — "
                            "run the same command again to resume",
                            stop_requested.signum,
                        )
        data = [record(batch) for batch in batches]
        rows = [row for batch in batches for row in batch.rows]
        failed = [row for row in rows if row["status"] == "failed"]
        if failed:
            where = batches[0].out_dir if len(batches) == 1 else "their folders"
            raise StylevidError(
                f"{len(failed)} of {len(rows)} photos failed, first {failed[0]['name']}: {failed[0]['error']}; "
                f"the others are in {where} (see run.json)"
            )
        return [
            PhotoBatchResult(
                output=batch.out_dir,
                outputs=[item.output for item in batch.plan],
                stylised=sum(row["status"] == "stylised" for row in batch.rows),
                done_earlier=sum(row["status"] == "done earlier" for row in batch.rows),
                record=record_data,
                files={"record": batch.out_dir / "run.json"},
            )
            for batch, record_data in zip(batches, data, strict=True)
        ]


def _engine_for(
    config: VideoConfig, each: VideoConfig, styles: list[np.ndarray], batch: PhotoBatch, shared: StyleTransfer | None
) -> StyleTransfer:
    """The engine of ``batch``: ``shared`` itself for a blend, else one of its style on ``shared``'s network."""
    if batch.style is None:
        return shared if shared is not None else StyleTransfer(config.style, styles)
    extractor = None if shared is None else shared.extractor
    return StyleTransfer(each.style, batch.styles(styles), extractor=extractor)


def _fan_out(
    batches: list[PhotoBatch],
    pending: list[tuple[int, int]],
    pool: Any,
    config: VideoConfig,
    progress: Progress,
    record: Callable[[PhotoBatch], dict[str, Any]],
    stop_requested: StopRequest,
) -> None:
    """The pending (batch, photo) pairs on the Ray workers (:mod:`.scale.photos`): read here, stylised
    there, saved here as each comes back (in any order; run.json keeps the photos' order)."""
    from .scale.photos import Task, fan_out

    def load(key: tuple[int, int]) -> tuple[int, np.ndarray, dict[str, str]]:
        source = batches[key[0]].plan[key[1]].source
        return key[0], load_image(source), photo_identity(source)

    def task_of(loaded: tuple[int, np.ndarray, dict[str, str]]) -> Task:
        return Task("photo", (loaded[1], batches[loaded[0]].style))

    progress.stage(f"on {len(pool.workers.actors)} Ray workers")
    for back in fan_out(pool, pending, load, task_of, stop_requested):
        b, position = back.key
        batch = batches[b]
        item = batch.plan[position]
        if back.error is not None:
            batch.rows[position] = {**_row(item, "failed"), "error": str(back.error)}
        else:
            _, photo, identity = back.loaded
            batch.rows[position] = _save_one(item, photo, identity, back.result, config, batch.settings)
            batch.rows[position]["worker"] = back.worker
        progress.frame_done(batch.offset + position, batch.rows[position])
        record(batch)
    left = [key for key in pending if batches[key[0]].rows[key[1]]["status"] == "pending"]
    if left:
        assert stop_requested.signum is not None, "every photo handed out comes back"
        by = _by(stop_requested.signum)
        raise Interrupted(
            f"stopped{by} with {len(left)} photos left; the finished ones are saved — "
            "run the same command again to resume",
            stop_requested.signum,
        )


def _by(signum: int) -> str:
    """ "" for Ctrl-C, " by SIGTERM" for the others: how a stop message names its signal."""
    return "" if signum == signal.SIGINT else f" by {signal_name(signum)}"


def _stylise_one(
    item: PlannedPhoto,
    engine: StyleTransfer,
    config: VideoConfig,
    settings: dict[str, Any],
    progress: Progress,
    position: int,
) -> dict[str, Any]:
    """Decode, stylise and save one photo; its run.json row (status "failed" with the reason if it could not be)."""
    try:
        photo = load_image(item.source)
        identity = photo_identity(item.source)
        done = stylise_photo(engine, photo, on_report=lambda i, losses: progress.iteration(position, i, losses))
    except StylevidError as error:  # unreadable, too thin at this size, out of memory: the others go on
        return {**_row(item, "failed"), "error": str(error)}
    return _save_one(item, photo, identity, done, config, settings)


def _save_one(
    item: PlannedPhoto,
    photo: np.ndarray,
    identity: dict[str, str],
    done: StylisedPhoto,
    config: VideoConfig,
    settings: dict[str, Any],
) -> dict[str, Any]:
    """Write one stylised photo with its stamp; its run.json row."""
    picture = done.picture
    if config.output_size == "original":
        picture = resize(picture, photo.shape[1], photo.shape[0])
    stats = {**done.stats, "output_size": [picture.shape[1], picture.shape[0]]}
    save_output(item.output, picture, settings, identity, stats)
    return _row(item, "stylised", stats)


def _row(item: PlannedPhoto, status: str, stats: dict[str, Any] | None = None) -> dict[str, Any]:
    """run.json's line for one photo: status ("stylised", "done earlier", "pending", "failed") and numbers."""
    return {"name": item.source.name, "output": str(item.output), "status": status, **(stats or {})}


def _record(
    folder: Path,
    out_dir: Path,
    config: VideoConfig,
    engine: StyleTransfer | None,
    rows: list[dict[str, Any]],
    seconds: float,
) -> dict[str, Any]:
    """run.json; device and precision are None when this run had nothing to stylise."""
    return run_record(
        kind="batch",
        input={"folder": str(folder), "photos": len(rows)},
        output=str(out_dir),
        config=config.to_dict(),
        device=None if engine is None else str(engine.device),
        precision=None if engine is None else engine.precision,
        precision_reason=None if engine is None else precision_choice(engine.config.precision, engine.device)[1],
        seconds={
            "this_run": seconds,
            "optimise_this_run": sum(row.get("seconds", 0.0) for row in rows if row["status"] == "stylised"),
        },
        photos=rows,
    )
