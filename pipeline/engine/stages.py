"""The stages of a coarse-to-fine run (``--pyramid``, ``--scales``): their sizes and iteration budgets.

Torch-free: the configuration checks its pyramid with these functions, and the memory estimate
needs only the last (largest) stage. :mod:`.pyramid` runs the stages.

A stage is a long side in pixels and an iteration budget. The last stage is always the run's
``--size``; every earlier one is smaller, and starts the next from its result, upsampled.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import StylevidError

#: ``--pyramid auto`` goes coarse-to-fine from this long side up (docs/method.md, "Coarse-to-fine"):
#: at equal CPU time, 512 → 1024 px (200 + 100 iterations) had 0.23× one scale's painting-scale loss
#: and 0.48× a direct 512-px run's (both resampled alike), for 1.045× its full-resolution loss, and
#: the large strokes one scale lacks; 256 → 512 px at the default budget the same (1.03×). Below
#: 1024 px an auto stage would be under MIN_STAGE.
PYRAMID_FROM = 1024
#: The smallest stage ``auto`` and ``--scales`` make: below it the picture is so small against
#: VGG's receptive field that style dominates — a 64 px start returned the Starry Night itself.
MIN_STAGE = 512
#: The smallest stage a user may ask for (VGG pools four times).
MIN_STAGE_ASKED = 64
PYRAMID_MODES = ("auto", "off")


@dataclass(frozen=True)
class Stage:
    """One stage of a coarse-to-fine run."""

    size: int  # long side in pixels
    iters: int  # iteration budget


def halving_sizes(size: int, count: int, smallest: int = MIN_STAGE_ASKED) -> tuple[int, ...]:
    """``count`` stage sizes ending at ``size``, each half the next (``--scales N``); never below ``smallest``."""
    sizes = [size]
    while len(sizes) < count and sizes[0] // 2 >= smallest:
        sizes.insert(0, sizes[0] // 2)
    return tuple(sizes)


def auto_sizes(size: int) -> tuple[int, ...]:
    """``--pyramid auto``: one stage below PYRAMID_FROM; else halving down to no less than MIN_STAGE."""
    if size < PYRAMID_FROM:
        return (size,)
    return halving_sizes(size, 32, smallest=MIN_STAGE)


def default_stage_iters(iters: int, count: int) -> tuple[int, ...]:
    """The budget of each of ``count`` stages when none is given: ``iters`` for the coarsest stage,
    half the previous stage's for each later one (500 → 500, 250, 125), at least 1. A stage of
    twice the side costs about four times as much an iteration, so the whole pyramid costs less
    than ``iters`` / 2 iterations at full size."""
    budgets = [iters]
    while len(budgets) < count:
        budgets.append(max(1, budgets[-1] // 2))
    return tuple(budgets)


def check_pyramid(pyramid: object, size: int) -> None:
    """``pyramid``: "auto", "off", or increasing stage sizes (each ≥ MIN_STAGE_ASKED) that end at ``size``."""
    if isinstance(pyramid, str):
        if pyramid not in PYRAMID_MODES:
            raise StylevidError(f"--pyramid must be auto, off or stage sizes like 512,1024,2048; got {pyramid!r}")
        return
    if not isinstance(pyramid, tuple) or not pyramid:
        raise StylevidError(f"--pyramid must be auto, off or stage sizes like 512,1024,2048; got {pyramid!r}")
    for stage in pyramid:
        if isinstance(stage, bool) or not isinstance(stage, int) or stage < MIN_STAGE_ASKED:
            raise StylevidError(
                f"--pyramid stage sizes must be whole numbers of at least {MIN_STAGE_ASKED} px, got {stage!r}"
            )
    if list(pyramid) != sorted(set(pyramid)):
        raise StylevidError(f"--pyramid stage sizes must increase, got {','.join(map(str, pyramid))}")
    if pyramid[-1] != size:
        raise StylevidError(
            f"the last --pyramid stage must be the --size ({size} px), got {pyramid[-1]}; "
            "leave --size out to take it from the pyramid"
        )


def check_stage_iters(stage_iters: object, stages: int) -> None:
    """``stage_iters``: one positive whole number per stage."""
    if not isinstance(stage_iters, tuple) or not stage_iters:
        raise StylevidError(f"--pyramid-iters must be iteration counts like 500,200,100; got {stage_iters!r}")
    for iters in stage_iters:
        if isinstance(iters, bool) or not isinstance(iters, int) or iters < 1:
            raise StylevidError(f"--pyramid-iters must be whole numbers of at least 1, got {iters!r}")
    if len(stage_iters) != stages:
        raise StylevidError(f"--pyramid-iters gives {len(stage_iters)} budgets for {stages} stage(s)")


def stage_sizes(pyramid: str | tuple[int, ...], size: int) -> tuple[int, ...]:
    """The stage sizes of a run at ``size`` with ``pyramid`` ("auto", "off" or the sizes)."""
    if pyramid == "off":
        return (size,)
    if pyramid == "auto":
        return auto_sizes(size)
    assert isinstance(pyramid, tuple)
    return pyramid


def plan_stages(
    pyramid: str | tuple[int, ...], size: int, iters: int, stage_iters: tuple[int, ...] | None = None
) -> list[Stage]:
    """The stages of a run: sizes from ``pyramid``; budgets from ``stage_iters``, else the default rule.
    One stage (``size``, ``iters``) when the run is not coarse-to-fine."""
    sizes = stage_sizes(pyramid, size)
    if len(sizes) == 1:
        return [Stage(size, stage_iters[0] if stage_iters is not None and len(stage_iters) == 1 else iters)]
    budgets = stage_iters if stage_iters is not None else default_stage_iters(iters, len(sizes))
    check_stage_iters(budgets, len(sizes))
    return [Stage(s, n) for s, n in zip(sizes, budgets)]


def parse_sizes(text: str, what: str) -> tuple[int, ...]:
    """ "512,1024,2048" as whole numbers (``what`` names the option in the error)."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise StylevidError(f"{what} must be comma-separated whole numbers like 512,1024,2048; got {text!r}") from None
