"""Stylise a folder of photos one by one, each at its own size, resumably.

A batch (``--frame-init independent`` on a folder whose pictures differ in size, see
:func:`.validation.check_folder`) is a loop over photos: decode one, stylise it with the one
engine (VGG and style targets built once, :func:`.batch.photo.stylise_photo`), write
``<stem>_stylised.png`` stamped with its settings (:mod:`.batch.outputs`). Photos whose output an
earlier run with the same settings wrote are skipped. With ``--workers``/``--cluster`` the photos
are spread over Ray workers (:mod:`.scale.photos`); the driver still reads and writes them all.
run.json, rewritten after every photo, lists them all. A photo that cannot be read or stylised is
noted and the batch goes on; the run then ends with one line naming it. Ctrl-C finishes and saves the photo in flight.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
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
    kind = validate_run(folder, styles, out_dir, config)
    if kind not in ("folder", "batch"):
        raise StylevidError(f"{folder} is not a folder; a batch of photos is a folder of pictures")
    if config.frame_init != "independent":
        raise StylevidError(
            f"a batch stylises each photo on its own: use frame init independent, not {config.frame_init}"
        )
    if config.output == "video":
        raise StylevidError("a batch of photos is written as pictures, not a video; leave out --to video")
    folder, out_dir = Path(folder), Path(out_dir)
    progress = progress or Progress()
    selection = select_pictures(folder, start=config.start, end=config.end, every=config.every, fps=config.fps)
    settings = batch_settings(config, styles)
    plan = plan_photos(selection.files, out_dir, settings, restart=restart, inputs=selection.files)  # before work
    create_output_folder(out_dir)
    with output_folder_lock(out_dir):  # one run per output folder
        pending = [position for position, item in enumerate(plan) if item.done is None]
        pool = None
        if pending and config.scaled_out:  # spread over Ray workers, each with its own engine
            from .scale.photos import start_pool

            pool = start_pool(config, styles)
        elif engine is None and pending:  # a finished batch loads no weights
            engine = StyleTransfer(config.style, styles)
        rows: list[dict[str, Any]] = [
            _row(item, "pending" if item.done is None else "done earlier", item.done) for item in plan
        ]
        began = time.perf_counter()

        def record() -> dict[str, Any]:
            data = _record(folder, out_dir, config, engine, rows, time.perf_counter() - began)
            if pool is not None:
                devices = sorted({str(w.get("device")) for w in pool.described})
                data["device"] = devices[0] if len(devices) == 1 else devices
                data["precision"] = pool.described[0].get("precision") if pool.described else None
                data["scale_out"] = {"cluster": pool.address, "workers": pool.records()}
            write_json(out_dir / "run.json", data)
            return data

        progress.begin(len(plan), sum(item.done is not None for item in plan))
        with finish_frame_on_signals() as stop_requested:
            if pool is not None:
                try:
                    _fan_out(plan, pending, pool, config, settings, rows, progress, record, stop_requested)
                finally:
                    from .scale.photos import stop_pool

                    stop_pool(pool)
            for position, item in enumerate(plan):
                if pool is not None:
                    break
                if item.done is not None:
                    continue
                assert engine is not None
                progress.frame_started(position, config.style.iters)
                rows[position] = _stylise_one(item, engine, config, settings, progress, position)
                progress.frame_done(position, rows[position])
                record()
                if stop_requested() and position + 1 < len(plan):
                    assert stop_requested.signum is not None
                    by = "" if stop_requested.signum == signal.SIGINT else f" by {signal_name(stop_requested.signum)}"
                    raise Interrupted(
                        f"stopped{by} after photo {position + 1} ({item.source.name}); its picture is saved — "
                        "run the same command again to resume",
                        stop_requested.signum,
                    )
        data = record()
        failed = [row for row in rows if row["status"] == "failed"]
        if failed:
            raise StylevidError(
                f"{len(failed)} of {len(rows)} photos failed, first {failed[0]['name']}: {failed[0]['error']}; "
                f"the others are in {out_dir} (see run.json)"
            )
        return PhotoBatchResult(
            output=out_dir,
            outputs=[item.output for item in plan],
            stylised=sum(row["status"] == "stylised" for row in rows),
            done_earlier=sum(row["status"] == "done earlier" for row in rows),
            record=data,
            files={"record": out_dir / "run.json"},
        )


def _fan_out(
    plan: list[PlannedPhoto],
    pending: list[int],
    pool: Any,
    config: VideoConfig,
    settings: dict[str, Any],
    rows: list[dict[str, Any]],
    progress: Progress,
    record: Callable[[], dict[str, Any]],
    stop_requested: StopRequest,
) -> None:
    """The pending photos on the Ray workers (:mod:`.scale.photos`): read here, stylised there, saved here
    as each comes back (in any order; run.json keeps the photos' order)."""
    from .scale.photos import Task, fan_out

    def load(position: int) -> tuple[np.ndarray, dict[str, str]]:
        source = plan[position].source
        return load_image(source), photo_identity(source)

    progress.stage(f"on {len(pool.workers.actors)} Ray workers")
    for back in fan_out(pool, pending, load, lambda loaded: Task("photo", (loaded[0],)), stop_requested):
        item = plan[back.key]
        if back.error is not None:
            rows[back.key] = {**_row(item, "failed"), "error": str(back.error)}
        else:
            photo, identity = back.loaded
            rows[back.key] = _save_one(item, photo, identity, back.result, config, settings)
            rows[back.key]["worker"] = back.worker
        progress.frame_done(back.key, rows[back.key])
        record()
    left = [position for position in pending if rows[position]["status"] == "pending"]
    if left:
        assert stop_requested.signum is not None, "every photo handed out comes back"
        by = "" if stop_requested.signum == signal.SIGINT else f" by {signal_name(stop_requested.signum)}"
        raise Interrupted(
            f"stopped{by} with {len(left)} photos left; the finished ones are saved — "
            "run the same command again to resume",
            stop_requested.signum,
        )


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
