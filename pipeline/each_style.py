"""--each-style: one input in each of several styles, one output per style (not a blend), resumably.

Style ``STYLE.jpg``'s run goes to ``<out>/STYLE/``, a complete run folder of its own (what the
same command with that one ``--style`` would have written there: picture or video, GIFs, plots,
run.json). ``<out>/run.json`` is the summary: the input, each style with its folder, main output,
status and the stamp of what it depends on (settings, style picture, input). A rerun skips every
image or video style whose stamp matches and whose output is there; any other runs as it would
alone (a video resumes from its work folder). A batch's styles are always run again: each photo's
own stamp (batch/outputs.py) says whether it is done, so a style whose photos are all done counts
as done earlier and loads no weights.

How the styles are spread:
- an image: in this process one after another on one network (VGG built once); with
  ``--workers``/``--cluster`` each style is one task on the Ray workers (:mod:`.scale.photos`);
- a batch of photos: every (photo, style) pair (:func:`.batch_job.stylize_photos_each_style`);
- a video or frame sequence: one style after another, each spread over the workers as any video
  run is when ``--workers`` is given.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import StyleConfig, VideoConfig
from .errors import StylevidError
from .io.folder_lock import output_folder_lock
from .io.images import load_image
from .io.paths import check_not_input, create_output_folder
from .io.record import run_record, write_json
from .progress import Progress
from .validation import check_each_style, validate_run
from .video.fingerprint import engine_settings

#: Bumped when the stamp or the meaning of its parts changes (older styles are then run again).
STAMP_VERSION = 1


@dataclass
class EachStyleResult:
    """What :func:`stylize_each_style` made."""

    output: Path  # the output folder (holding one folder per style and the summary run.json)
    kind: str  # the input's kind: "image", "video", "folder" (a frame sequence) or "batch"
    folders: list[Path]  # each style's run folder, in the styles' order
    outputs: list[Path | None]  # each style's picture, video or frame folder (a batch: its folder); None: failed
    stylised: int  # styles run by this call
    done_earlier: int  # styles an earlier run with the same settings had finished (skipped)
    record: dict[str, Any]  # what the summary run.json holds
    files: dict[str, Path]  # "record": the summary run.json


def stylize_each_style(
    input_path: Path,
    style_paths: list[Path],
    out_dir: Path,
    config: StyleConfig | VideoConfig,
    *,
    styles: list[np.ndarray] | None = None,
    restart: bool = False,
    progress: Progress | None = None,
    on_note: Callable[[str], None] | None = None,
) -> EachStyleResult:
    """Stylise ``input_path`` in each of ``style_paths`` alone, into ``<out_dir>/<style stem>/`` each,
    after the validation pass; see the module's docstring.

    ``config``: a :class:`StyleConfig` for an image in this process; a :class:`VideoConfig` for a
    video, a frame folder or a batch, and for an image on Ray workers (its ``workers``/``cluster``).
    ``styles`` may hold the style pictures already decoded. ``progress`` follows the styles of an
    image (one "frame" per style), the photo × style pairs of a batch, or each style's video run in
    turn; ``on_note`` receives a line as each style of a video begins and when ``--tile auto`` or
    ``--history auto`` change an image's run.
    """
    style_config = config.style if isinstance(config, VideoConfig) else config
    out_dir = Path(out_dir)
    folders = check_each_style(style_config.style_blend, style_paths, out_dir)
    alone = _alone(config)
    # each style's run is checked as that run alone would be (an image's with its StyleConfig)
    kind = validate_run(input_path, [style_paths[0]], folders[0], _alone(style_config))
    if kind != "image" and not isinstance(config, VideoConfig):
        raise StylevidError(f"{input_path} is a video or folder: --each-style on it needs a VideoConfig")
    checked = alone if kind != "image" else _alone(style_config)
    for path, folder in zip(style_paths, folders, strict=True):
        kind = validate_run(input_path, [path], folder, checked)
    check_not_input(out_dir / "run.json", [Path(input_path), *map(Path, style_paths)])
    progress = progress or Progress()
    note = on_note or (lambda line: None)
    create_output_folder(out_dir)
    with output_folder_lock(out_dir):  # the summary's folder: one run at a time
        styles = styles if styles is not None else [load_image(p) for p in style_paths]
        stamps = [_stamp(Path(input_path), alone, style) for style in styles]
        earlier = {} if restart else _earlier(out_dir)
        summary = Summary(out_dir, Path(input_path), kind, config, style_paths, folders)
        for index, stamp in enumerate(stamps):
            row = earlier.get(str(folders[index]))
            # a batch is asked again each time: its photos' own stamps say which are done (batch/outputs.py)
            same = row is not None and row.get("stamp") == stamp and kind != "batch"
            if same and row is not None and Path(str(row.get("output"))).exists():
                summary.rows[index].update(status="done earlier", output=row["output"])
            summary.rows[index]["stamp"] = stamp
        pending = [i for i, row in enumerate(summary.rows) if row["status"] != "done earlier"]
        if len(pending) < len(folders) and kind != "image":  # an image's progress display says so itself
            note(f"resuming: {len(folders) - len(pending)} style(s) already done")
        summary.write()
        run = {"image": _images, "batch": _batch}.get(kind, _videos)
        run(_Job(Path(input_path), style_paths, styles, folders, pending, config, restart, progress, note, summary))
        data = summary.write()
        failed = [row for row in summary.rows if row["status"] == "failed"]
        if failed:
            raise StylevidError(
                f"{len(failed)} of {len(folders)} styles failed, first {Path(failed[0]['style']).name}: "
                f"{failed[0]['error']}; the others are in {out_dir} (see run.json)"
            )
    outputs = [None if row.get("output") is None else Path(row["output"]) for row in summary.rows]
    return EachStyleResult(
        output=out_dir,
        kind=kind,
        folders=folders,
        outputs=outputs,
        stylised=sum(row["status"] == "stylised" for row in summary.rows),
        done_earlier=sum(row["status"] == "done earlier" for row in summary.rows),
        record=data,
        files={"record": out_dir / "run.json"},
    )


@dataclass(frozen=True)
class _Job:
    """What every kind's runner (:func:`_images`, :func:`_batch`, :func:`_videos`) works from."""

    input_path: Path
    style_paths: list[Path]
    styles: list[np.ndarray]  # the style pictures, decoded
    folders: list[Path]  # each style's run folder
    pending: list[int]  # the styles to run (not done earlier)
    config: StyleConfig | VideoConfig
    restart: bool  # ignore earlier runs
    progress: Progress
    note: Callable[[str], None]  # one line for the user
    summary: Summary  # <out>/run.json, a row per style


