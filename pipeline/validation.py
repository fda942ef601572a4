"""The validation pass: everything about a run that its configuration cannot check on its own,
checked before any decoding, weights loading or progress display.

:class:`~.config.StyleConfig` and :class:`~.config.VideoConfig` check their own fields when they
are made. What is left needs the files or the machine: the input, style and init paths and the
output folder, the style-blend length against the number of styles, for a folder input whether
its pictures are a frame sequence or a batch of photos (from their headers: a sequence must have
one size), that no output would overwrite an input, for a run that writes a video, the encoder in
the local FFmpeg and its CRF range; and last, whether the run's memory estimate fits the device
(:func:`.budget.check_memory`: a video's once its :class:`~.config.VideoConfig` is known). The
command line and the Python API (:func:`.image_job.stylize_image_file`,
:func:`.video_job.stylize_video`, :func:`.batch_job.stylize_photos`) run the same pass.
Nothing here imports OpenCV, nor torch unless the run may use a GPU (its free memory); PyAV is
imported only to check a video input or encoder.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .budget import check_memory
from .config import NAMED_INITS, StyleConfig, VideoConfig
from .errors import StylevidError
from .io.paths import check_not_input, check_paths, planned_outputs, result_name


def validate_run(input_path: Path, styles: Sequence[Any], out_dir: Path, config: StyleConfig | VideoConfig) -> str:
    """Check a run before it starts; return the input kind ("image", "video" or "folder"), or
    "batch" for a folder of photos (see :func:`check_folder`, which needs a :class:`VideoConfig`).

    ``styles`` are style image paths or pictures (only paths are checked as files). With a
    :class:`VideoConfig` the video settings are checked too (:func:`check_folder`,
    :func:`check_video_settings`). The memory check runs for an image, and for a video or folder
    given its :class:`VideoConfig`. Nothing is changed on disk.
    """
    style_config = config.style if isinstance(config, VideoConfig) else config
    check_style_blend(style_config.style_blend, len(styles), weights="--style-weights", images="--style images")
    style_paths = [Path(s) for s in styles if isinstance(s, (str, os.PathLike))]
    kind = check_paths(Path(input_path), style_paths, Path(out_dir), style_config.init)
    if isinstance(config, VideoConfig):
        if kind == "folder":
            kind = check_folder(Path(input_path), config)
        check_video_settings(kind, config)
    if kind != "batch":  # a batch's outputs are checked photo by photo (batch/outputs.py)
        check_outputs_spare_inputs(Path(input_path), kind, style_paths, Path(out_dir), config)
    if kind == "image" or isinstance(config, VideoConfig):  # a video's needs depend on its VideoConfig
        check_memory(Path(input_path), kind, styles, config)
    return kind


def check_folder(folder: Path, config: VideoConfig) -> str:
    """ "folder" (a frame sequence) or "batch" (photos stylised one by one, each at its own size).

    The pictures the window selects are a batch when ``config.frame_init`` is "independent" and
    their sizes differ; otherwise they are a sequence, whose frames must share one size. Sizes
    come from the image headers (about 0.1 ms a picture: 2,000 small PNGs in 0.15 s), so a mismatch is
    refused before any decoding, weights loading or progress display. A batch cannot become a video.
    """
    from .io.folder import first_size_mismatch, select_pictures

    selection = select_pictures(folder, start=config.start, end=config.end, every=config.every, fps=config.fps)
    mismatch = first_size_mismatch(selection.files)
    if mismatch is None:
        return "folder"
    sizes = (
        f"{mismatch.odd.name} is {_size(mismatch.odd_size)} but the first, "
        f"{mismatch.first.name}, is {_size(mismatch.first_size)}"
    )
    if config.frame_init != "independent":
        raise StylevidError(
            f"the frames of {folder} differ in size ({sizes}); a frame sequence needs one size — "
            "use --frame-init independent to stylise the pictures as a batch, each at its own size"
        )
    if config.output == "video":
        raise StylevidError(
            f"the pictures of {folder} differ in size ({sizes}), so they are a batch of photos and "
            "cannot become a video; leave out --to video (each photo is written as a picture)"
        )
    return "batch"


def _size(size: tuple[int, int]) -> str:
    return f"{size[0]}×{size[1]}"


def check_outputs_spare_inputs(
    input_path: Path, kind: str, style_paths: Sequence[Path], out_dir: Path, config: StyleConfig | VideoConfig
) -> None:
    """No file the run writes (its result, renders, run.json) is one of its inputs.

    An input named like an output (``OUT/clip_stylised.mp4`` as the input of a run into ``OUT``)
    would be overwritten while it is still being read.
    """
    if isinstance(config, VideoConfig):
        style_config, output_kind, codec = config.style, config.output_kind(kind), config.codec
    else:
        style_config, output_kind, codec = config, "image", "libx264"
    inputs = [input_path, *style_paths]
    if style_config.init not in NAMED_INITS:
        inputs.append(Path(style_config.init))
    for planned in planned_outputs(out_dir, result_name(input_path, kind, output_kind, codec), kind):
        check_not_input(planned, inputs)


def check_video_settings(input_kind: str, config: VideoConfig) -> None:
    """A run that writes a video needs ``config.codec`` in the local FFmpeg, at a CRF in its range;
    ``--flow-dir`` must be a folder (its files are checked against the frames when the run opens them)."""
    if config.flow_dir is not None:
        check_flow_dir(Path(config.flow_dir))
    if config.output_kind(input_kind) == "video":
        from .io.video_write import check_encoder

        check_encoder(config.codec, config.crf)


def check_flow_dir(path: Path) -> None:
    """``--flow-dir`` is a folder (which pairs its files serve is checked when the run opens its frames)."""
    if not path.is_dir():
        raise StylevidError(f"--flow-dir {path} is not a folder")


def check_style_blend(
    blend: Sequence[float] | None, count: int, *, weights: str = "style weights", images: str = "style images"
) -> None:
    """At least one style, and one blend weight per style when weights are given.

    ``weights`` and ``images`` name the two lists in the message (CLI options or API terms).
    """
    if count < 1:
        raise StylevidError("at least one style image is needed (--style FILE)")
    if blend is not None and len(blend) != count:
        raise StylevidError(f"{len(blend)} {weights} given for {count} {images}")


def check_each_style(blend: Sequence[float] | None, styles: Sequence[Any], out_dir: Path) -> list[Path]:
    """--each-style: one output per style instead of a blend. Returns each style's folder,
    ``<out_dir>/<style file's stem>``; refuses (one line) a blend's weights, a single style, styles
    given as pictures (a folder is named after its file) and two styles that would share a folder."""
    if blend is not None:
        raise StylevidError(
            "--each-style makes one output per style and --style-weights blends the styles into one: "
            "give one or the other"
        )
    if len(styles) < 2:
        raise StylevidError("--each-style needs two or more --style images (it makes one output per style)")
    if not all(isinstance(s, (str, os.PathLike)) for s in styles):
        raise StylevidError("--each-style names each output folder after its style file: give the styles as files")
    folders: dict[str, Path] = {}
    for style in styles:
        path = Path(style)
        other = folders.setdefault(path.stem.lower(), path)  # case-blind: macOS and Windows folders are
        if other != path:
            raise StylevidError(
                f"--each-style writes each style into a folder named after it, and {other} and {path} would "
                f"both go to {Path(out_dir) / path.stem}; rename one of them"
            )
    return [Path(out_dir) / Path(style).stem for style in styles]
