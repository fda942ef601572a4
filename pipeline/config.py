"""The typed configuration that travels through a run: :class:`StyleConfig` for the engine,
:class:`VideoConfig` (which holds a StyleConfig) for videos and frame folders.

Every field has a comment; the CLI maps its options onto these fields one to one, and the run
record stores them as JSON so a run can be repeated or resumed. Each object checks its own
fields when it is made; :mod:`.validation` checks what needs the machine (encoders, files).
This module imports neither torch nor OpenCV nor PyAV.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .checks import check_window, finite, one_of, positive_int
from .engine.layers import LAYER_NAMES, pooling_grid
from .engine.stages import check_pyramid, check_stage_iters, stage_sizes
from .errors import StylevidError

#: Layers of the paper (Gatys et al. 2016, section 2): content at relu4_2, style at relu1_1…relu5_1.
DEFAULT_CONTENT_LAYER = "relu4_2"
DEFAULT_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

OPTIMIZERS = ("lbfgs", "adam")
POOLINGS = ("max", "avg")
PRECISIONS = ("auto", "fp32", "bf16")
WEIGHTS_FORMATS = ("caffe", "torchvision")
NAMED_INITS = ("noise", "content", "style")

FRAME_INITS = ("prev-warped", "prev", "independent")
#: --init-sampling: how prev-warped resamples the previous stylised frame into a later frame's start
#: (motion/warp.py; the temporal loss and the warping error always sample bilinearly)
INIT_SAMPLINGS = ("bilinear", "bicubic")
#: --flow: "auto" picks per device (motion/flow.py); DIS presets, DeepFlow and DualTVL1 (OpenCV contrib),
#: RAFT large/small (torchvision, for GPUs), Farnebäck. docs/method.md, "Choosing the optical flow".
FLOW_METHODS = ("auto", "dis", "dis-fine", "deepflow", "tvl1", "raft", "raft-small", "farneback")
#: --cuts: detect scene cuts ("auto"), none ("off"), or the listed frames open new shots.
CUT_MODES = ("auto", "off")
#: --long-term: the furthest frame back a temporal term may reach (the ring buffer of stylised frames kept).
MAX_LONG_TERM = 32
OUTPUT_KINDS = ("auto", "video", "frames")
OUTPUT_SIZES = ("processing", "original")
#: Video encoders offered to users, in order of preference, with the top of each one's CRF scale.
VIDEO_CODECS = ("libx264", "libx265", "mpeg4", "libvpx-vp9")
BIT_DEPTHS = (8, 16)
#: --history-dtype: the L-BFGS pairs in fp32, or in a 16-bit type (pipeline/engine/lbfgs.py)
HISTORY_DTYPES = ("fp32", "bf16", "fp16")
#: L-BFGS pairs of --history auto when memory allows (the paper-era default of torch.optim.LBFGS)
DEFAULT_HISTORY = 100
#: --max-step: the largest RMS change per pixel of one L-BFGS step (docs/method.md "The L-BFGS step cap")
DEFAULT_MAX_STEP = 0.02
#: --tile besides a number of pixels: chosen by the memory estimate ("auto"), or never ("off").
TILE_MODES = ("auto", "off")
#: Smallest --tile: each tile is run with a halo of about 150 px, so smaller tiles spend most of their time on it.
MIN_TILE = 64
MAX_CRF = {"libx264": 51, "libx265": 51, "mpeg4": 51, "libvpx-vp9": 63}


@dataclass(frozen=True)
class StyleConfig:
    """Settings of one stylisation (an image, or each frame of a video)."""

    # --- sizes -------------------------------------------------------------------------------
    size: int = 512  # long side of the processed (and saved) image in pixels
    style_scale: float = 1.0  # style image long side = size × style_scale

    # coarse-to-fine (engine/stages.py, engine/pyramid.py): "auto" (on from PYRAMID_FROM px, stages
    # halving down to MIN_STAGE), "off", or the stages' long sides, increasing, the last = size
    pyramid: str | tuple[int, ...] = "auto"
    # iterations of each stage; None → `iters` for the coarsest, half the previous stage's for each later one
    pyramid_iters: tuple[int, ...] | None = None

    # --- loss (paper notation: total = α·content + β·style + tv·TV (+ temporal for video)) ------
    content_layer: str = DEFAULT_CONTENT_LAYER  # VGG layer whose responses are matched (½Σ(F−P)²)
    style_layers: tuple[str, ...] = DEFAULT_STYLE_LAYERS  # layers whose Gram matrices are matched
    style_layer_weights: tuple[float, ...] | None = None  # w_l per style layer; None → equal, 1/L
    content_weight: float = 1.0  # α
    style_weight: float | None = None  # β; None → default for the weights' convention, scaled by area/512²
    tv_weight: float = 0.0  # weight of the squared total-variation smoothness term
    style_blend: tuple[float, ...] | None = None  # blend weights of several style images; None → equal

    # --- optimisation ----------------------------------------------------------------------------
    optimizer: str = "lbfgs"  # "lbfgs" (paper) or "adam"
    iters: int = 500  # optimisation iterations (one loss+gradient evaluation each)
    lr: float | None = None  # step size: L-BFGS 1.0, Adam 0.02 (pixels in 0–1) when None
    # L-BFGS memory (pairs of steps and gradient changes); "auto" → DEFAULT_HISTORY, fewer when the
    # memory estimate says an image does not fit even in tiles (pipeline/budget.py: plan_memory)
    history_size: int | str = "auto"
    # type the L-BFGS pairs are stored in: "fp32", or "bf16"/"fp16" (half the bytes; maths stays fp32)
    history_dtype: str = "fp32"
    # L-BFGS: each step scaled down to at most this RMS change per pixel (pixels 0–1), so that an
    # early quasi-Newton step cannot throw the picture far out of range; 0 → uncapped (the plain
    # fixed step of torch.optim.LBFGS). docs/method.md "The L-BFGS step cap"
    max_step: float = DEFAULT_MAX_STEP
    init: str = "content"  # "content", "noise" (seeded white noise, the paper's), "style", or an image path
    seed: int = 0  # seeds the noise; with the same seed a CPU run is bit-for-bit repeatable
    pooling: str = "max"  # "max" (VGG as trained) or "avg" (the paper's suggestion)
    preserve_colors: bool = False  # luminance-only transfer: keep the content's colours

    # --- model and machine -------------------------------------------------------------------------
    # None → $STYLEVID_WEIGHTS, else "torchvision" (download on first use); or a state-dict file path
    weights: str | None = None
    weights_format: str | None = None  # input convention of `weights`: "caffe" or "torchvision"
    device: str = "auto"  # "auto", "cpu", "cuda" or "cuda:N"
    precision: str = "auto"  # "fp32" (reference), "bf16" (fast path on CUDA), "auto" picks per device
    cuda_graphs: bool = False  # CUDA: replay each iteration's loss and gradient from a recorded CUDA graph
    # bytes the run may use at most (RAM on the CPU, GPU memory on CUDA), checked against the memory
    # estimate before any work; None → what the device has free (pipeline/budget.py)
    memory_limit: int | None = None
    # exact tiling: the network runs on tiles of this many pixels a side (plus a halo), with the loss
    # and gradient of the whole picture (engine/tiling.py); "off" or None → the whole picture at once;
    # "auto" → whole, unless the memory estimate says an image does not fit: then the largest tile
    # that does (pipeline/budget.py: choose_tile; the job replaces "auto" with what it chose)
    tile: int | str | None = "auto"

    # --- output ------------------------------------------------------------------------------------
    bit_depth: int = 8  # bits per channel of a saved image: 8, or 16 (PNG/TIFF; video frames stay 8-bit)

    def __post_init__(self) -> None:
        validate(self)

    def replace(self, **changes: Any) -> StyleConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @property
    def history_pairs(self) -> int:
        """The L-BFGS pairs the engine keeps: the number asked for, or DEFAULT_HISTORY for "auto"."""
        return self.history_size if isinstance(self.history_size, int) else DEFAULT_HISTORY

    @property
    def tile_pixels(self) -> int | None:
        """The tile side the engine uses: a number of pixels, or None (whole; "auto" not yet chosen)."""
        return self.tile if isinstance(self.tile, int) else None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StyleConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in known}
        return cls(**values)


def validate(config: StyleConfig) -> None:
    """Check every field; raise StylevidError naming the first bad one."""
    positive_int("size", config.size)
    if config.size < 16:
        raise StylevidError(f"size must be at least 16 px (VGG pools four times), got {config.size}")
    finite("style scale", config.style_scale, positive=True)
    positive_int("iterations", config.iters)
    check_pyramid(config.pyramid, config.size)
    if config.pyramid_iters is not None:
        check_stage_iters(config.pyramid_iters, len(stage_sizes(config.pyramid, config.size)))
    if isinstance(config.history_size, str):
        one_of("--history", config.history_size, ("auto",))
    else:
        positive_int("L-BFGS history size", config.history_size)
    for name in (config.content_layer, *config.style_layers):
        if name not in LAYER_NAMES:
            raise StylevidError(
                f"unknown VGG layer {name!r}; use names like relu1_1 … relu5_1, relu4_2 (see `stylevid --help`)"
            )
    if not config.style_layers:
        raise StylevidError("at least one style layer is needed")
    if config.style_layer_weights is not None:
        if len(config.style_layer_weights) != len(config.style_layers):
            raise StylevidError(
                f"{len(config.style_layer_weights)} style layer weights given "
                f"for {len(config.style_layers)} style layers"
            )
        for w in config.style_layer_weights:
            finite("style layer weight", w)
    finite("content weight", config.content_weight)
    if config.style_weight is not None:
        finite("style weight", config.style_weight)
    finite("TV weight", config.tv_weight)
    if config.style_blend is not None:
        for w in config.style_blend:
            finite("style blend weight", w)
        if sum(config.style_blend) <= 0:
            raise StylevidError("style blend weights must not all be zero")
    if config.lr is not None:
        finite("learning rate", config.lr, positive=True)
    one_of("optimizer", config.optimizer, OPTIMIZERS)
    one_of("--history-dtype", config.history_dtype, HISTORY_DTYPES)
    finite("--max-step", config.max_step)
    one_of("pooling", config.pooling, POOLINGS)
    one_of("precision", config.precision, PRECISIONS)
    if config.weights_format is not None:
        one_of("weights format", config.weights_format, WEIGHTS_FORMATS)
    if not isinstance(config.cuda_graphs, bool):
        raise StylevidError(f"cuda_graphs must be true or false, got {config.cuda_graphs!r}")
    if config.memory_limit is not None:
        positive_int("memory limit (bytes)", config.memory_limit)
    if isinstance(config.tile, str):
        one_of("--tile", config.tile, TILE_MODES)
    elif config.tile is not None:
        check_tile(config.tile, (config.content_layer, *config.style_layers))
        if config.cuda_graphs:
            raise StylevidError("--tile and --cuda-graphs do not go together: a tiled iteration is not one CUDA graph")
    if config.bit_depth not in BIT_DEPTHS or isinstance(config.bit_depth, bool):
        raise StylevidError(f"--bit-depth must be 8 or 16, got {config.bit_depth!r}")
    if not isinstance(config.seed, int) or isinstance(config.seed, bool):
        raise StylevidError(f"seed must be a whole number, got {config.seed!r}")
    if not config.init:
        raise StylevidError("init must be content, noise, style or an image file")


def parse_history(text: str) -> int | str:
    """--history as the user wrote it: "auto" or a number of pairs (checked by the config)."""
    text = text.strip().lower()
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise StylevidError(f"--history must be auto or a number of pairs like 100; got {text!r}") from None


def parse_tile(text: str) -> int | str:
    """--tile as the user wrote it: "auto", "off" or a number of pixels (checked by the config)."""
    text = text.strip().lower()
    if text in TILE_MODES:
        return text
    try:
        return int(text)
    except ValueError:
        raise StylevidError(f"--tile must be auto, off or a number of pixels like 512; got {text!r}") from None


def check_tile(tile: object, layers: tuple[str, ...]) -> None:
    """--tile: a whole number of pixels, at least MIN_TILE, on the pooling grid of ``layers``."""
    positive_int("--tile", tile, minimum=MIN_TILE)
    assert isinstance(tile, int)
    grid = pooling_grid(layers)
    if tile % grid:
        raise StylevidError(
            f"--tile must be a multiple of {grid} px (the pooling grid of the deepest VGG layer used), "
            f"got {tile}; try {max(MIN_TILE, tile // grid * grid)}"
        )


@dataclass(frozen=True)
class VideoConfig:
    """Settings of a video or frame-folder run (the engine's own live in ``style``)."""

    style: StyleConfig = field(default_factory=StyleConfig)  # engine settings; style.iters is frame 1's budget
    frame_iters: int = 150  # iteration budget of every later frame
    batch_frames: int = 1  # later frames optimised together as one batch, coupled by the temporal loss (GPU throughput)
    frame_init: str = "prev-warped"  # "prev-warped", "prev" or "independent"
    # how prev-warped resamples the previous stylised frame into the start: one of INIT_SAMPLINGS ("bicubic"
    # keeps more of the fine texture the style loss measures; docs/method.md "Defaults, and why")
    init_sampling: str = "bilinear"
    temporal_weight: float | None = None  # λ_t of the temporal loss; 0 disables; None → area-scaled default
    flow_method: str = "auto"  # optical flow on the original frames: one of FLOW_METHODS; "auto" picks per device
    # a folder of precomputed .flo files (backward_J_I.flo per pair; see motion/given_flow.py) used instead
    # of flow_method for the warped init, the temporal loss and the warping error; None → estimate
    flow_dir: str | None = None
    early_stop: bool = True  # later frames stop when the loss stops improving
    start: int | float | None = None  # first frame: index, or seconds (float)
    end: int | float | None = None  # end (exclusive): index, or seconds (float)
    every: int = 1  # keep every N-th frame (previews)
    fps: Fraction | None = None  # frame rate of a frame-folder input (default 25)
    output: str = "auto"  # "video", "frames", or "auto" (same kind as the input)
    output_size: str = "processing"  # "processing" (--size) or "original" (upscaled to the source)
    codec: str = "libx264"  # video encoder
    crf: int = 18  # encoder quality (lower is better)
    audio: bool = True  # copy (or re-encode) the source's audio streams
    gif_frame: int = 0  # which frame's optimisation the progress GIF shows
    # scene cuts: "auto" (detected, motion/cuts.py), "off", or the 0-based positions of the frames
    # that open new shots (sorted, each ≥ 1); a frame that opens a shot is stylised as frame 0 is
    cuts: str | tuple[int, ...] = "auto"
    # multi-pass (Ruder et al. 2016, Sec. 3.3; video/passes.py): 1 → one forward pass; N > 1 → N passes,
    # alternately backward and forward, each frame started from its neighbour in the pass (warped)
    # blended with its own previous-pass result, and pulled towards that neighbour by the temporal loss
    passes: int = 1
    pass_iters: int | None = None  # iteration budget of every frame in passes 2…N; None → frame_iters // 2
    # long-term consistency (Ruder et al. 2016, sec. 3.2): the frame gaps j of the temporal terms (frame t
    # against stylised frame t−j, warped by the flow between the originals t and t−j, weighted closest-first;
    # motion/long_term.py). Increasing, starting at 1; (1,) → the short-term loss only
    long_term: tuple[int, ...] = (1,)
    # --- scale-out (Ray; docs/scale-out.md) ----------------------------------------------------
    workers: int = 0  # Ray workers (one per device); 0 → no Ray, unless `cluster` is set (then one per GPU/CPU core)
    cluster: str | None = None  # an existing Ray cluster: "auto" (found on this machine) or HOST:PORT; None → local
    segment_frames: int | None = None  # frames per segment of a shot; None → frames ÷ workers (÷ 4·workers on GPUs)

    def __post_init__(self) -> None:
        if not isinstance(self.style, StyleConfig):
            raise StylevidError(f"style must be a StyleConfig, got {type(self.style).__name__}")
        if self.style.bit_depth != 8:
            raise StylevidError("--bit-depth 16 is for images; video frames and frame folders are written 8-bit")
        positive_int("frame iterations", self.frame_iters)
        positive_int("--batch-frames", self.batch_frames, maximum=64)
        if self.batch_frames > 1 and self.style.optimizer != "lbfgs":
            raise StylevidError(
                "--batch-frames needs --optimizer lbfgs (the rolling batch keeps an L-BFGS history per frame)"
            )
        one_of("frame init", self.frame_init, FRAME_INITS)
        one_of("init sampling", self.init_sampling, INIT_SAMPLINGS)
        if self.temporal_weight is not None:
            finite("temporal weight", self.temporal_weight)
        one_of("flow method", self.flow_method, FLOW_METHODS)
        if self.flow_dir is not None and (not isinstance(self.flow_dir, str) or not self.flow_dir):
            raise StylevidError(f"--flow-dir must be a folder path, got {self.flow_dir!r}")
        check_window(self.start, self.end, self.every)
        if self.fps is not None and not (isinstance(self.fps, Fraction) and self.fps > 0):
            raise StylevidError(f"--fps must be positive, got {self.fps}")
        one_of("output", self.output, OUTPUT_KINDS)
        one_of("output size", self.output_size, OUTPUT_SIZES)
        one_of("codec", self.codec, VIDEO_CODECS)
        positive_int(f"--crf for {self.codec}", self.crf, minimum=0, maximum=MAX_CRF[self.codec])
        if not isinstance(self.gif_frame, int) or isinstance(self.gif_frame, bool) or self.gif_frame < 0:
            raise StylevidError(f"--gif-frame must be 0 or more, got {self.gif_frame}")
        check_cuts(self.cuts)
        check_passes(self)
        check_long_term(self.long_term)
        if self.long_term != (1,):
            if self.batch_frames > 1:
                raise StylevidError(
                    "--long-term needs --batch-frames 1 (a rolling batch holds each frame to the one before only)"
                )
            if self.scaled_out:
                raise StylevidError("--long-term cannot be combined with --workers/--cluster yet; use one or the other")
            if self.passes > 1:
                raise StylevidError("--long-term cannot be combined with --passes yet; use one or the other")
        positive_int("--workers", self.workers, minimum=0, maximum=4096)
        if self.segment_frames is not None:
            positive_int("--segment-frames", self.segment_frames)
        if self.cluster is not None and (not isinstance(self.cluster, str) or not self.cluster.strip()):
            raise StylevidError(f"--cluster must be auto or HOST:PORT, got {self.cluster!r}")
        if self.scaled_out and self.flow_dir is not None:
            raise StylevidError("--flow-dir cannot be combined with --workers/--cluster yet; use one or the other")
        if self.scaled_out and self.batch_frames > 1:
            raise StylevidError(
                "--batch-frames > 1 cannot be combined with --workers/--cluster yet; use one or the other"
            )

    def replace(self, **changes: Any) -> VideoConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """As JSON stores it: the engine's settings under "style", fps as text like "30000/1001"."""
        data = dataclasses.asdict(self)
        data["fps"] = None if self.fps is None else str(self.fps)
        return data

    @property
    def later_pass_iters(self) -> int:
        """Iteration budget of every frame in passes 2…N (multi-pass)."""
        return self.pass_iters if self.pass_iters is not None else max(1, self.frame_iters // 2)

    @property
    def scaled_out(self) -> bool:
        """Whether the run goes through Ray (:mod:`.scale`)."""
        return self.workers > 0 or self.cluster is not None

    def output_kind(self, input_kind: str) -> str:
        """ "video" or "frames": what a run on an input of ``input_kind`` ("video" or "folder") writes."""
        if self.output != "auto":
            return self.output
        return "video" if input_kind == "video" else "frames"


def check_passes(config: VideoConfig) -> None:
    """--passes and --pass-iters, and what multi-pass does not go with (checked before any work)."""
    positive_int("--passes", config.passes, maximum=100)
    if config.pass_iters is not None:
        positive_int("--pass-iters", config.pass_iters)
    if config.passes == 1:
        return
    if config.frame_init != "prev-warped":
        raise StylevidError(f"--passes {config.passes} needs --frame-init prev-warped, got {config.frame_init}")
    if config.scaled_out:
        raise StylevidError("--passes > 1 cannot be combined with --workers/--cluster yet; use one or the other")
    if config.flow_dir is not None:
        raise StylevidError("--passes > 1 cannot be combined with --flow-dir yet (backward passes need forward flow)")


def check_cuts(cuts: Any) -> None:
    """StylevidError unless ``cuts`` is one of :data:`CUT_MODES` or increasing frame positions ≥ 1."""
    if isinstance(cuts, str):
        one_of("--cuts", cuts, CUT_MODES)
        return
    if not isinstance(cuts, tuple) or not cuts:
        raise StylevidError(f"--cuts must be auto, off or frame positions like 8,120; got {cuts!r}")
    for position in cuts:
        if isinstance(position, bool) or not isinstance(position, int) or position < 1:
            raise StylevidError(
                f"--cuts positions must be whole numbers of at least 1 (frame 0 opens the first shot), got {position!r}"
            )
    if list(cuts) != sorted(set(cuts)):
        raise StylevidError(f"--cuts positions must increase, got {','.join(map(str, cuts))}")


def check_long_term(gaps: Any) -> None:
    """StylevidError unless ``gaps`` are increasing whole numbers from 1 up to :data:`MAX_LONG_TERM`."""
    shown = ",".join(map(str, gaps)) if isinstance(gaps, tuple) else repr(gaps)
    if not isinstance(gaps, tuple) or not gaps:
        raise StylevidError(f"--long-term must be frame gaps like 1,2,4; got {shown}")
    for gap in gaps:
        if isinstance(gap, bool) or not isinstance(gap, int) or not 1 <= gap <= MAX_LONG_TERM:
            raise StylevidError(f"--long-term gaps must be whole numbers from 1 to {MAX_LONG_TERM}, got {gap!r}")
    if len(set(gaps)) != len(gaps):
        raise StylevidError(f"--long-term lists a gap twice: {shown}")
    if list(gaps) != sorted(gaps):
        raise StylevidError(
            f"--long-term gaps must increase (closest first), got {shown}; try {','.join(map(str, sorted(gaps)))}"
        )
    if gaps[0] != 1:
        raise StylevidError(
            f"--long-term must start with 1 (the frame before, which the warped start comes from), got {shown}"
        )


def parse_long_term(text: str) -> tuple[int, ...]:
    """--long-term as the user wrote it: "1,2,4" (frame gaps, closest first)."""
    try:
        gaps = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise StylevidError(f"--long-term must be frame gaps like 1,2,4; got {text.strip()!r}") from None
    check_long_term(gaps)
    return gaps


def parse_cuts(text: str) -> str | tuple[int, ...]:
    """--cuts as the user wrote it: "auto", "off" or "F1,F2,…" (0-based frame positions)."""
    text = text.strip()
    if text.lower() in CUT_MODES:
        return text.lower()
    try:
        cuts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise StylevidError(f"--cuts must be auto, off or frame positions like 8,120; got {text!r}") from None
    check_cuts(cuts)
    return cuts