def _alone(config: StyleConfig | VideoConfig) -> Any:
    """The config of one style's run: no blend weights (there is one style)."""
    if isinstance(config, VideoConfig):
        return config.replace(style=config.style.replace(style_blend=None))
    return config.replace(style_blend=None)


class Summary:
    """``<out>/run.json`` of an --each-style run: a row per style, written after each one finishes."""

    def __init__(
        self,
        out_dir: Path,
        input_path: Path,
        kind: str,
        config: StyleConfig | VideoConfig,
        style_paths: list[Path],
        folders: list[Path],
    ) -> None:
        self.out_dir, self.input_path, self.kind, self.config = out_dir, input_path, kind, config
        self.rows: list[dict[str, Any]] = [
            {"style": str(path), "folder": str(folder), "status": "pending", "output": None}
            for path, folder in zip(style_paths, folders, strict=True)
        ]
        self.scale_out: dict[str, Any] | None = None
        self.began = time.perf_counter()

    def write(self) -> dict[str, Any]:
        data = run_record(
            kind="each-style",
            input={"path": str(self.input_path), "kind": self.kind},
            output=str(self.out_dir),
            config=self.config.to_dict(),
            styles=self.rows,
            seconds={"this_run": time.perf_counter() - self.began},
            scale_out=self.scale_out,
        )
        write_json(self.out_dir / "run.json", data)
        return data


