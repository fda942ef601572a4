"""Input and output paths: what kind of input a path is, checks that change nothing, and the one
step that creates the output folder. Imports neither torch nor OpenCV; PyAV only to tell a video
from other files whose name is not an image's.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import StylevidError

#: File names read as still pictures (anything else is probed as a video).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def input_kind(path: Path) -> str:
    """ "image", "video" or "folder" — or a StylevidError saying why the path is unusable."""
    if not path.exists():
        raise StylevidError(f"{path} does not exist")
    if path.is_dir():
        if not os.access(path, os.R_OK | os.X_OK):
            raise StylevidError(f"cannot read folder {path}: permission denied")
        return "folder"
    if not os.access(path, os.R_OK):
        raise StylevidError(f"cannot read {path}: permission denied")
    if is_image_path(path):
        return "image"
    from .probe import is_video_file, probe_video

    if is_video_file(path):
        return "video"
    probe_video(path)  # raises the precise reason (audio only, not a media file …)
    raise StylevidError(f"{path} is neither an image nor a video this tool can read")


def default_output(input_path: Path) -> Path:
    """stylevid-out/<input name> in the current folder."""
    name = input_path.stem if input_path.is_file() else (input_path.resolve().name or "frames")
    return Path("stylevid-out") / name


def check_paths(input_path: Path, style_paths: list[Path], out_dir: Path, init: str = "content") -> str:
    """Check the input, style and init files and the output folder; return the input kind.

    Changes nothing on disk: :func:`create_output_folder` makes a missing output folder.
    """
    from ..config import NAMED_INITS

    kind = input_kind(input_path)
    if init not in NAMED_INITS:
        if not Path(init).is_file():
            raise StylevidError(f"--init must be content, noise, style or an image file; {init!r} is none of these")
        _check_readable(Path(init))
    for style in style_paths:
        if not style.exists():
            raise StylevidError(f"style image {style} does not exist")
        if style.is_dir():
            raise StylevidError(f"style {style} is a folder; give an image file")
        _check_readable(style)
    if out_dir.exists() and not out_dir.is_dir():
        raise StylevidError(f"output {out_dir} is a file; --output takes a folder")
    resolved = out_dir.resolve()
    for source in (input_path, *style_paths):
        if resolved == source.resolve():
            raise StylevidError(f"output folder {out_dir} is the input {source}; choose another --output")
    _check_writable(out_dir)
    return kind


def create_output_folder(out_dir: Path) -> None:
    """Make ``out_dir`` (and its parents) if missing: the first change a run makes on disk."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise StylevidError(f"cannot create output folder {out_dir}: permission denied") from None
    except OSError as error:
        raise StylevidError(f"cannot create output folder {out_dir}: {error.strerror or error}") from None
    _check_writable(out_dir)


#: Files every run writes into its output folder besides the result (a video run adds two more).
IMAGE_RUN_FILES = ("progress.gif", "losses.png", "run.json")
VIDEO_RUN_FILES = (*IMAGE_RUN_FILES, "frame_losses.png", "preview.gif")


def result_name(input_path: Path, input_kind: str, output_kind: str, codec: str = "libx264") -> str:
    """The name of a run's result in its output folder.

    ``<stem>_stylised.png`` for a picture, ``<stem>_stylised.mp4`` (``.webm`` for VP9) for a video
    (a folder's stem is its name), and ``frames`` for a frame folder.
    """
    if output_kind == "frames":
        return "frames"
    stem = input_path.name if input_kind == "folder" else input_path.stem
    if output_kind == "image":
        return f"{stem}_stylised.png"
    return f"{stem}_stylised{'.webm' if codec == 'libvpx-vp9' else '.mp4'}"


def planned_outputs(out_dir: Path, result: str, input_kind: str) -> list[Path]:
    """Every file or folder a run writes into ``out_dir`` (``result``: from :func:`result_name`)."""
    names = IMAGE_RUN_FILES if input_kind == "image" else VIDEO_RUN_FILES
    return [out_dir / result, *(out_dir / name for name in names)]


def check_not_input(output: Path, inputs: list[Path]) -> None:
    """Refuse to write a file (or frame folder) over one of the inputs, or a link to one."""
    for source in inputs:
        if output.exists() and source.exists() and os.path.samefile(output, source):
            raise StylevidError(f"refusing to overwrite the input {source}; choose another --output")


def _check_readable(path: Path) -> None:
    if not os.access(path, os.R_OK):
        raise StylevidError(f"cannot read {path}: permission denied")


def _check_writable(out_dir: Path) -> None:
    """The output folder, or the nearest existing folder above it (where it would be made), is writable."""
    if out_dir.is_dir():
        if not os.access(out_dir, os.W_OK | os.X_OK):
            raise StylevidError(f"cannot write to output folder {out_dir}: permission denied")
        return
    existing = next((parent for parent in out_dir.absolute().parents if parent.exists()), None)
    if existing is not None and not existing.is_dir():
        raise StylevidError(f"cannot create output folder {out_dir}: {existing} is a file")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise StylevidError(f"cannot create output folder {out_dir}: permission denied")
