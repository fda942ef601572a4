"""Does a run fit the memory of its device? Decided before any work, and measured after it.

:func:`estimate_run` adds up what a whole run holds at its peak, on the chosen device, from the
memory model of one optimisation (:mod:`.engine.memory`) and what a run adds around it: the
decoded input and style pictures, the network's weights (and the weights file while it loads),
the one pass of each style picture that makes the style targets, the optimisation's snapshots,
a video's frames in flight, and on the CPU a fixed runtime overhead. The phases that come one
after another (loading the weights, the style pass, the optimisation) share memory; their
largest counts. :func:`check_memory` compares the estimate with :func:`available_bytes` (and
``--memory-limit``) for the input's processing size, read from its header, and refuses a run
that does not fit with one line that says what would. :class:`PeakMemory` measures what a run
really used, for run.json.

Nothing here imports torch unless the device is, or may be, a CUDA GPU; PyAV only to probe a
video input, Pillow only to read an image header.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .config import DEFAULT_HISTORY, MIN_TILE, StyleConfig, VideoConfig
from .engine.layers import pooling_grid
from .engine.memory import (
    FP32_BYTES,
    HISTORY_BYTES,
    RunShape,
    largest_fitting,
    largest_fitting_sorted,
    run_bytes,
    scaled,
    size_candidates,
    style_pass_bytes,
    tile_view,
    weight_bytes,
)
from .engine.snapshots import snapshot_bytes
from .engine.stages import plan_stages
from .errors import StylevidError

#: CPU: resident memory a run adds beyond its tensors once the network runs — oneDNN's and the
#: allocator's scratch and slack, autograd's worker state, the renders' Matplotlib: the intercept of
#: the measured peaks against the picture's area (their slope is the model's), fitted on a 2-core
#: machine (benchmarks/memory_estimate.py, docs/performance.md "Memory estimate").
CPU_RUNTIME_BYTES = 135 * 2**20
#: CPU: importing torch (with torchvision) costs a process this much resident memory once (about
#: 215 MiB measured); the check adds it when torch is not imported yet (the command line checks before).
TORCH_IMPORT_BYTES = 220 * 2**20
#: CUDA: a context costs this much GPU memory outside PyTorch's allocator, once per process.
CUDA_CONTEXT_BYTES = 512 * 2**20
#: torchvision's VGG19 file (vgg19-dcbb9e9d.pth, classifier included): it is loaded whole.
TORCHVISION_WEIGHTS_FILE_BYTES = 548_143_881
#: A picture is decoded as uint8 RGB; Pillow's own buffer and a conversion copy are alive with it.
DECODE_COPIES = 3
#: A video's frames waiting for the optimiser besides those in its batch: 2 prefetched, 1 looked at.
FRAMES_AHEAD = 3
#: Per frame in flight at processing size: uint8 content, the backward flow (2 fp32) and its mask (fp32).
PREPARED_BYTES_PER_PIXEL = 3 + 2 * FP32_BYTES + FP32_BYTES
#: Optical flow (DIS, Farneback) of one pair: its image pyramids and flow fields, per pixel.
FLOW_WORK_BYTES_PER_PIXEL = 48
#: --memory-limit accepts a number with one of these suffixes (powers of 1024).
UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


@dataclass(frozen=True)
class Estimate:
    """What a run is expected to hold at its peak on ``device``, over what its process held before."""

    bytes: int  # the run's peak
    parts: dict[str, int]  # the terms it is made of (the sequential phases' largest is in "phase")
    device: str  # "cpu", "cuda" or "cuda:N"
    height: int  # processing size
    width: int
    precision: str  # "fp32" or "bf16": the network's element type assumed

    def record(self) -> dict[str, Any]:
        """The estimate as run.json stores it."""
        return {
            "device": self.device,
            "precision": self.precision,
            "estimate_bytes": self.bytes,
            "estimate_parts": dict(self.parts),
        }


# --- the estimate --------------------------------------------------------------------------------


def estimate_run(
    height: int,
    width: int,
    config: StyleConfig | VideoConfig,
    *,
    device: str = "cpu",
    source: tuple[int, int] | None = None,
    styles: Sequence[tuple[int, int]] = (),
    weights_file_bytes: int | None = None,
    precision: str | None = None,
    snapshots: bool = True,
) -> Estimate:
    """The peak memory of a run at a processing size of height × width on ``device``.

    ``source``: the input's own (height, width) (decoded whole, and a video's frames in flight);
    ``styles``: each style picture's (height, width) as given; ``weights_file_bytes``: the size
    of the weights file (default: the configured one's, else torchvision's); ``precision``: the
    run's "fp32" or "bf16" when known (default: what "auto" picks, fp32 on the CPU, bf16 on CUDA);
    ``snapshots``: whether the run keeps its progress GIF's snapshots (host memory).
    On CUDA only device memory counts (the CUDA context aside: see :func:`check_memory`).
    """
    video = config if isinstance(config, VideoConfig) else None
    style = config.style if isinstance(config, VideoConfig) else config
    on_cuda = device.startswith("cuda")
    precision = precision or (style.precision if style.precision != "auto" else ("bf16" if on_cuda else "fp32"))
    element_bytes = FP32_BYTES if precision == "fp32" else 2
    items = video.batch_frames if video is not None else 1
    temporal = video is not None and video.frame_init != "independent" and video.temporal_weight != 0
    graphs = style.cuda_graphs and on_cuda
    # coarse-to-fine: every stage is smaller than the last (the run's size), so the last stage's
    # optimisation is the largest; its budget may exceed --iters (--pyramid-iters)
    stages = plan_stages(style.pyramid, style.size, style.iters, style.pyramid_iters)
    first_iters = max(style.iters, *(stage.iters for stage in stages))
    iters = max(first_iters, video.frame_iters) if video is not None else first_iters
    # An optimisation of N iterations keeps at most N pairs (engine/transfer.py sizes the history so:
    # the engine's own L-BFGS allocates all of it at the start); the rolling batch of video frames
    # (--batch-frames > 1) is one optimisation for many frames, so its history fills.
    history = style.history_pairs if items > 1 else min(style.history_pairs, iters)
    shape = RunShape(
        layers={style.content_layer, *style.style_layers},
        style_layers=style.style_layers,
        content_layer=style.content_layer,
        element_bytes=element_bytes,
        items=items,
        method=style.optimizer,
        history=history,
        history_bytes=HISTORY_BYTES[style.history_dtype],
        temporal=temporal,
        graphs=graphs,
        pooling=style.pooling,
        tile=style.tile_pixels,
    )
    optimisation = run_bytes(height, width, shape)
    if video is not None and graphs and items == 1:
        # the first frame's optimisation (no temporal term) is kept beside the later frames' one
        optimisation += run_bytes(height, width, replace(shape, temporal=False))
    # every stage's snapshots, 8-bit at the final picture's snapshot size (engine/snapshots.py)
    snapshot_total = snapshot_bytes(height, width, [stage.iters for stage in stages]) if snapshots else 0
    style_long_side = max(16, round(style.size * style.style_scale))
    style_sizes = [scaled(h, w, style_long_side) for h, w in styles] or [scaled(height, width, style_long_side)]
    style_pass = max(style_pass_bytes(h, w, shape) for h, w in style_sizes)
    weights = weight_bytes(shape.layers)
    parts: dict[str, int] = {"weights": weights, "optimisation": optimisation}
    runtime = 0 if on_cuda else CPU_RUNTIME_BYTES  # paid once the network runs, not while it loads
    phases = {"style_pass": style_pass + runtime, "optimisation": optimisation + runtime}
    if not on_cuda:  # host memory: pictures, frames in flight, the weights file while it loads, the runtime
        pictures = [source or (height, width), *styles]
        parts["pictures"] = DECODE_COPIES * 3 * sum(h * w for h, w in pictures)
        if video is not None:
            source_pixels = (source[0] * source[1]) if source else height * width
            in_flight = (items + FRAMES_AHEAD) * (3 * source_pixels + PREPARED_BYTES_PER_PIXEL * height * width)
            parts["frames_in_flight"] = in_flight + FLOW_WORK_BYTES_PER_PIXEL * height * width
        if weights_file_bytes is None:
            weights_file_bytes = _weights_file_bytes(style)
        # the file, and the fp32 copy of what it holds (none for an fp32 file, twice an fp16 file's size)
        phases["loading_weights"] = weights_file_bytes + min(2 * weights_file_bytes, weight_bytes(["pool5"]))
        phases["optimisation"] += snapshot_total
        parts["runtime"] = runtime
        parts["snapshots"] = snapshot_total
    parts["style_pass"] = style_pass
    parts["phase"] = max(phases.values())  # the largest of the phases that follow one another (with the runtime)
    total = sum(v for k, v in parts.items() if k in ("weights", "pictures", "frames_in_flight", "phase"))
    return Estimate(total, parts, device, height, width, precision)


def estimate_run_bytes(height: int, width: int, config: StyleConfig | VideoConfig, **details: Any) -> int:
    """The peak bytes of a run at height × width (see :func:`estimate_run` for ``details``)."""
    return estimate_run(height, width, config, **details).bytes


def _weights_file_bytes(style: StyleConfig) -> int:
    """Size of the weights file a run loads (torchvision's unless a local file is configured)."""
    source = style.weights or os.environ.get("STYLEVID_WEIGHTS") or ""
    if source and source != "torchvision":
        try:
            return Path(source).expanduser().stat().st_size
        except OSError:
            pass  # the loader reports a missing file
    return TORCHVISION_WEIGHTS_FILE_BYTES


# --- the device and what it has free -------------------------------------------------------------


def run_device(spec: str) -> str:
    """ "cpu" or "cuda[:N]": where a run with ``--device spec`` works. torch is imported only when
    the answer may be a GPU (``auto`` on a machine with an NVIDIA driver, or ``cuda``)."""
    spec = (spec or "auto").strip().lower()
    if spec == "cpu" or (spec == "auto" and not _may_have_cuda()):
        return "cpu"
    import torch

    if not torch.cuda.is_available():
        return "cpu"  # "auto" runs there; an explicit "cuda" is refused by the engine's own check
    return "cuda" if spec == "auto" else spec


def _may_have_cuda() -> bool:
    if sys.platform == "darwin":
        return False
    if sys.platform.startswith("linux"):
        return any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg", "/proc/driver/nvidia"))
    return True  # elsewhere ask torch


def available_bytes(device: str) -> int:
    """Memory a run could still get on ``device``: the CPU's available RAM (within this process's
    cgroup limit, if any), or a GPU's free memory."""
    if device.startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    return _available_ram()


def _available_ram() -> int:
    found: list[int] = []
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            found.append(2**62)  # no way to tell: only --memory-limit bounds the run
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 2**60:
            found.append(max(0, limit - usage))
            break
    return min(found)


def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None  # absent, or "max"


def parse_memory(text: str) -> int:
    """Bytes from ``8G``, ``512M``, ``1.5GiB`` or a plain number of bytes (suffixes are powers of 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgtb]?)(?:i?b)?\s*", text.lower())
    if match is None:
        raise StylevidError(f"--memory-limit must be a size like 8G, 512M or 1.5GiB; got {text!r}")
    value = int(float(match.group(1)) * UNITS[match.group(2)])
    if value <= 0:
        raise StylevidError(f"--memory-limit must be positive, got {text!r}")
    return value


def format_bytes(count: float) -> str:
    """1.5 GiB, 380 MiB: how messages and the benchmark write sizes."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}" if count < 1000 * scale else f"{count / scale:,.0f} {unit}"
    return f"{count / 2**10:.3g} KiB"


# --- the input's size, from its header -----------------------------------------------------------


def input_dims(input_path: Path, kind: str) -> tuple[int, int]:
    """(height, width) of the input as decoded: an image's header, a video's probe, a folder's first
    frame, or a batch's squarest picture (at --size, the photo that needs the most memory)."""
    if kind == "video":
        from .io.probe import probe_video

        info = probe_video(input_path)
        return info.height, info.width
    if kind in ("folder", "batch"):
        from .io.folder import header_size, picture_files

        frames = picture_files(Path(input_path))
        if not frames:
            raise StylevidError(f"folder {input_path} holds no pictures")
        if kind == "folder":
            input_path = frames[0]
        else:
            sizes = [size for size in map(header_size, frames) if size is not None]
            if not sizes:
                raise StylevidError(f"no picture header in {input_path} could be read")
            # at --size every photo's long side is the same: the squarest one has the most pixels
            width, height = max(sizes, key=lambda wh: min(wh) / max(wh))
            return height, width
    return picture_dims(Path(input_path))


def picture_dims(path: Path) -> tuple[int, int]:
    """(height, width) of an image file from its header (EXIF orientation applied); nothing decoded."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)
    except Exception as error:  # noqa: BLE001 - any failure to read the header: the decoder says why later
        raise StylevidError(f"cannot read image {path}: {type(error).__name__}") from None
    return (width, height) if orientation in (5, 6, 7, 8) else (height, width)


def _style_dims(styles: Sequence[Any]) -> list[tuple[int, int]]:
    dims = []
    for style in styles:
        if isinstance(style, (str, os.PathLike)):
            dims.append(picture_dims(Path(style)))
        elif hasattr(style, "shape"):  # a picture already decoded
            dims.append((int(style.shape[0]), int(style.shape[1])))
    return dims


# --- the check -----------------------------------------------------------------------------------


def estimate_for_input(
    input_path: Path,
    kind: str,
    styles: Sequence[Any],
    config: StyleConfig | VideoConfig,
    device: str | None = None,
    precision: str | None = None,
) -> Estimate:
    """The estimate of a run on ``input_path`` (sizes read from headers) on ``device`` (default:
    the configured one) in ``precision`` (default: the configured one, "auto" decided for the device)."""
    style = config.style if isinstance(config, VideoConfig) else config
    device = device or run_device(style.device)
    if precision is None and device.startswith("cuda") and style.precision == "auto":
        import torch

        from .engine.device import resolve_precision

        precision = resolve_precision("auto", torch.device(device))
    source = input_dims(Path(input_path), kind)
    height, width = scaled(*source, style.size)
    return estimate_run(
        height, width, config, device=device, source=source, styles=_style_dims(styles), precision=precision
    )


#: the --tile suggested when a picture does not fit whole (about 2× the time of an untiled
#: iteration on the CPU, docs/performance.md "Tiling")
TILE_SUGGESTED = 512


#: --history auto: the pairs tried, most first, when an image does not fit even in the smallest tile
HISTORY_LADDER = (DEFAULT_HISTORY, 50, 20, 10, 5)

#: --tile auto: tiles whose crops (the tile and its halo) hold at most this many times the tile's own
#: pixels are tried with every history first; smaller, halo-bound tiles only when none of those fits.
#: 512-px tiles (1.7× by this count) measured 1.84–2.01× the untiled iteration time; a 64-px tile is
#: optimised through a crop of about 214 px, 11× its pixels (docs/performance.md).
TILE_MAX_CROP_RATIO = 2.0


@dataclass(frozen=True)
class MemoryPlan:
    """The tile and L-BFGS history of a run, and why: what ``--tile auto`` and ``--history auto`` became."""

    tile: int | None  # pixels a side; None: the whole picture at once
    history: int  # L-BFGS pairs
    asked_tile: str  # "auto", "off" or the number asked for
    asked_history: str  # "auto" or the number asked for
    reason: str  # one line, for the terminal and run.json

    @property
    def changed(self) -> bool:
        """Whether "auto" made the run differ from the whole picture with DEFAULT_HISTORY pairs."""
        return (self.asked_tile == "auto" and self.tile is not None) or (
            self.asked_history == "auto" and self.history != DEFAULT_HISTORY
        )

    def record(self) -> dict[str, Any]:
        """run.json's ``memory_plan``."""
        return {
            "tile": self.tile,
            "history": self.history,
            "asked": {"tile": self.asked_tile, "history": self.asked_history},
            "reason": self.reason,
        }

    def note(self) -> str:
        """The line a run prints when "auto" changed something."""
        parts = []
        if self.asked_tile == "auto" and self.tile is not None:
            parts.append(f"{self.tile}-px tiles")
        if self.asked_history == "auto" and self.history != DEFAULT_HISTORY:
            parts.append(f"{self.history} L-BFGS pairs")
        return f"to fit memory: {' and '.join(parts)} ({self.reason})"

    def apply(self, config: StyleConfig) -> StyleConfig:
        """``config`` with ``auto`` replaced by the plan (a tile or "off"; a number of pairs)."""
        changes: dict[str, Any] = {}
        if config.tile == "auto":
            changes["tile"] = self.tile if self.tile is not None else "off"
        if config.history_size == "auto":
            changes["history_size"] = self.history
        return config.replace(**changes) if changes else config


def tile_candidates(height: int, width: int, layers: Sequence[str]) -> list[int]:
    """Tiles that split a height × width picture evenly: for 2, 3, … tiles a side, the side that
    many take (rounded up to the pooling grid), down to MIN_TILE; largest first."""
    grid = pooling_grid(tuple(layers))
    long_side = max(height, width)
    tiles: list[int] = []
    for count in range(2, long_side // MIN_TILE + 2):
        side = max(_ceil_div(_ceil_div(long_side, count), grid), _ceil_div(MIN_TILE, grid)) * grid
        if side < long_side and side not in tiles:
            tiles.append(side)
        if side <= MIN_TILE:
            break
    return tiles


def crop_ratio(tile: int | None, height: int, width: int, layers: Sequence[str]) -> float:
    """Pixels a tile is optimised through (its crop: the tile and its halo, within the picture) ÷ its
    own pixels: about the time a tiled iteration takes ÷ an untiled one's. 1 for the whole picture."""
    if tile is None:
        return 1.0
    crop_h, crop_w = tile_view(height, width, tile, layers)
    return crop_h * crop_w / (min(tile, height) * min(tile, width))


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def plan_memory(input_path: Path, kind: str, styles: Sequence[Any], config: StyleConfig | VideoConfig) -> MemoryPlan:
    """The tile and history of a run. ``--tile N``/``off`` and ``--history N`` stay as asked. With
    ``--tile auto`` (the default) an image is whole when its memory estimate fits what the device
    has free (and ``--memory-limit``), else in the largest tile that fits (:func:`tile_candidates`:
    exact, it costs time only). With ``--history auto`` (the default) the run keeps DEFAULT_HISTORY
    pairs unless not even the smallest tile fits with them: then the most pairs of
    :data:`HISTORY_LADDER` that fit (fewer pairs cost final loss: docs/performance.md). When nothing
    fits the plan is the whole picture with all pairs (the memory check then refuses the run).
    Auto applies to images; a video's frames are whole with DEFAULT_HISTORY pairs unless asked."""
    style = config.style if isinstance(config, VideoConfig) else config
    asked_tile = str(style.tile) if style.tile is not None else "off"
    asked_history = str(style.history_size)

    def plan(tile: int | None, history: int, reason: str) -> MemoryPlan:
        return MemoryPlan(tile, history, asked_tile, asked_history, reason)

    tiles: list[int | None] = [style.tile_pixels]
    histories = [style.history_pairs]
    if style.tile != "auto" and style.history_size != "auto":
        return plan(style.tile_pixels, style.history_pairs, "as asked")
    if kind != "image" or isinstance(config, VideoConfig):
        return plan(style.tile_pixels, style.history_pairs, "videos and frame folders are planned only as asked")
    device = run_device(style.device)
    try:
        estimate = estimate_for_input(input_path, kind, styles, plan(None, DEFAULT_HISTORY, "").apply(style), device)
    except StylevidError:
        return plan(style.tile_pixels, style.history_pairs, "the input's size could not be read")
    if style.tile == "auto":
        tiles = [None]
        if not style.cuda_graphs:  # a tiled iteration is not one CUDA graph
            layers = (style.content_layer, *style.style_layers)
            tiles += list(tile_candidates(estimate.height, estimate.width, layers))
    if style.history_size == "auto" and style.optimizer == "lbfgs":
        histories = list(HISTORY_LADDER)
    budget, where = memory_budget(style, device)
    once = _once_per_process(device)
    source = input_dims(Path(input_path), kind)
    style_dims = _style_dims(styles)

    def need(tile: int | None, history: int) -> int:
        run = style.replace(tile=tile if tile is not None else "off", history_size=history)
        sized = estimate_run(
            estimate.height,
            estimate.width,
            run,
            device=device,
            source=source,
            styles=style_dims,
            precision=estimate.precision,
        )
        return once + sized.bytes

    first = need(tiles[0], histories[0])
    layers = (style.content_layer, *style.style_layers)
    cheap = [tile for tile in tiles if crop_ratio(tile, estimate.height, estimate.width, layers) <= TILE_MAX_CROP_RATIO]
    dear = [tile for tile in tiles if tile not in cheap]
    # most pairs first (fewer cost quality; a tile costs only time), among the tiles that cost little
    # time; only then the small tiles, whose crops are mostly halo
    order = [(history, tile) for group in (cheap, dear) for history in histories for tile in group]
    for history, tile in order:
        needed = first if (tile, history) == (tiles[0], histories[0]) else need(tile, history)
        if needed > budget:
            continue
        if (tile, history) == (tiles[0], histories[0]):
            return plan(tile, history, f"fits: about {format_bytes(needed)} of {format_bytes(budget)} {where}")
        what = (f"in {tile}-px tiles" if tile is not None else "whole") + (
            f" with {history} pairs" if history != histories[0] else ""
        )
        return plan(
            tile,
            history,
            f"as asked it needs about {format_bytes(first)}, {format_bytes(budget)} {where}; "
            f"{what} about {format_bytes(needed)}",
        )
    return plan(tiles[0], histories[0], f"nothing fits {format_bytes(budget)} {where}")


def memory_budget(style: StyleConfig, device: str) -> tuple[int, str]:
    """(bytes a run may use on ``device``, what bounds them in words): what is free, or --memory-limit."""
    free = available_bytes(device)
    where = "GPU memory free on " + device if device.startswith("cuda") else "RAM available"
    if style.memory_limit is not None and style.memory_limit < free:
        return style.memory_limit, f"allowed by --memory-limit ({format_bytes(free)} {where})"
    return free, where


def check_memory(
    input_path: Path, kind: str, styles: Sequence[Any], config: StyleConfig | VideoConfig
) -> Estimate | None:
    """Refuse a run whose estimate does not fit what its device has free (or ``memory_limit``),
    with one line: the estimate, what is available, and the largest --size (or --history) that fits.
    With ``--tile auto`` or ``--history auto`` the estimate is that of :func:`plan_memory`'s plan."""
    style = config.style if isinstance(config, VideoConfig) else config
    if style.tile == "auto" or style.history_size == "auto":
        style = plan_memory(input_path, kind, styles, config).apply(style)
        config = config.replace(style=style) if isinstance(config, VideoConfig) else style
    device = run_device(style.device)
    try:
        estimate = estimate_for_input(input_path, kind, styles, config, device)
    except StylevidError:
        return None  # a header that cannot be read: the decoder says why, in its own words
    once = _once_per_process(device)
    budget, where = memory_budget(style, device)
    if estimate.bytes + once <= budget:
        return estimate
    source = input_dims(Path(input_path), kind)
    style_dims = _style_dims(styles)

    def need(size: int, history: int | None = None, tile: int | None = style.tile_pixels) -> int:
        # stages given for --size do not fit another size: that one is estimated as "auto" plans it
        stages = {} if size == style.size else {"pyramid": "auto", "pyramid_iters": None}
        changed = style.replace(size=size, history_size=history or style.history_pairs, tile=tile or "off", **stages)
        run = config.replace(style=changed) if isinstance(config, VideoConfig) else changed
        height, width = scaled(*source, size)
        shrunk = estimate_run(
            height, width, run, device=device, source=source, styles=style_dims, precision=estimate.precision
        )
        return once + shrunk.bytes

    size = largest_fitting_sorted(need, budget, size_candidates(style.size))
    history = None
    if style.optimizer == "lbfgs":
        history = largest_fitting(
            lambda m: need(style.size, m), budget, [m for m in (50, 20, 10, 5, 2) if m < style.history_pairs]
        )
    tile = None
    untiled = style.tile_pixels is None
    if untiled and not style.cuda_graphs and max(estimate.height, estimate.width) > TILE_SUGGESTED:
        tile = TILE_SUGGESTED if need(style.size, tile=TILE_SUGGESTED) <= budget else None
    if tile is not None:
        hint = f"try --tile {tile} (exact: the same result in less memory)" + (
            f", or --size {size}" if size is not None else ""
        )
    elif history is not None:
        hint = f"try --history {history} (or --size {size})" if size is not None else f"try --history {history}"
    elif size is not None:
        hint = f"try --size {size}"
    else:
        hint = "even --size 64 does not fit; free some memory" + (
            " or raise --memory-limit" if style.memory_limit is not None else ""
        )
    raise StylevidError(
        f"not enough memory: a run at {estimate.width}×{estimate.height} needs about "
        f"{format_bytes(estimate.bytes + once)} (estimate), {format_bytes(budget)} {where}; {hint}"
    )


def _once_per_process(device: str) -> int:
    """What the run's process still has to pay once: the torch import (CPU), a CUDA context (GPU)."""
    if device.startswith("cuda"):
        import torch

        return 0 if torch.cuda.is_initialized() else CUDA_CONTEXT_BYTES
    return 0 if "torch" in sys.modules else TORCH_IMPORT_BYTES


# --- what a run used -----------------------------------------------------------------------------


class PeakMemory:
    """The peak memory a run adds to its process: on the CPU its resident size's high-water mark
    (reset at :meth:`start` where Linux allows, else ``ru_maxrss``) over the resident size at the
    start; on CUDA ``torch.cuda.max_memory_allocated`` over what was allocated at the start."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.baseline = 0
        self.method = ""

    def start(self) -> PeakMemory:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.reset_peak_memory_stats(self.device)
            self.baseline = torch.cuda.memory_allocated(self.device)
            self.method = "torch.cuda.max_memory_allocated"
            return self
        self.baseline = _status_bytes("VmRSS") or 0
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")  # resets VmHWM (the peak resident size) to the resident size now
            self.method = "VmHWM"
        except OSError:
            self.method = "ru_maxrss"
        return self

    def peak(self) -> int | None:
        """Bytes over the start's; None where it cannot be measured."""
        if self.device.startswith("cuda"):
            import torch

            return int(torch.cuda.max_memory_allocated(self.device)) - self.baseline
        if self.method == "VmHWM":
            high = _status_bytes("VmHWM")
        else:
            high = _max_rss()
        return None if high is None or not self.baseline else max(0, high - self.baseline)

    def record(self, estimate: Estimate | None) -> dict[str, Any]:
        """run.json's ``memory``: the estimate beside the measured peak."""
        peak = self.peak()
        data: dict[str, Any] = estimate.record() if estimate is not None else {"device": self.device}
        data.update({"peak_bytes": peak, "peak_measure": self.method})
        if estimate is not None and peak:
            data["peak_over_estimate"] = round(peak / estimate.bytes, 3)
        return data


def _max_rss() -> int | None:
    """The process's peak resident size since it started (None where there is no ``resource``)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is in bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _status_bytes(field: str) -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