def _earlier(out_dir: Path) -> dict[str, dict[str, Any]]:
    """The rows of an earlier run's summary by folder; empty when there is none (or it cannot be read)."""
    try:
        data = json.loads((out_dir / "run.json").read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("kind") != "each-style" or not isinstance(data.get("styles"), list):
        return {}
    return {str(row.get("folder")): row for row in data["styles"] if isinstance(row, dict)}


def _stamp(input_path: Path, config: StyleConfig | VideoConfig, style: np.ndarray) -> dict[str, Any]:
    """What one style's output depends on: the engine's settings and style picture, the job's
    settings (a video's, a picture's bit depth; not where it runs), and the input's identity."""
    style_config = config.style if isinstance(config, VideoConfig) else config
    if isinstance(config, VideoConfig):
        job = config.to_dict()
        for name in ("style", "workers", "cluster", "segment_frames"):
            job.pop(name, None)
    else:
        job = {}
    job["bit_depth"] = style_config.bit_depth
    stamp = {
        "version": STAMP_VERSION,
        "settings": engine_settings(style_config, [style]),
        "job": job,
        "input": _identity(input_path),
    }
    return dict(json.loads(json.dumps(stamp)))


def _identity(path: Path) -> str:
    """A file's sha256; a folder's: of its files' names, sizes and modification times."""
    digest = hashlib.sha256()
    if path.is_dir():
        for item in sorted(path.iterdir()):
            if item.is_file():
                info = item.stat()
                digest.update(f"{item.name}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
        return "folder:" + digest.hexdigest()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def _images(job: _Job) -> None:
    """One image in each pending style: here one after another on one network, or one task per style on Ray."""
    from .budget import plan_memory

    job.progress.begin(len(job.folders), len(job.folders) - len(job.pending))
    if not job.pending:
        return
    alone = _alone(job.config)
    style_config: StyleConfig = alone.style if isinstance(alone, VideoConfig) else alone
    # --tile/--history auto
    plan = plan_memory(job.input_path, "image", [job.style_paths[job.pending[0]]], style_config)
    style_config = plan.apply(style_config)
    if plan.changed:
        job.note(plan.note())
    with contextlib.ExitStack() as held:
        for index in job.pending:
            create_output_folder(job.folders[index])
            held.enter_context(output_folder_lock(job.folders[index]))  # one run per output folder
        if isinstance(job.config, VideoConfig) and job.config.scaled_out:
            _images_on_workers(job, job.config, style_config, plan)
            return
        from .engine.vgg import build_extractor
        from .engine.weights import resolve_weights
        from .image_job import _stylize_into

        spec = resolve_weights(style_config.weights, style_config.weights_format)
        layers = {style_config.content_layer, *style_config.style_layers}
        extractor = build_extractor(spec, layers, pooling=style_config.pooling)  # once for every style
        for index in job.pending:
            job.progress.frame_started(index, style_config.iters)

            def on_stage(number: int, count: int, stage: Any, index: int = index) -> None:
                job.progress.pyramid_stage(index, number, count, stage.size, stage.iters)

            def on_report(iteration: int, losses: dict[str, float], index: int = index) -> None:
                job.progress.iteration(index, iteration, losses)

            result = _stylize_into(
                job.input_path,
                [job.style_paths[index]],
                job.folders[index],
                style_config,
                [job.styles[index]],
                on_report,
                on_stage,
                plan.record(),
                extractor=extractor,
            )
            job.summary.rows[index].update(
                status="stylised", output=str(result.files["image"]), seconds=result.stylized.seconds
            )
            job.progress.frame_done(index, job.summary.rows[index])
            job.summary.write()


def _images_on_workers(job: _Job, config: VideoConfig, style_config: StyleConfig, plan: Any) -> None:
    """Each pending style one task on the Ray workers (:mod:`.scale.photos`); the driver writes each run.
    ``config`` is ``job.config`` (a VideoConfig, for its workers), ``style_config`` one style's run as planned."""
    from .image_job import write_image_run
    from .scale.photos import Task, fan_out, start_pool, stop_pool
    from .video.signals import finish_frame_on_signals

    content = load_image(job.input_path)
    pool = start_pool(config.replace(style=style_config), job.styles)
    try:
        job.progress.stage(f"on {len(pool.workers.actors)} Ray workers")
        with finish_frame_on_signals() as stop_requested:
            for back in fan_out(
                pool, job.pending, lambda index: index, lambda index: Task("image", (content, index)), stop_requested
            ):
                index, row = back.key, job.summary.rows[back.key]
                if back.error is not None:
                    row.update(status="failed", error=str(back.error), worker=back.worker)
                else:
                    result = write_image_run(
                        job.input_path,
                        [job.style_paths[index]],
                        job.folders[index],
                        style_config,
                        content,
                        [job.styles[index]],
                        back.result,
                        plan.record(),
                        extra={"worker": pool.described[back.worker]},
                    )
                    row.update(
                        status="stylised",
                        output=str(result.files["image"]),
                        seconds=result.stylized.seconds,
                        worker=back.worker,
                    )
                job.progress.frame_done(index, row)
                job.summary.scale_out = {"cluster": pool.address, "workers": pool.records()}
                job.summary.write()
        left = [index for index in job.pending if job.summary.rows[index]["status"] == "pending"]
        if left:
            from .video_job import Interrupted

            assert stop_requested.signum is not None, "every style handed out comes back"
            raise Interrupted(
                f"stopped with {len(left)} styles left; the finished ones are saved — "
                "run the same command again to resume",
                stop_requested.signum,
            )
    finally:
        stop_pool(pool)


def _batch(job: _Job) -> None:
    """A batch of photos in each pending style: (photo, style) pairs, here or on the Ray workers."""
    from .batch_job import stylize_photos_each_style

    assert isinstance(job.config, VideoConfig)
    if not job.pending:
        return
    results = stylize_photos_each_style(
        job.input_path,
        [job.styles[i] for i in job.pending],
        [job.folders[i] for i in job.pending],
        _alone(job.config),
        restart=job.restart,
        progress=job.progress,
        records=[
            {"each_style": {"style": str(job.style_paths[i]), "summary": str(job.summary.out_dir / "run.json")}}
            for i in job.pending
        ],
    )
    for index, result in zip(job.pending, results, strict=True):
        job.summary.rows[index].update(
            status="stylised" if result.stylised else "done earlier",
            output=str(result.output),
            photos=len(result.outputs),
            photos_stylised=result.stylised,
        )


def _videos(job: _Job) -> None:
    """A video or frame sequence in each pending style, one after another (each on the workers when
    ``--workers``/``--cluster`` are given; in this process the styles share one network)."""
    assert isinstance(job.config, VideoConfig)
    alone = _alone(job.config)
    shared = None
    for number, index in enumerate(job.pending):
        job.note(
            f"style {number + 1} of {len(job.pending)}: {Path(job.style_paths[index]).name} → {job.folders[index]}"
        )
        run: Callable[..., Any]
        if alone.scaled_out:
            from .scale.runner import stylize_video_scaled as run

            engine_option: dict[str, Any] = {}
        else:
            from .engine.transfer import StyleTransfer
            from .video_job import stylize_video as run

            extractor = None if shared is None else shared.extractor
            engine = StyleTransfer(alone.style, [job.styles[index]], extractor=extractor)
            shared = shared or engine
            engine_option = {"engine": engine}
        result = run(
            job.input_path,
            [job.styles[index]],
            job.folders[index],
            alone,
            restart=job.restart,
            progress=job.progress,
            **engine_option,
        )
        job.summary.rows[index].update(status="stylised", output=str(result.output), frames=result.frames)
        job.summary.write()
