"""`stylevid` — the command line: a thin Typer shell over stylevid.pipeline.

    stylevid INPUT --style STYLE [-o OUT] [options]     INPUT: an image, a video or a folder of frames
    stylevid eval STYLISED ORIGINAL                      warping error of any stylised clip

Every problem a user can fix ends in one line on stderr and exit code 2; Ctrl-C, SIGTERM or SIGHUP
in a video run finishes the frame in flight, saves it and exits 130, 143 or 129 (run the same
command again to resume); a second one stops at once.
Heavy modules are imported inside the commands: torch and OpenCV after the validation pass, PyAV
only to probe a video. `--help` and an error in the input start fast.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import typer

from stylevid.pipeline.config import DEFAULT_MAX_STEP
from stylevid.pipeline.errors import StylevidError

HELP = """Paint an image, a video or a folder of frames in the style of an artwork
(Gatys, Ecker & Bethge's optimisation method; for videos with flow-warped warm starts and
the temporal loss of Ruder et al.).

[b]Examples[/b]

  stylevid photo.jpg --style starry.jpg -o out/

  stylevid clip.mp4 --style starry.jpg --size 384 -o out/

  stylevid frames/ --style wave.jpg --fps 24 -o out/

  stylevid photos/ --style wave.jpg --frame-init independent -o out/   (photos of different sizes: a batch)

  stylevid photo.jpg -s starry.jpg -s wave.jpg --each-style -o out/   (one output per style: out/starry/, out/wave/)

  stylevid eval out/clip_stylised.mp4 clip.mp4   (warping error of a stylised clip)

