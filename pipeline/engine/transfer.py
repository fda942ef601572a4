"""The style-transfer engine: VGG features + the paper's losses + the optimisation loop.

:class:`StyleTransfer` is built once per run (weights loaded, style Gram matrices computed) and
then stylises any number of pictures — one image, or every frame of a video with a warm start
and a temporal term. For each optimisation it makes an :class:`~.objective.Objective` (the loss
with its targets) and runs an :class:`~.optimize.Optimisation`; the rolling batch of video
frames uses the same two through :meth:`StyleTransfer.objective`, :meth:`~StyleTransfer.set_contents`
and :attr:`~StyleTransfer.optimiser`. :func:`stylize_image` is the one-call API for a single picture.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import StyleConfig
from ..errors import StylevidError
from ..io.images import load_image, resize, resize_long_side, to_picture, to_picture16, to_tensor
from ..validation import check_style_blend
from . import color
from .device import pick_device, resolve_precision
from .losses import equal_layer_weights, normalized_gram
from .memory import FP32_BYTES, HISTORY_BYTES, RunShape, largest_fitting, run_bytes, scaled, size_candidates
from .objective import Objective
from .optimize import EarlyStop, Optimisation, OptimiserSettings, OptimizeResult, ReportFn
from .snapshots import snapshot_iterations, snapshot_size
from .stages import Stage, plan_stages
from .tiling import tiled_grams
from .vgg import VGG19Features, build_extractor
from .weights import resolve_weights

#: β when the config leaves it unset, per input convention, for α = 1 and a 512×512 picture.
#: The content loss is a sum over positions (it grows with the picture's area) while the
#: normalised style loss does not, so the default β is scaled by area / 512² to give the same
#: balance at every --size. Tuned by eye on Tübingen × Starry Night with the Caffe weights.
#: torchvision's weights see input ≈ 1/(255·0.226) ≈ 1/58 of Caffe's scale, so their features are
#: ≈58× smaller: content loss scales by 58⁻², style by 58⁻⁴, hence β × 58² ≈ 3.3e3 for them.
DEFAULT_STYLE_WEIGHT_AT_512 = {"caffe": 2e4, "torchvision": 2e4 * 3.3e3}


NOISE_AMPLITUDE = 0.1  # peak-to-peak amplitude of the white-noise initialisation (pixels in 0–1)


def default_style_weight(convention: str, width: int, height: int) -> float:
    """The β used when none is given, for a picture of width × height."""
    return DEFAULT_STYLE_WEIGHT_AT_512[convention] * (width * height) / (512 * 512)


@dataclass
class TemporalGuide:
    """What the temporal loss of one frame compares against (Ruder et al. 2016)."""

    warped_previous: np.ndarray  # previous stylised frame warped into this frame, H×W×3 uint8
    reliable: torch.Tensor  # (1, 1, H, W) weights c: 1 where the flow is trustworthy, else 0
    weight: float  # λ_t


@dataclass
class TemporalChain:
    """The temporal loss of consecutive frames optimised as one batch (Ruder et al. 2016, eq. 3).

    Batch item 0 is pulled towards ``warped_previous`` (the frame before the batch, stylised and
    warped into item 0); item k > 0 towards item k−1 *as it is being optimised*, warped by
    ``flows_bw[k−1]`` (item k's backward flow) — so neighbours in the batch settle on each other.
    A single frame (no ``flows_bw``) is exactly :class:`TemporalGuide`.
    """

    warped_previous: np.ndarray  # the frame before the batch, stylised, warped into batch item 0; H×W×3 uint8
    reliable: torch.Tensor  # (B, 1, H, W) weights c per item: 1 where its backward flow is trustworthy
    weight: float  # λ_t
    flows_bw: torch.Tensor | None = None  # (B−1, 2, H, W) backward flows of items 1…B−1; None for one frame


@dataclass
class Stylized:
    picture: np.ndarray  # the result, H×W×3 uint8 RGB
    history: list[dict[str, float]]  # loss terms per iteration (0 = init)
    final: dict[str, float]  # loss terms of the result
    snapshots: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (iteration, picture)
    iterations: int = 0  # iterations run (fewer than asked when stopped early)
    seconds: float = 0.0  # wall time of the optimisation
    replayed: int = 0  # iterations whose loss and gradient were replayed from a CUDA graph (--cuda-graphs)
    graph_failure: str | None = None  # why no CUDA graph could be recorded, if one was asked for
    # the optimised image as it left the optimiser: (1, 3, H, W) float 0–1, on the device, before
    # rounding (and before colours are recombined)
    image: torch.Tensor | None = None
    picture16: np.ndarray | None = None  # with config.bit_depth 16: the result as H×W×3 uint16 RGB
    # coarse-to-fine (engine/pyramid.py): one record per stage (size, iterations, seconds, losses); empty otherwise
    stages: list[dict[str, Any]] = field(default_factory=list)
    # L-BFGS's last γ for the unscaled loss (OptimizeResult.step_scales): a coarse-to-fine stage
    # passes it to the next as its first step (engine/pyramid.py); None when not known
    step_scale: float | None = None


class StyleTransfer:
    """Holds the network and the style targets; stylises pictures one call at a time."""

    def __init__(
        self, config: StyleConfig, styles: Sequence[np.ndarray], *, extractor: VGG19Features | None = None
    ) -> None:
        check_style_blend(config.style_blend, len(styles))
        self.config = config
        self.device = pick_device(config.device)
        self.precision = resolve_precision(config.precision, self.device)
        self.cuda_graphs = config.cuda_graphs and self.device.type == "cuda"  # asked for, and able to run here
        self.layer_weights = (
            dict(zip(config.style_layers, config.style_layer_weights))
            if config.style_layer_weights is not None
            else equal_layer_weights(config.style_layers)
        )
        layers = {config.content_layer, *config.style_layers}
        if extractor is None:
            spec = resolve_weights(config.weights, config.weights_format)
            extractor = build_extractor(spec, layers, pooling=config.pooling)
        self.extractor = extractor.to(self.device)
        if self.device.type == "cuda":
            # Module.to takes memory_format (torch docs); its type stub does not list it
            self.extractor = self.extractor.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            torch.backends.cudnn.benchmark = True
        blend = config.style_blend or tuple(1.0 for _ in styles)
        total = float(sum(blend))
        self._blend = [w / total for w in blend]
        self._style_pictures = list(styles)  # as given: a coarse-to-fine stage rescales them (:meth:`at_size`)
        style_long_side = max(16, round(config.size * config.style_scale))
        self._styles = [to_tensor(resize_long_side(s, style_long_side), self.device) for s in styles]
        self._style_grams: dict[str, torch.Tensor] | None = None
        #: how every optimisation of this engine steps its pixels
        self.optimiser = OptimiserSettings(
            config.optimizer,
            config.lr,
            config.history_pairs,
            fast_lbfgs=self.precision != "fp32",
            cuda_graphs=self.cuda_graphs,
            history_dtype=config.history_dtype,
            max_step=config.max_step if config.optimizer == "lbfgs" else 0.0,
        )
        #: why CUDA graphs were turned off for the rest of this engine's life (see :meth:`note_graph_failure`)
        self.graph_failure: str | None = None
        #: CUDA graphs recorded by this engine's optimisations (run.json's ``cuda_graph.recordings``)
        self.graph_recordings = 0
        self._keep_graphs = False  # inside :meth:`keeping_graphs`
        self._kept: dict[tuple[int, int, int, float], tuple[Objective, Optimisation]] = {}

    def stages(self) -> list[Stage]:
        """The stages of a picture stylised from scratch by this engine (one unless coarse-to-fine)."""
        cfg = self.config
        return plan_stages(cfg.pyramid, cfg.size, cfg.iters, cfg.pyramid_iters)

    def at_size(self, size: int, *, style_weight: float | None = None) -> StyleTransfer:
        """An engine like this one for pictures of long side ``size`` (a coarse-to-fine stage): the same
        network and settings, its style pictures rescaled to ``size`` × style_scale, one stage only,
        with β = ``style_weight`` (None: the area-scaled default)."""
        config = self.config.replace(size=size, pyramid="off", pyramid_iters=None, style_weight=style_weight)
        return StyleTransfer(config, self._style_pictures, extractor=self.extractor)

    def note_graph_failure(self, reason: str | None) -> None:
        """After the first CUDA graph that could not be checked or recorded (``reason``; None: no
        failure), this engine's optimisations run eagerly: torch ≤ 2.11's allocator may still believe
        a failed capture is under way, and every further attempt would hold another memory pool."""
        if reason is not None and self.graph_failure is None:
            self.graph_failure = reason
            self.optimiser = replace(self.optimiser, cuda_graphs=False)
            self.release_graphs()

    @contextlib.contextmanager
    def keeping_graphs(self) -> Iterator[None]:
        """Within this block, pictures of one size and kind share one objective and optimisation, so
        its CUDA graph is recorded once (the frames of a video); they are released when it ends."""
        self._keep_graphs = True
        try:
            yield
        finally:
            self._keep_graphs = False
            self.release_graphs()

    def release_graphs(self) -> None:
        """Free the CUDA graphs kept by :meth:`keeping_graphs` and their memory."""
        for _, optimisation in self._kept.values():
            optimisation.release()
        self._kept.clear()

    # --- targets --------------------------------------------------------------------------------
    def features(self, image: torch.Tensor, layers: Collection[str]) -> dict[str, torch.Tensor]:
        """VGG responses of ``image`` (B, 3, H, W, RGB 0–1) at ``layers``, at the engine's precision."""
        autocast = (
            # no cast cache: its copies must not outlive a CUDA graph's recording
            torch.autocast(self.device.type, dtype=torch.bfloat16, cache_enabled=False)
            if self.precision == "bf16"
            else contextlib.nullcontext()
        )
        with autocast:
            return self.extractor(image, layers)

    def _style_targets(self, content_rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        """Blended G/M per style layer; computed once (with colour preservation, against the first content)."""
        if self._style_grams is None:
            grams: dict[str, torch.Tensor] = {}
            with torch.no_grad():
                for weight, style in zip(self._blend, self._styles):
                    if self.config.preserve_colors:
                        style = color.match_luminance(style, content_rgb)
                    for layer, gram in self._grams_of(style).items():
                        g = gram * weight
                        grams[layer] = grams[layer] + g if layer in grams else g
            self._style_grams = grams
        return self._style_grams

    def reset_style_targets(self) -> None:
        """Compute the style targets again for the next content: with --preserve-colors they are matched
        to the first content's luminance, right for a video's frames but not for unrelated photos."""
        self._style_grams = None

    def _grams_of(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """G/M of ``image`` per style layer; in tiles with config.tile (the style image is as large as the content)."""
        layers = self.config.style_layers
        tile = self.config.tile_pixels
        if tile is not None and tile < max(image.shape[2:]):
            return tiled_grams(self.features, image, layers, tile)
        feats = self.features(image, layers)
        return {layer: normalized_gram(feats[layer]) for layer in layers}

    def style_weight_for(self, content: np.ndarray) -> float:
        """β: the configured one, or the area-scaled default for this picture size."""
        return self._style_weight(content.shape[0], content.shape[1])

    def _style_weight(self, height: int, width: int) -> float:
        if self.config.style_weight is not None:
            return self.config.style_weight
        return default_style_weight(self.extractor.convention, width, height)

    def objective(
        self, items: int, height: int, width: int, *, temporal_weight: float = 0.0, moving_targets: bool = False
    ) -> Objective:
        """The loss of ``items`` pictures of height × width, with this engine's weights and network;
        its targets are set by :meth:`set_contents` and the objective's own methods."""
        cfg = self.config
        return Objective(
            self.features,
            items=items,
            height=height,
            width=width,
            device=self.device,
            content_layer=cfg.content_layer,
            layer_weights=self.layer_weights,
            content_weight=cfg.content_weight,
            style_weight=self._style_weight(height, width),
            tv_weight=cfg.tv_weight,
            temporal_weight=temporal_weight,
            moving_targets=moving_targets,
            tile=cfg.tile_pixels,
        )

    def set_contents(
        self, objective: Objective, contents: Sequence[np.ndarray], items: Sequence[int] | None = None
    ) -> torch.Tensor:
        """Make same-sized pictures the content of ``items`` of ``objective`` (default: all), and give
        it the style targets (fixed against the first content the engine sees); returns their RGB batch."""
        content_rgb = torch.cat([to_tensor(c, self.device) for c in contents])
        grams = self._style_targets(content_rgb[:1])
        if not objective.has_style:
            objective.set_style(grams)
        objective.set_content(self.working_image(content_rgb), items)
        return content_rgb

    # --- one picture ----------------------------------------------------------------------------
    def prepare_content(self, picture: np.ndarray) -> np.ndarray:
        """The content picture at processing size (long side = config.size)."""
        return resize_long_side(picture, self.config.size)

    def stylize(
        self,
        content: np.ndarray,
        *,
        init: np.ndarray | torch.Tensor | str | None = None,
        iters: int | None = None,
        seed: int | None = None,
        temporal: TemporalGuide | None = None,
        snapshot_at: Collection[int] = (),
        on_report: ReportFn | None = None,
        early_stop: EarlyStop | None = None,
        first_step: float | None = None,
    ) -> Stylized:
        """Stylise ``content`` (already at processing size, see :meth:`prepare_content`).

        ``first_step``: the length of L-BFGS's first step along the negative gradient of the loss
        (a coarser stage's :attr:`Stylized.step_scale`; None: L-BFGS's own tiny first step)."""
        chain = (
            None if temporal is None else TemporalChain(temporal.warped_previous, temporal.reliable, temporal.weight)
        )
        return self.stylize_batch(
            [content],
            inits=[init],
            iters=iters,
            seeds=[seed],
            temporal=chain,
            snapshot_at=snapshot_at,
            on_report=on_report,
            early_stop=early_stop,
            first_step=first_step,
        )[0]

    def stylize_batch(
        self,
        contents: Sequence[np.ndarray],
        *,
        inits: Sequence[np.ndarray | torch.Tensor | str | None] | None = None,
        iters: int | None = None,
        seeds: Sequence[int | None] | None = None,
        temporal: TemporalChain | None = None,
        snapshot_at: Collection[int] = (),
        on_report: ReportFn | None = None,
        early_stop: EarlyStop | None = None,
        first_step: float | None = None,
    ) -> list[Stylized]:
        """Stylise same-sized pictures as one batch: one optimisation of the sum of their losses.

        The pictures share one L-BFGS run (and so its iterations, early stop and timing); each
        gets its own loss terms. ``history`` of every result is the batch's summed history.
        """
        cfg = self.config
        count = len(contents)
        inits = list(inits) if inits is not None else [None] * count
        seeds = list(seeds) if seeds is not None else [None] * count
        if count < 1 or len(inits) != count or len(seeds) != count:
            raise ValueError(
                f"{count} contents, {len(inits)} inits and {len(seeds)} seeds: give one of each per picture"
            )
        if len({c.shape for c in contents}) != 1:
            raise ValueError(f"pictures of one batch must share a size, got {sorted({c.shape for c in contents})}")
        chain = temporal if temporal is not None and temporal.weight > 0 else None
        if chain is not None:
            self._check_chain(chain, count)
        try:
            result, content_rgb, seconds = self._optimise(
                contents, inits, seeds, chain, iters or cfg.iters, snapshot_at, on_report, early_stop, first_step
            )
        except torch.cuda.OutOfMemoryError:
            result = None  # leaving this block frees the failed run's tensors (held by the traceback)
        if result is None:
            self.release_graphs()
            raise self.out_of_memory(contents[0], count, temporal=chain is not None)
        self.note_graph_failure(result.graph_failure)
        return [self._finish(result, item, content_rgb, seconds) for item in range(count)]

    def _optimise(
        self,
        contents: Sequence[np.ndarray],
        inits: Sequence[np.ndarray | torch.Tensor | str | None],
        seeds: Sequence[int | None],
        chain: TemporalChain | None,
        iters: int,
        snapshot_at: Collection[int],
        on_report: ReportFn | None,
        early_stop: EarlyStop | None,
        first_step: float | None = None,
    ) -> tuple[OptimizeResult, torch.Tensor, float]:
        """Targets, start and the optimisation of one batch: (result, content RGB batch, seconds optimising)."""
        count = len(contents)
        height, width = contents[0].shape[:2]
        temporal_weight = chain.weight if chain is not None else 0.0
        keep = self._keep_graphs and self.optimiser.cuda_graphs
        key = (count, height, width, temporal_weight)
        kept = self._kept.get(key) if keep else None
        objective = (
            kept[0]
            if kept is not None
            else self.objective(count, height, width, temporal_weight=temporal_weight, moving_targets=count > 1)
        )
        content_rgb = self.set_contents(objective, contents)
        start = torch.cat(
            [self.initial_image(content, seed, init=init) for init, seed, content in zip(inits, seeds, contents)]
        )
        if chain is not None:
            self._set_chain(objective, chain)
        settings = self.optimiser.for_iterations(iters)
        cold = all(self.starts_cold(init) for init in inits)  # noise or a picture, not a stylised one
        if kept is not None:
            optimisation = kept[1]
            optimisation.renew(start, first_step, settings, cold=cold)
        else:
            optimisation = Optimisation(start, objective, settings, first_step=first_step, cold=cold)
            if keep:
                self._kept[key] = (objective, optimisation)

        began, recorded_before = time.perf_counter(), optimisation.recordings
        result = optimisation.run(
            iters,
            snapshot_at=snapshot_at,
            on_report=on_report,
            report_every=1 if self.device.type == "cpu" else 10,
            early_stop=early_stop,
            keep_graph=keep,
            snapshot=lambda images: self.snapshot_pictures(images, content_rgb),
        )
        self.graph_recordings += optimisation.recordings - recorded_before
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return result, content_rgb, time.perf_counter() - began

    # --- pictures in and out -------------------------------------------------------------------
    def working_image(self, image: torch.Tensor) -> torch.Tensor:
        """What the optimiser works on: the image itself, or its luminance with --preserve-colors."""
        return color.luminance(image) if self.config.preserve_colors else image

    def to_working(self, picture: np.ndarray) -> torch.Tensor:
        """A picture (H×W×3 uint8) as the optimiser works on it: (1, 3, H, W) on the engine's device."""
        return self.working_image(to_tensor(picture, self.device))

    def output_picture(self, image: torch.Tensor, content_rgb: torch.Tensor, *, bit_depth: int = 8) -> np.ndarray:
        """One optimised image (1, 3, H, W) as a picture: colours recombined when preserved;
        uint8, or uint16 with ``bit_depth`` 16."""
        image = image.detach().to(content_rgb.device)
        if self.config.preserve_colors:
            image = color.recombine(image, content_rgb)
        return to_picture16(image) if bit_depth == 16 else to_picture(image)

    def snapshot_pictures(self, images: torch.Tensor, content_rgb: torch.Tensor) -> list[np.ndarray]:
        """A snapshot of an optimised batch (B, 3, H, W): each item as an 8-bit picture, shrunk on
        its device to :func:`~.snapshots.snapshot_size` (area average) before it leaves it — all a
        progress GIF needs, and what the memory estimate counts (engine/snapshots.py)."""
        height, width = images.shape[-2:]
        small = snapshot_size(height, width)
        if small != (height, width):
            images, content_rgb = _shrink(images, small), _shrink(content_rgb, small)
        return [self.output_picture(images[k : k + 1], content_rgb[k : k + 1]) for k in range(images.shape[0])]

    def _check_chain(self, chain: TemporalChain, count: int) -> None:
        if chain.reliable.shape[0] != count:
            raise ValueError(f"{chain.reliable.shape[0]} reliability masks for {count} frames")
        if count > 1 and (chain.flows_bw is None or chain.flows_bw.shape[0] != count - 1):
            raise ValueError(f"a batch of {count} frames needs {count - 1} backward flows (frames 2…{count})")

    def _set_chain(self, objective: Objective, chain: TemporalChain) -> None:
        """Item 0 follows the fixed ``chain.warped_previous``, item k > 0 item k−1 as it is optimised."""
        reliable = chain.reliable.to(self.device, torch.float32)
        objective.set_temporal_target(0, self.to_working(chain.warped_previous), reliable[:1])
        if objective.items > 1:
            assert chain.flows_bw is not None
            flows = chain.flows_bw.to(self.device, torch.float32)
            for item in range(1, objective.items):
                objective.follow(item, item - 1, flows[item - 1 : item], reliable[item : item + 1])

    def memory_shape(self, items: int = 1, *, temporal: bool = False) -> RunShape:
        """What decides the memory of this engine's optimisations of ``items`` pictures (engine/memory.py)."""
        cfg = self.config
        return RunShape(
            layers={cfg.content_layer, *cfg.style_layers},
            style_layers=cfg.style_layers,
            content_layer=cfg.content_layer,
            element_bytes=FP32_BYTES if self.precision == "fp32" else 2,
            items=items,
            method=cfg.optimizer,
            history=cfg.history_pairs,
            history_bytes=HISTORY_BYTES[cfg.history_dtype],
            tile=cfg.tile_pixels,
            temporal=temporal,
            graphs=self.optimiser.cuda_graphs,
            pooling=cfg.pooling,
        )

    def out_of_memory(self, content: np.ndarray, count: int = 1, *, temporal: bool = False) -> StylevidError:
        """A one-line message with settings that should fit, by the memory model (engine/memory.py),
        in the memory free now. Call it once the failed run's tensors are gone."""
        height, width = content.shape[:2]
        gc.collect()
        torch.cuda.empty_cache()
        available = _available_memory(self.device)
        budget = int(0.9 * available)  # a margin for fragmentation and cuDNN's workspaces
        shape = self.memory_shape(count, temporal=temporal)
        long_side = max(height, width)
        size = None
        if run_bytes(height, width, shape) > budget:  # else the model does not explain the failure: no figure
            size = largest_fitting(
                lambda side: run_bytes(*scaled(height, width, side), shape), budget, size_candidates(long_side)
            )
        hint = f"try --size {size}" if size is not None else "lower --size"
        history = None
        if self.config.optimizer == "lbfgs":
            history = largest_fitting(
                lambda m: run_bytes(height, width, replace(shape, history=m)),
                budget,
                [m for m in (50, 20, 10, 5) if m < self.config.history_pairs],
            )
        history_hint = f" or --history {history}" if history is not None else ""
        batch = f" or --batch-frames {count // 2}" if count > 1 else ""
        total = torch.cuda.get_device_properties(self.device).total_memory
        return StylevidError(
            f"GPU out of memory at {width}×{height} on {torch.cuda.get_device_name(self.device)} "
            f"({available / 2**30:.1f} of {total / 2**30:.0f} GiB free): {hint}{history_hint}{batch}; "
            "frames finished so far are kept"
        )

    def _finish(self, result: OptimizeResult, item: int, content_rgb: torch.Tensor, seconds: float) -> Stylized:
        """Batch item ``item`` of ``result`` as a picture (colours recombined if preserved)."""
        content_item = content_rgb[item : item + 1]

        def to_output(image: torch.Tensor) -> np.ndarray:
            return self.output_picture(image[item : item + 1], content_item)

        return Stylized(
            picture=to_output(result.image),
            history=result.history,
            final=result.final_terms[item],
            snapshots=[(i, pictures[item]) for i, pictures in result.snapshots],
            iterations=result.iterations,
            seconds=seconds,
            replayed=result.replayed,
            graph_failure=result.graph_failure,
            image=result.image[item : item + 1],
            picture16=(
                self.output_picture(result.image[item : item + 1], content_item, bit_depth=16)
                if self.config.bit_depth == 16
                else None
            ),
            step_scale=result.step_scales[item] if result.step_scales else None,
        )

    def starts_cold(self, init: np.ndarray | torch.Tensor | str | None) -> bool:
        """Does ``init`` start far from the optimum: noise, the content or the style picture (not a
        stylised picture: a warped previous frame, a coarser stage, or a file the user gave)?"""
        init = init if init is not None else self.config.init
        return isinstance(init, str) and init in ("noise", "content", "style")

    def initial_image(
        self, content: np.ndarray, seed: int | None = None, *, init: np.ndarray | torch.Tensor | str | None = None
    ) -> torch.Tensor:
        """The starting image (1, 3, H, W) for ``content``, as the optimiser works on it (see ``working_image``);
        ``init`` and ``seed`` default to the configured ones. A tensor ``init`` (1, 3, h, w, 0–1: an earlier
        coarse-to-fine stage's result) is resized bicubically to the content's size."""
        init = init if init is not None else self.config.init
        seed = seed if seed is not None else self.config.seed
        return self.working_image(self._initial_picture(init, content, seed))

    def _initial_picture(self, init: np.ndarray | torch.Tensor | str, content: np.ndarray, seed: int) -> torch.Tensor:
        height, width = content.shape[:2]
        if isinstance(init, torch.Tensor):
            return upsample(init.detach().to(self.device, torch.float32), height, width)
        if isinstance(init, np.ndarray):
            picture = init
        elif init == "noise":
            # White noise around mid-grey (±0.05): full-range noise takes many more iterations to clean up.
            generator = torch.Generator().manual_seed(seed)
            noise = torch.rand(1, 3, height, width, generator=generator)
            return (0.5 + NOISE_AMPLITUDE * (noise - 0.5)).to(self.device)
        elif init == "content":
            picture = content
        elif init == "style":
            picture = to_picture(self._styles[0])
        else:
            picture = load_image(Path(init))
        return to_tensor(resize(picture, width, height), self.device)


def stylize_image(
    content: str | Path | np.ndarray,
    styles: Sequence[str | Path | np.ndarray],
    config: StyleConfig | None = None,
    *,
    on_report: ReportFn | None = None,
    snapshot_at: Collection[int] | None = None,
) -> Stylized:
    """Stylise one picture in one call, writing no files (``stylevid IMAGE`` runs ``stylize_image_file``).

    ``content`` and ``styles`` are file paths or H×W×3 uint8 RGB arrays. Snapshots default to the
    paper's log-spaced progression (1, 2, 5, 10, 20, 50, … and the last iteration). A coarse-to-fine
    run (``config.pyramid``) goes through its stages (:mod:`.pyramid`); its snapshots are those of
    every stage at the final size, or none when ``snapshot_at`` is empty.
    """
    config = config if config is not None else StyleConfig()
    content_picture = content if isinstance(content, np.ndarray) else load_image(content)
    style_pictures = [s if isinstance(s, np.ndarray) else load_image(s) for s in styles]
    engine = StyleTransfer(config, style_pictures)
    stages = engine.stages()
    if len(stages) > 1:  # coarse-to-fine (config.pyramid): snapshots of every stage, or none
        from .pyramid import stylize_in_stages  # it builds on this module

        wanted = snapshot_at is None or bool(snapshot_at)
        content = engine.prepare_content(content_picture)
        return stylize_in_stages(engine, content, stages, snapshots=wanted, on_report=on_report)
    if snapshot_at is None:
        snapshot_at = [0, *snapshot_iterations(config.iters)]
    return engine.stylize(engine.prepare_content(content_picture), snapshot_at=snapshot_at, on_report=on_report)


def _shrink(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``image`` (B, C, H, W, 0–1) averaged down to ``size`` (height, width)."""
    return torch.nn.functional.interpolate(image.detach().float(), size=size, mode="area").clamp_(0, 1)


def upsample(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``image`` (B, 3, h, w, 0–1) resized to height × width: bicubic (no antialiasing: it enlarges), clamped to 0–1."""
    if tuple(image.shape[-2:]) == (height, width):
        return image.clone()
    resized = torch.nn.functional.interpolate(image, size=(height, width), mode="bicubic", align_corners=False)
    return resized.clamp_(0, 1)


def _available_memory(device: torch.device) -> int:
    """Bytes an optimisation could still get on ``device``: free memory plus this process's cached
    blocks, within the per-process fraction if one is set, less what this process holds."""
    free, total = torch.cuda.mem_get_info(device)
    fraction = getattr(torch.cuda, "get_per_process_memory_fraction", None)  # torch >= 2.8
    cap = total * fraction(device) if fraction is not None else total
    reachable = min(free + torch.cuda.memory_reserved(device), cap)
    return max(0, int(reachable) - torch.cuda.memory_allocated(device))