OUT (a folder) receives the result (picture, video or frames), progress.gif (the optimisation
of the picture, or of a video's --gif-frame), losses.png, run.json and, for videos, preview.gif
and frame_losses.png. A video run keeps its finished frames in OUT/.work: run the same command
again to resume after a crash or Ctrl-C. A batch of photos writes NAME_stylised.png per photo and
run.json; run it again to skip the photos already done.
"""

IMAGES = "Style and loss"
OPTIM = "Optimisation"
VIDEO = "Video and frame folders"
MODEL = "Model, device and speed"
SCALE = "Scale-out (Ray; pip install 'stylevid[ray]')"
OUTPUT = "Output"

app = typer.Typer(
    add_completion=False, rich_markup_mode="rich", context_settings={"help_option_names": ["-h", "--help"]}
)


def _floats(text: str | None, what: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise StylevidError(f"{what} must be comma-separated numbers like 0.7,0.3; got {text!r}") from None


def _names(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _position(text: str | None):
    if text is None:
        return None
    from stylevid.pipeline.io.timecode import parse_time_or_index

    return parse_time_or_index(text)


@app.command(help=HELP, no_args_is_help=True)
def stylize(
    input: Path = typer.Argument(..., help="Image, video, or folder of frames to stylise.", show_default=False),
    style: list[Path] = typer.Option(
        ..., "--style", "-s", help="Style image; repeat for several styles.", rich_help_panel=IMAGES, show_default=False
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Output folder \\[default: stylevid-out/INPUT-NAME].",
        rich_help_panel=OUTPUT,
        show_default=False,
    ),
    size: int | None = typer.Option(
        None,
        help="Long side of the processed picture in pixels \\[default: 512, or the last --pyramid stage].",
        rich_help_panel=IMAGES,
        show_default=False,
    ),
    style_scale: float = typer.Option(1.0, help="Style image long side = size × this.", rich_help_panel=IMAGES),
    style_weights: str | None = typer.Option(
        None, help="Blend weights of several styles, e.g. 0.7,0.3.", rich_help_panel=IMAGES
    ),
    each_style: bool = typer.Option(
        False,
        "--each-style",
        help="One output per --style (OUT/STYLE-NAME/ each) instead of one blend; with --workers the "
        "styles spread over the workers.",
        rich_help_panel=IMAGES,
    ),
    content_weight: float = typer.Option(
        1.0, "--content-weight", "--alpha", help="α: weight of the content loss.", rich_help_panel=IMAGES
    ),
    style_weight: float | None = typer.Option(
        None,
        "--style-weight",
        "--beta",
        help="β: weight of the style loss \\[default: scaled to the picture's area].",
        rich_help_panel=IMAGES,
        show_default=False,
    ),
    tv_weight: float = typer.Option(0.0, help="Weight of the total-variation smoothness term.", rich_help_panel=IMAGES),
    content_layer: str = typer.Option("relu4_2", help="VGG layer of the content loss.", rich_help_panel=IMAGES),
    style_layers: str = typer.Option(
        "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1",
        help="VGG layers of the style loss (comma-separated).",
        rich_help_panel=IMAGES,
    ),
    layer_weights: str | None = typer.Option(
        None, help="Weights of the style layers \\[default: equal].", rich_help_panel=IMAGES, show_default=False
    ),
    pooling: str = typer.Option(
        "max", help="VGG pooling: max or avg (the paper's suggestion).", rich_help_panel=IMAGES
    ),
    preserve_colors: bool = typer.Option(
        False, "--preserve-colors", help="Keep the content's colours (luminance-only transfer).", rich_help_panel=IMAGES
    ),
    iters: int = typer.Option(
        500, "--iters", "-n", help="Iterations (for a video: of the first frame).", rich_help_panel=OPTIM
    ),
    pyramid: str = typer.Option(
        "auto",
        help="Coarse-to-fine: stage sizes like 512,1024,2048 (each starts from the last, upsampled), off, "
        "or auto (on from 1024 px: stages halving down to 512 px).",
        rich_help_panel=OPTIM,
    ),
    scales: int | None = typer.Option(
        None,
        help="Coarse-to-fine in N stages, halving down from --size (shorthand for --pyramid).",
        rich_help_panel=OPTIM,
        show_default=False,
    ),
    pyramid_iters: str | None = typer.Option(
        None,
        help="Iterations of each stage, e.g. 500,250,125 \\[default: --iters for the first, half the "
        "previous stage's for each next].",
        rich_help_panel=OPTIM,
        show_default=False,
    ),
    optimizer: str = typer.Option("lbfgs", help="lbfgs (the paper's) or adam.", rich_help_panel=OPTIM),
    lr: float | None = typer.Option(
        None, help="Step size \\[default: 1 for L-BFGS, 0.02 for Adam].", rich_help_panel=OPTIM, show_default=False
    ),
    history: str = typer.Option(
        "auto",
        help="L-BFGS history size (pairs). auto: 100, fewer only when an image does not fit memory even in tiles.",
        rich_help_panel=OPTIM,
    ),
    init: str = typer.Option(
        "content", help="Start from: content, noise (the paper's), style, or an image file.", rich_help_panel=OPTIM
    ),
    seed: int = typer.Option(0, help="Seed of the noise; a CPU run repeats bit for bit.", rich_help_panel=OPTIM),
    frame_iters: int = typer.Option(
        150, help="Iterations of each later frame (early stop may use fewer).", rich_help_panel=VIDEO
    ),
    batch_frames: int = typer.Option(
        1,
        help="Keep this many later frames in flight together as a rolling batch "
        "(faster on a GPU; see docs/performance.md).",
        rich_help_panel=VIDEO,
    ),
    frame_init: str = typer.Option(
        "prev-warped", help="Later frames start from: prev-warped, prev or independent.", rich_help_panel=VIDEO
    ),
    init_sampling: str = typer.Option(
        "bilinear",
        help="How prev-warped resamples the previous frame into the start: bilinear or bicubic (sharper).",
        rich_help_panel=VIDEO,
    ),
    temporal_weight: float | None = typer.Option(
        None,
        help="λ_t of the temporal loss; 0 disables \\[default: scaled to the frame's area].",
        rich_help_panel=VIDEO,
        show_default=False,
    ),
    flow: str = typer.Option(
        "auto",
        help="Optical flow: auto (RAFT on a GPU where its weights can be had, else DeepFlow), dis, dis-fine, "
        "deepflow, tvl1, raft, raft-small or farneback; see docs/method.md.",
        rich_help_panel=VIDEO,
    ),
    flow_dir: Path | None = typer.Option(
        None,
        help="Use precomputed flow: backward_J_I.flo per frame pair (frames numbered from 1) "
        "instead of --flow; see docs/usage.md.",
        rich_help_panel=VIDEO,
        show_default=False,
    ),
    early_stop: bool = typer.Option(
        True,
        "--early-stop/--no-early-stop",
        help="Stop a later frame when its loss stops improving.",
        rich_help_panel=VIDEO,
    ),
    start: str | None = typer.Option(
        None, help="First frame: an index (0 = first) or a time like 1.5s.", rich_help_panel=VIDEO, show_default=False
    ),
    end: str | None = typer.Option(
        None,
        help="Stop before this frame index or time (16 keeps frames 0–15).",
        rich_help_panel=VIDEO,
        show_default=False,
    ),
    every: int = typer.Option(1, help="Keep every N-th frame (quick previews).", rich_help_panel=VIDEO),
    fps: str | None = typer.Option(
        None,
        help="Frame rate of a frame-folder input, e.g. 24 or 30000/1001 \\[default: 25].",
        rich_help_panel=VIDEO,
        show_default=False,
    ),
    to: str = typer.Option("auto", help="Output kind: video, frames, or auto (like the input).", rich_help_panel=VIDEO),
    output_size: str = typer.Option(
        "processing", help="Video/frames size: processing (--size) or original.", rich_help_panel=VIDEO
    ),
    codec: str = typer.Option(
        "libx264", help="Video encoder: libx264, libx265, mpeg4, libvpx-vp9.", rich_help_panel=VIDEO
    ),
    crf: int = typer.Option(18, help="Encoder quality (lower is better).", rich_help_panel=VIDEO),
    audio: bool = typer.Option(True, "--audio/--no-audio", help="Keep the source's audio.", rich_help_panel=VIDEO),
    gif_frame: int = typer.Option(0, help="Frame whose optimisation progress.gif shows.", rich_help_panel=VIDEO),
    cuts: str = typer.Option(
        "auto",
        help="Scene cuts: auto (detected), off, or the 0-based frames that open new shots, e.g. 120,348; "
        "a frame after a cut is stylised afresh, like frame 0.",
        rich_help_panel=VIDEO,
    ),
    passes: int = typer.Option(
        1,
        help="Ruder et al.'s multi-pass: 1, or N passes alternately backward and forward, each frame started "
        "from its warped neighbour blended with its previous pass (docs/method.md#multi-pass).",
        rich_help_panel=VIDEO,
    ),
    pass_iters: int | None = typer.Option(
        None,
        help="Iterations of each frame in passes 2…N \\[default: half of --frame-iters].",
        rich_help_panel=VIDEO,
        show_default=False,
    ),
    long_term: str = typer.Option(
        "1",
        help="Long-term consistency: hold each frame to the stylised frames this many back, closest first, "
        "e.g. 1,2,4 (Ruder et al. 2016); 1 = the frame before only.",
        rich_help_panel=VIDEO,
    ),
    restart: bool = typer.Option(
        False,
        "--restart",
        help="Discard frames (or a batch's photos) saved by an earlier run with other settings.",
        rich_help_panel=VIDEO,
    ),
    weights: str | None = typer.Option(
        None,
        help="VGG19 weights: torchvision (download) or a state-dict file \\[env: STYLEVID_WEIGHTS].",
        rich_help_panel=MODEL,
        show_default=False,
    ),
    weights_format: str | None = typer.Option(
        None,
        help="Input convention of a weights file: caffe or torchvision \\[env: STYLEVID_WEIGHTS_FORMAT].",
        rich_help_panel=MODEL,
        show_default=False,
    ),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N.", rich_help_panel=MODEL),
    precision: str = typer.Option(
        "auto",
        help="auto (bf16 fast path on GPUs with native bf16, else fp32), fp32 (reference) or bf16.",
        rich_help_panel=MODEL,
    ),
    cuda_graphs: bool = typer.Option(
        False,
        "--cuda-graphs/--no-cuda-graphs",
        help="CUDA: replay each iteration from a recorded CUDA graph (fewer kernel launches).",
        rich_help_panel=MODEL,
    ),
    workers: int = typer.Option(
        0,
        help="Ray workers: one per GPU (or CPU workers splitting the cores); 0 runs in this process. "
        "See docs/scale-out.md.",
        rich_help_panel=SCALE,
    ),
    cluster: str | None = typer.Option(
        None,
        help="Run on an existing Ray cluster: auto (started with `ray start`) or HOST:PORT.",
        rich_help_panel=SCALE,
        show_default=False,
    ),
    segment_frames: int | None = typer.Option(
        None,
        help="Frames per segment of a shot for the workers \\[default: frames ÷ workers; ÷ 4 × workers on GPUs].",
        rich_help_panel=SCALE,
        show_default=False,
    ),
    memory_limit: str | None = typer.Option(
        None,
        help="Most memory the run may use, e.g. 8G or 512M (RAM, or GPU memory on CUDA); "
        "checked against the run's estimate before any work \\[default: what is free].",
        rich_help_panel=MODEL,
        show_default=False,
    ),
    tile: str = typer.Option(
        "auto",
        help="Run the network on tiles of N px (a multiple of 16, at least 64) with the whole picture's "
        "loss and gradient: bounded memory at large sizes, about 1.5–3× the time. auto: only when the "
        "memory estimate says an image does not fit whole (the largest tile that fits); off: never.",
        rich_help_panel=MODEL,
    ),
    max_step: float = typer.Option(
        DEFAULT_MAX_STEP,
        help="L-BFGS: scale each step down to at most this RMS change per pixel (0–1 scale), so that an "
        "early step cannot throw the picture out of range; 0: uncapped (the plain fixed step).",
        rich_help_panel=OPTIM,
    ),
    history_dtype: str = typer.Option(
        "fp32",
        help="Type the L-BFGS history is stored in: fp32, or bf16/fp16 (half the memory; maths stays fp32).",
        rich_help_panel=OPTIM,
    ),
    bit_depth: int = typer.Option(
        8,
        help="Bits per channel of the saved image: 8, or 16 (PNG, for print; videos stay 8-bit).",
        rich_help_panel=OUTPUT,
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the output path.", rich_help_panel=OUTPUT),
) -> None:
    from stylevid.pipeline.budget import check_memory, parse_memory
    from stylevid.pipeline.config import (
        StyleConfig,
        VideoConfig,
        parse_cuts,
        parse_history,
        parse_long_term,
        parse_tile,
    )
    from stylevid.pipeline.engine.stages import parse_sizes
    from stylevid.pipeline.io.paths import create_output_folder, default_output
    from stylevid.pipeline.validation import check_each_style, check_folder, check_video_settings, validate_run

    style_list = _names(style_layers) or ()
    stages, size = _pyramid(pyramid, scales, size)
    config = StyleConfig(
        size=size,
        pyramid=stages,
        pyramid_iters=None if pyramid_iters is None else parse_sizes(pyramid_iters, "--pyramid-iters"),
        style_scale=style_scale,
        content_layer=content_layer,
        style_layers=style_list,
        style_layer_weights=_floats(layer_weights, "--layer-weights"),
        content_weight=content_weight,
        style_weight=style_weight,
        tv_weight=tv_weight,
        style_blend=_floats(style_weights, "--style-weights"),
        optimizer=optimizer,
        iters=iters,
        lr=lr,
        history_size=parse_history(history),
        init=init,
        seed=seed,
        pooling=pooling,
        preserve_colors=preserve_colors,
        weights=weights or "",
        weights_format=weights_format,
        device=device,
        precision=precision,
        cuda_graphs=cuda_graphs,
        memory_limit=None if memory_limit is None else parse_memory(memory_limit),
        tile=parse_tile(tile),
        history_dtype=history_dtype,
        max_step=max_step,
        bit_depth=bit_depth,
    )
    out_dir = output if output is not None else default_output(input)
    if each_style:
        check_each_style(config.style_blend, style, out_dir)
    kind = validate_run(input, style, out_dir, config)
    scaled_image = each_style and kind == "image" and (workers > 0 or cluster is not None)
    if kind not in ("video", "folder") and (workers or cluster is not None or segment_frames is not None):
        if not scaled_image:
            raise StylevidError(
                "--workers, --cluster and --segment-frames apply to videos and frame folders "
                "(and to images with --each-style)"
            )
        if segment_frames is not None:
            raise StylevidError("--segment-frames applies to videos and frame folders")
        if bit_depth != 8:
            raise StylevidError("--bit-depth 16 with --each-style on Ray workers is not supported yet; leave out one")
    if kind != "image" or scaled_image:
        video_config = VideoConfig(
            style=config,
            frame_iters=frame_iters,
            batch_frames=batch_frames,
            frame_init=frame_init,
            init_sampling=init_sampling,
            temporal_weight=temporal_weight,
            flow_method=flow,
            flow_dir=None if flow_dir is None else str(flow_dir),
            early_stop=early_stop,
            start=_position(start),
            end=_position(end),
            every=every,
            fps=_fraction(fps),
            output=to,
            output_size=output_size,
            codec=codec,
            crf=crf,
            audio=audio,
            gif_frame=gif_frame,
            workers=workers,
            cluster=cluster,
            segment_frames=segment_frames,
            cuts=parse_cuts(cuts),
            passes=passes,
            pass_iters=pass_iters,
            long_term=parse_long_term(long_term),
        )
        if kind == "folder":  # a frame sequence (one size), or a batch of photos (see docs/usage.md)
            kind = check_folder(input, video_config)
        if kind != "image":
            check_video_settings(kind, video_config)
            check_memory(input, kind, style, video_config)
        if video_config.scaled_out:
            from stylevid.pipeline.scale.cluster import check_ray_installed

            check_ray_installed()
    # Validated: from here on the run decodes, loads weights and writes.
    create_output_folder(out_dir)
    from stylevid.pipeline.io.images import load_image

    from .progress import ImageProgress, VideoProgress, console_for

    styles = [load_image(p) for p in style]
    console = console_for(quiet)
    if each_style:
        _each_style(
            console,
            quiet,
            input,
            style,
            styles,
            out_dir,
            video_config if kind != "image" or scaled_image else config,
            kind,
            restart,
        )
        return
    if kind == "image":
        from stylevid.pipeline.image_job import stylize_image_file

        with ImageProgress(console, config.iters) as progress:
            result = stylize_image_file(
                input,
                style,
                out_dir,
                config,
                styles=styles,
                on_report=progress.update,
                on_stage=progress.stage,
                on_note=console.print,
            )
        _done(console, quiet, result.files["image"], result.files, f"{result.stylized.seconds:.1f} s")
        return
    if kind == "batch":
        from stylevid.pipeline.batch_job import stylize_photos

        from .progress import PhotoProgress

        with PhotoProgress(console) as photo_progress:
            batch = stylize_photos(input, styles, out_dir, video_config, restart=restart, progress=photo_progress)
        summary = f"{len(batch.outputs)} photos, {batch.stylised} stylised now"
        if batch.done_earlier:
            summary += f", {batch.done_earlier} done earlier"
        _done(console, quiet, batch.output, batch.files, summary)
        return
    if video_config.scaled_out:
        from stylevid.pipeline.scale.runner import stylize_video_scaled

        from .scale_progress import ScaledProgress

        with ScaledProgress(console) as scaled_progress:
            video_result = stylize_video_scaled(
                input, styles, out_dir, video_config, restart=restart, progress=scaled_progress
            )
    else:
        from stylevid.pipeline.video_job import stylize_video

        with VideoProgress(console) as progress:
            video_result = stylize_video(input, styles, out_dir, video_config, restart=restart, progress=progress)
    summary = f"{video_result.frames} frames"
    if video_result.warping_error is not None:
        summary += f", warping error {video_result.warping_error:.5f}"
    _done(console, quiet, video_result.output, video_result.files, summary)


def _each_style(
    console, quiet: bool, input: Path, style: list[Path], styles, out_dir: Path, config, kind: str, restart: bool
) -> None:
    """--each-style: one run per style (stylevid.pipeline.each_style), with the progress display of the input's kind."""
    from stylevid.pipeline.each_style import stylize_each_style

    from .progress import PhotoProgress, StyleProgress, VideoProgress

    progress: Any
    if kind == "image":
        progress = StyleProgress(console)
    elif kind == "batch":
        progress = PhotoProgress(console)
    elif config.scaled_out:
        from .scale_progress import ScaledProgress

        progress = ScaledProgress(console)
    else:
        progress = VideoProgress(console)
    with progress:
        result = stylize_each_style(
            input, style, out_dir, config, styles=styles, restart=restart, progress=progress, on_note=console.print
        )
    summary = f"{len(result.folders)} styles, {result.stylised} stylised now"
    if result.done_earlier:
        summary += f", {result.done_earlier} done earlier"
    files = {Path(p).stem: folder for p, folder in zip(style, result.folders, strict=True)}
    _done(console, quiet, result.output, {**files, "record": result.files["record"]}, summary)


def _pyramid(text: str, scales: int | None, size: int | None) -> tuple[str | tuple[int, ...], int]:
    """(StyleConfig.pyramid, StyleConfig.size) from --pyramid, --scales and --size as given."""
    from stylevid.pipeline.engine.stages import halving_sizes, parse_sizes

    mode = text.strip().lower()
    if scales is not None:
        if mode != "auto":
            raise StylevidError("--scales and --pyramid say the same thing: give one of them")
        if isinstance(scales, bool) or scales < 1 or scales > 8:
            raise StylevidError(f"--scales must be a whole number from 1 to 8, got {scales}")
        size = size if size is not None else 512
        stages = halving_sizes(size, scales)
        if len(stages) < scales:
            raise StylevidError(
                f"--scales {scales} at --size {size} would go below 64 px; the most stages it allows is {len(stages)}"
            )
        return (stages if len(stages) > 1 else "off"), size
    if mode in ("auto", "off"):
        return mode, size if size is not None else 512
    if not all(part.strip().isdigit() for part in text.split(",")):
        raise StylevidError(f"--pyramid must be auto, off or stage sizes like 512,1024,2048; got {text!r}")
    stages = parse_sizes(text, "--pyramid")
    return stages, size if size is not None else stages[-1]


def _fraction(text: str | None) -> Fraction | None:
    if text is None:
        return None
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise StylevidError(f"--fps must be a number like 24, 29.97 or 30000/1001; got {text!r}") from None
    if value <= 0:
        raise StylevidError(f"--fps must be positive, got {text}")
    return value


def _done(console, quiet: bool, main: Path, files: dict, summary: str) -> None:
    if quiet:
        print(main)
        return
    console.print(f"[bold green]done[/] ({summary}): {main}")
    for name, path in files.items():
        if Path(path) != Path(main):
            console.print(f"  {name.replace('_', ' ')}: {path}")


eval_app = typer.Typer(
    add_completion=False, rich_markup_mode="rich", context_settings={"help_option_names": ["-h", "--help"]}
)


@eval_app.command(
    help="Warping error (Lai et al. 2018) of a stylised clip or frame folder against its original.\n\n"
    "  stylevid eval out/clip_stylised.mp4 clip.mp4\n\n"
    "  stylevid eval out/frames/ sintel/final/alley_1 --flow-dir sintel/flow/alley_1   (given flow)",
    no_args_is_help=True,
)
def evaluate(
    stylised: Path = typer.Argument(..., help="Stylised video or frame folder.", show_default=False),
    original: Path = typer.Argument(..., help="The original video or frame folder.", show_default=False),
    flow: str = typer.Option(
        "dis", help="Optical flow estimated on the originals: dis, dis-fine, deepflow, tvl1, raft, raft-small, …"
    ),
    cuts: str = typer.Option(
        "auto", help="Scene cuts, whose pairs are left out: auto (detected on the original), off, or frames: 120,348."
    ),
    flow_dir: Path | None = typer.Option(
        None,
        help="Also measure through the given .flo files here (e.g. Sintel's ground truth; see docs/usage.md).",
        show_default=False,
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    import json

    from stylevid.pipeline.config import parse_cuts
    from stylevid.pipeline.evaluate import evaluate_clips

    result = evaluate_clips(stylised, original, flow_method=flow, flow_dir=flow_dir, cuts=parse_cuts(cuts))
    estimated, given = result.estimated, result.given
    if json_out:
        data: dict[str, Any] = {
            "warping_error": estimated.mean,
            "pairs": len(estimated.values),
            "values": list(estimated.values),
            "flow": flow,
        }
        if given is not None:
            data["warping_error_given_flow"] = given.mean
            data["values_given_flow"] = list(given.values)
            data["flow_dir"] = str(flow_dir)
        print(json.dumps(data))
        return
    print(
        f"warping error ({flow.upper() if flow == 'dis' else flow} flow) {estimated.mean:.6f} "
        f"over {len(estimated.values)} frame pairs"
    )
    if given is not None:
        print(f"warping error (given flow)  {given.mean:.6f} over {len(given.values)} frame pairs")


# Typer ≥ 0.20 vendors click; older versions use click itself: find its base exception either way.
_ClickException: type[Any] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _run(group: typer.Typer, args: list[str], prog_name: str = "stylevid") -> int:
    from stylevid.pipeline.video.signals import Stopped, stop_at_once_on_signals

    command = typer.main.get_command(group)
    try:
        # SIGTERM and SIGHUP end a run like Ctrl-C does. The command is invoked directly, not
        # through command.main(), which would turn every KeyboardInterrupt into a silent exit 130.
        with stop_at_once_on_signals(), command.make_context(prog_name, args) as context:
            code = command.invoke(context)
    except StylevidError as error:
        _say(f"stylevid: error: {error}")
        return error.exit_code
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        print("stylevid: stopped", file=sys.stderr)
        return 130
    except _ClickException as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # the help was shown already
            return 0
        print(f"stylevid: error: {error.format_message()} (see stylevid --help)", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        by = f" by {stop.args[0]}" if isinstance(stop, Stopped) and stop.exit_code != 130 else ""
        _say(f"stylevid: stopped{by}; finished frames are kept — run the same command again to resume")
        return stop.exit_code if isinstance(stop, Stopped) else 130
    return code if isinstance(code, int) else 0


def _say(line: str) -> None:
    """One line on stderr; a terminal that hung up (SIGHUP) may have taken stderr with it."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["eval"]:
        sys.exit(_run(eval_app, args[1:], prog_name="stylevid eval"))
    sys.exit(_run(app, args))


if __name__ == "__main__":
    main()
