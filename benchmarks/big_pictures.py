"""Big pictures: memory and time of one iteration, untiled vs exact tiling (``--tile``).

For every size S the content picture (samples/tuebingen.jpg) and the style picture
(samples/starry_night.jpg, --style-scale 1, so also S px) are resized to S×S, and each mode runs
in a fresh subprocess (so peak memory is its own):

* **untiled** — ``StyleTransfer(StyleConfig(size=S))``: the whole picture through VGG at once;
* **tiled** — the same with ``tile=T`` (``--tile``, T = 512, or S/2 when S ≤ 512): pass 1 (Gram
  sums, no gradient) and pass 2 (per-tile backward) of pipeline/engine/tiling.py.

Per run it records, on the CPU:

* ``setup_s`` / ``setup_peak_mb``: the targets (content responses, style Grams; tiled too when tiled);
* ``iteration_s`` (wall) and ``iteration_cpu_s`` (user + system CPU time of the process) of one
  L-BFGS iteration (``Optimisation.step``: one loss and gradient evaluation and the step);
* ``iteration_peak_mb``: peak resident memory during that iteration (VmHWM, reset before it
  through /proc/self/clear_refs), and ``baseline_mb``: resident memory before the targets
  (torch, the weights);
* ``history_mb``: what the L-BFGS history of m = --history pairs would hold at this size,
  2·m image-sized fp32 buffers (computed, not measured: after one iteration it holds one pair).

* ``process_peak_mb``: the worker process's peak resident size (``ru_maxrss``: torch, the weights,
  the targets and the iteration), and ``children_maxrss_mb`` the same as its parent sees it;
* ``model_peak_mb``: what the memory model puts that process at (pipeline/budget.py
  ``estimate_run`` for one iteration without snapshots, plus importing torch): the memory table
  printed at the end sets the measured peak against it, and each tiled iteration's CPU time
  against the untiled one's;
* ``load_before`` / ``load_after``: the machine's load average around the run.

On the CPU an untiled run the model puts above ``--skip-over`` GiB (16) is not started (the row
says so, with the model's figure): it would not fit a shared 24 GB machine.

    python benchmarks/big_pictures.py --sizes 512,1024,2048 --json out/big_pictures.json
    python benchmarks/big_pictures.py --sizes 128 --tile 64          # a quick check
    python benchmarks/big_pictures.py --report out/a.json out/b.json  # the memory table of saved rows

**Quality at scale** (``--quality``, issue 20): at ``--size`` S (1024) the same wall time is spent
four ways, in one process, one after another:

* **pyramid** — ``stylize_in_stages`` through S/2 then S (``--stage-iters A,B``; three budgets: S/4, S/2,
  S), each stage started from the one before upsampled plus the content's band, with the stage
  before's step length (``stage_start="detailed"``, the default); its wall time T is the budget;
* **pyramid, plain upsampling** — the same stages started from the stage before merely upsampled,
  with L-BFGS's own first step (``stage_start="upsampled"``: the first version, "before"); it gets
  the same iterations, and its own time is reported (not a budget);
* **single** — one scale at S, iterations until T has passed (stopped at the first iteration ending past T);
* **direct S/2** — one scale at S/2 (the reference at painting scale), iterations until T has
  passed; its picture after ``--direct-iters`` (500, the default ``--iters``: a direct run as a
  user makes it) is scored too, as ``direct_half_default``.

Each result is then scored, with no gradient, by the paper's loss (α = 1, area-scaled default β,
style picture at size × style_scale) under two objectives: the full-resolution one at S
(``loss_full``; the S/2 result upsampled bicubically), and the S/2 one of the result downscaled to
S/2 (``loss_half``; "are the painting-scale structures there"). The direct run is scored at S/2
twice: on its own pixels (what it optimised), and through the same downscale as the others
(upsampled to S, then down: ``loss_half_resampled``), since resampling alone raises an optimised
picture's loss (docs/method.md, "Grading the grading"). The pictures go to ``--out``, with
a side-by-side JPEG (``--figure``). On the CPU the budget is process CPU time, not wall time
(the machine is shared; alone on it the two agree); on CUDA it is wall time. Ratios against the
references are in the table.

    python benchmarks/big_pictures.py --quality --sizes 512 --stage-iters 6,2 \\
        --json out/pyramid_quality_512.json --out out/pyramid_512 --figure docs/img/pyramid_512.jpg

The arms can run as separate processes, side by side (``--arms``; the pyramid first, since its
time is the others' ``--budget-s``), and be put together with ``--merge``:

    python benchmarks/big_pictures.py --quality --sizes 512 --stage-iters 500,250 --threads 1 \\
        --arms pyramid --json out/B1.json --out out/px
    python benchmarks/big_pictures.py --quality --sizes 512 --stage-iters 500,250 --threads 1 \\
        --arms single --budget-s T --json out/B2.json --out out/px        # T: B1.json's budget_s
    python benchmarks/big_pictures.py --quality --sizes 512 --stage-iters 500,250 --threads 1 \\
        --arms direct_half --budget-s T --json out/B3.json --out out/px
    python benchmarks/big_pictures.py --merge out/B1.json out/B2.json out/B3.json --out out/px \\
        --figure docs/img/pyramid_512_default.jpg --json out/B.json

Run it on a quiet machine: the timings are wall and CPU time of a 2-core CPU. Each size's two
runs follow each other, so the time ratio compares like with like.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "samples" / "tuebingen.jpg"
STYLE = REPO / "samples" / "starry_night.jpg"
MB = 2**20


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024 / MB
    return float("nan")


def _gpu_name() -> str:
    import torch

    return torch.cuda.get_device_name()


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux ≥ 4.0)
        return True
    except OSError:
        return False


def worker(size: int, tile: int | None, history: int, device: str, history_dtype: str, threads: int | None) -> dict:
    import torch

    if threads:
        torch.set_num_threads(threads)
    from stylevid.pipeline.config import StyleConfig
    from stylevid.pipeline.engine.memory import history_bytes, network_view
    from stylevid.pipeline.engine.optimize import TERMS, Optimisation
    from stylevid.pipeline.engine.transfer import StyleTransfer
    from stylevid.pipeline.io.images import load_image, resize

    cuda = device.startswith("cuda")
    content = resize(load_image(CONTENT), size, size)
    style = resize(load_image(STYLE), size, size)
    config = StyleConfig(
        size=size, iters=1, history_size=history, history_dtype=history_dtype, device=device, tile=tile or "off"
    )
    engine = StyleTransfer(config, [style])
    baseline = torch.cuda.memory_allocated() / MB if cuda else _status_mb("VmRSS")
    began = time.perf_counter()
    objective = engine.objective(1, size, size)
    engine.set_contents(objective, [content])
    start = engine.initial_image(content)
    if cuda:
        torch.cuda.synchronize()
    setup_s = time.perf_counter() - began
    setup_peak = torch.cuda.max_memory_allocated() / MB if cuda else _status_mb("VmHWM")
    # one iteration, with the history the engine gives a 1-iteration run; the whole run's is history_mb
    optimisation = Optimisation(start, objective, engine.optimiser.for_iterations(1))
    record = torch.zeros(len(TERMS), 1, device=engine.device)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated() / MB
        reset = True
    else:
        reset = _reset_peak()
        before = _status_mb("VmRSS")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    optimisation.step(record)
    if cuda:
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    peak = torch.cuda.max_memory_allocated() / MB if cuda else (_status_mb("VmHWM") if reset else None)
    shape = engine.memory_shape()
    return {
        "size": size,
        "tile": tile,
        "device": device,
        "precision": engine.precision,
        "history": history,
        "history_dtype": history_dtype,
        "optimiser": type(optimisation._stepper).__module__,
        "threads": torch.get_num_threads(),
        "baseline_mb": round(baseline),
        "setup_s": round(setup_s, 2),
        "setup_peak_mb": round(setup_peak),
        "before_iteration_mb": round(before),
        "iteration_s": round(wall, 2),
        "iteration_cpu_s": round(cpu, 2),
        "iteration_peak_mb": round(peak) if peak is not None else None,
        "process_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "history_mb": round(history_bytes(size, size, shape) / MB),
        "network_view": list(network_view(size, size, shape)),
        "loss": dict(zip(TERMS, record[:, 0].tolist())),
    }


ARMS = ("pyramid", "pyramid_upsampled", "single", "direct_half")


def quality(
    size: int,
    stage_iters: tuple[int, ...],
    device: str,
    precision: str,
    out: Path | None,
    figure: Path | None,
    arms: tuple[str, ...] = ARMS,
    budget_s: float | None = None,
    direct_iters: int = 500,
) -> dict:
    """Single scale vs coarse-to-fine vs a direct run at half size, at equal time (see the header).

    ``arms`` picks which of :data:`ARMS` run; ``budget_s`` gives single's and direct's time budget
    (else the pyramid's time, which then must be an arm), so arms can run in separate processes and
    be put together with ``--merge``. The direct run's picture after ``direct_iters`` iterations (the
    default ``--iters``: a direct run as a user would make it) is scored too, as ``direct_half_default``.
    """
    import numpy as np
    import torch

    from stylevid.pipeline.config import StyleConfig
    from stylevid.pipeline.engine.optimize import TERMS, Optimisation
    from stylevid.pipeline.engine.pyramid import stylize_in_stages
    from stylevid.pipeline.engine.stages import Stage, halving_sizes
    from stylevid.pipeline.engine.transfer import StyleTransfer, upsample
    from stylevid.pipeline.io.images import load_image, resize, resize_long_side, save_image, to_tensor

    unknown = set(arms) - set(ARMS)
    if unknown:
        raise SystemExit(f"--arms: unknown {sorted(unknown)}; choose from {', '.join(ARMS)}")
    if budget_s is None and "pyramid" not in arms and {"single", "direct_half"} & set(arms):
        raise SystemExit("--arms without pyramid needs --budget-s (the pyramid's time from its own run)")
    half = size // 2
    content_full = resize_long_side(load_image(CONTENT), size)
    content_half = resize_long_side(content_full, half)
    style = load_image(STYLE)
    engine_full = StyleTransfer(StyleConfig(size=size, pyramid="off", device=device, precision=precision), [style])
    engine_half = engine_full.at_size(half)
    full_h, full_w = content_full.shape[:2]

    def sync() -> None:
        if engine_full.device.type == "cuda":
            torch.cuda.synchronize()

    # On the CPU the clock is the process's CPU time: on a machine shared with other jobs wall time
    # would charge each arm for the others' load; alone on the machine the two agree.
    clock = time.process_time if engine_full.device.type == "cpu" else time.perf_counter
    sizes = halving_sizes(size, len(stage_iters))
    results: dict[str, torch.Tensor] = {}
    rows: dict[str, dict] = {}
    budget = budget_s

    for name, stage_start in (("pyramid", "detailed"), ("pyramid_upsampled", "upsampled")):
        if name not in arms:
            continue
        sync()
        began, wall = clock(), time.perf_counter()
        staged = stylize_in_stages(
            engine_full, content_full, [Stage(s, n) for s, n in zip(sizes, stage_iters)], stage_start=stage_start
        )
        sync()
        seconds = clock() - began
        if name == "pyramid" and budget is None:
            budget = seconds  # the pyramid's time is everyone's budget
        results[name] = staged.image
        rows[name] = {"seconds": seconds, "wall_s": time.perf_counter() - wall, "iterations": list(stage_iters)}
        rows[name]["stages"] = staged.stages

    def timed_single(engine: StyleTransfer, content: np.ndarray, keep_at: int | None = None):
        """One scale from the configured init, iterations until ``budget`` seconds have passed (and the
        picture after ``keep_at`` iterations, if it got that far)."""
        sync()
        start = clock()
        height, width = content.shape[:2]
        objective = engine.objective(1, height, width)
        engine.set_contents(objective, [content])
        optimisation = Optimisation(engine.initial_image(content), objective, engine.optimiser)
        record = torch.zeros(len(TERMS), 1, device=engine.device)
        iterations, kept = 0, None
        while True:
            optimisation.step(record)
            iterations += 1
            if iterations == keep_at:
                kept = (optimisation.image.detach().clone(), clock() - start)
            sync()
            if clock() - start >= budget or iterations >= 100000:
                break
        return optimisation.image.detach(), iterations, clock() - start, kept

    half_images: dict[str, torch.Tensor] = {}  # the direct runs' own half-size pictures
    for name, engine, content in (("single", engine_full, content_full), ("direct_half", engine_half, content_half)):
        if name not in arms:
            continue
        wall = time.perf_counter()
        keep_at = direct_iters if name == "direct_half" else None
        image, iterations, seconds, kept = timed_single(engine, content, keep_at)
        rows[name] = {"seconds": seconds, "wall_s": time.perf_counter() - wall, "iterations": iterations}
        if name == "direct_half":
            half_images[name] = image
            results[name] = upsample(image, full_h, full_w)
            if kept is not None:
                half_images["direct_half_default"] = kept[0]
                results["direct_half_default"] = upsample(kept[0], full_h, full_w)
                rows["direct_half_default"] = {"seconds": kept[1], "iterations": direct_iters}
        else:
            results[name] = image

    def loss(engine: StyleTransfer, content: np.ndarray, image: torch.Tensor) -> dict[str, float]:
        height, width = content.shape[:2]
        objective = engine.objective(1, height, width)
        engine.set_contents(objective, [content])
        with torch.no_grad():
            terms = objective(image.to(engine.device))
        return {k: float(v.sum()) for k, v in terms.items()}

    def picture_of(image: torch.Tensor) -> np.ndarray:
        return (image[0].permute(1, 2, 0).clamp(0, 1) * 255).round().byte().cpu().numpy()

    def downscaled(image: torch.Tensor) -> torch.Tensor:
        picture = resize(picture_of(image), content_half.shape[1], content_half.shape[0])
        return to_tensor(picture, engine_full.device)

    pictures = {}
    for name, image in results.items():
        half_image = half_images[name] if name in half_images else downscaled(image)
        rows[name]["loss_full"] = loss(engine_full, content_full, image)
        rows[name]["loss_half"] = loss(engine_half, content_half, half_image)
        if name in half_images:  # the direct run through the same downscale as the others: up, then down
            rows[name]["loss_half_resampled"] = loss(engine_half, content_half, downscaled(image))
        pictures[name] = picture_of(half_image if name in half_images else image)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name, picture in pictures.items():
            save_image(out / f"{name}_{size}.png", picture)
    result = {
        "size": size,
        "half": half,
        "device": str(engine_full.device),
        "threads": torch.get_num_threads(),
        "budget_s": round(budget, 1) if budget is not None else None,
        "clock": "process CPU time" if clock is time.process_time else "wall time",
        "arms": list(arms),
        "rows": rows,
    }
    if figure is not None and "pyramid" in pictures:
        _side_by_side(figure, content_full, pictures, size, rows["pyramid"]["stages"])
    return result


def _side_by_side(path: Path, content, pictures: dict, size: int, stages: list) -> None:
    """content | direct S/2 | single S | pyramid S plainly upsampled (before) | pyramid S, each 360 px wide,
    with a full-resolution crop below each."""
    import numpy as np
    from PIL import Image, ImageDraw

    from stylevid.pipeline.io.images import resize

    order = [("direct", "direct_half"), ("single", "single"), ("pyramid_upsampled", "pyramid_upsampled")]
    names = [("content", content)] + [(label, pictures[key]) for label, key in order if key in pictures]
    names.append(("pyramid", pictures["pyramid"]))
    stage_sizes = " > ".join(str(max(stage["size"])) for stage in stages)
    titles = {
        "content": "content",
        "direct": f"direct {size // 2} px",
        "single": f"single scale {size} px",
        "pyramid_upsampled": f"pyramid {stage_sizes} px, upsampled starts (before)",
        "pyramid": f"pyramid {stage_sizes} px, detailed starts",
    }
    width = 360
    tiles = []
    for name, picture in names:
        if name == "direct":  # upsampled to the others' size for the crop, as a viewer would see it
            picture = resize(picture, content.shape[1], content.shape[0])
        h, w = picture.shape[:2]
        small = resize(picture, width, round(h * width / w))
        crop_side = min(h, w) // 3
        top, left = h // 3, w // 3  # a full-resolution crop of the middle
        crop = resize(picture[top : top + crop_side, left : left + crop_side], width, width)
        tile = Image.fromarray(np.concatenate([small, crop], axis=0))
        ImageDraw.Draw(tile).text((6, 4), titles[name], fill=(255, 255, 255))
        tiles.append(tile)
    sheet = Image.new("RGB", (width * len(tiles) + 4 * (len(tiles) - 1), max(t.height for t in tiles)), "white")
    for k, tile in enumerate(tiles):
        sheet.paste(tile, (k * (width + 4), 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, quality=85) if path.suffix.lower() in (".jpg", ".jpeg") else sheet.save(path)


def quality_table(result: dict) -> str:
    """The quality rows, with the painting-scale loss against the direct run twice: the direct run's
    own pixels (what it optimised), and the direct run passed through the same downscale as the
    others (upsampled to S, then down to S/2), since any resampling raises a picture's loss."""
    rows = result["rows"]
    ref_full = rows["single"]["loss_full"]["total"] if "single" in rows else None
    directs = [n for n in ("direct_half", "direct_half_default") if n in rows]
    half = result["half"]

    def resampled(row: dict) -> float:
        return row.get("loss_half_resampled", row["loss_half"])["total"]

    head = f"| run ({result['device']}, {result['budget_s']} s {result['clock']} each) | iterations | seconds "
    head += f"| loss at {result['size']} px | ÷ single | loss at {half} px (downscaled) "
    for n in directs:
        its = "equal time" if n == "direct_half" else f"{rows[n]['iterations']} it"
        head += f"| ÷ direct ({its}), its own pixels | ÷ direct ({its}), resampled alike "
    lines = [head + "|", "|---" * (6 + 2 * len(directs)) + "|"]
    for name in ("direct_half_default", "direct_half", "single", "pyramid_upsampled", "pyramid"):
        if name not in rows:
            continue
        r = rows[name]
        its = r["iterations"] if not isinstance(r["iterations"], list) else " + ".join(map(str, r["iterations"]))
        full, half_loss = r["loss_full"]["total"], resampled(r)
        cells = [name, str(its), f"{r['seconds']:.0f}", f"{full:.4g}"]
        cells.append(f"{full / ref_full:.3f}" if ref_full else "—")
        own = f" (own {r['loss_half']['total']:.4g})" if "loss_half_resampled" in r else ""
        cells.append(f"{half_loss:.4g}{own}")
        for n in directs:
            cells += [f"{half_loss / rows[n]['loss_half']['total']:.3f}", f"{half_loss / resampled(rows[n]):.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def merge_quality(paths: list[Path], out: Path | None, figure: Path | None) -> dict:
    """Put together the arms of one size run in separate processes (``--arms``, ``--budget-s``)."""
    results = [r for path in paths for r in json.loads(path.read_text())["quality"]]
    sizes = {r["size"] for r in results}
    if len(sizes) != 1:
        raise SystemExit(f"--merge: one size at a time, got {sorted(sizes)}")
    merged = dict(results[0], rows={}, arms=[], parts=[])
    for r in results:
        merged["rows"].update(r["rows"])
        merged["arms"] += r["arms"]
        merged["parts"].append({k: r.get(k) for k in ("arms", "budget_s", "threads", "load_before", "load_after")})
    merged["budget_s"] = next((r["budget_s"] for r in results if "pyramid" in r["arms"]), merged["budget_s"])
    if figure is not None and out is not None and "pyramid" in merged["rows"]:
        from stylevid.pipeline.io.images import load_image, resize_long_side

        size = merged["size"]
        pictures = {n: load_image(out / f"{n}_{size}.png") for n in ARMS if (out / f"{n}_{size}.png").exists()}
        content = resize_long_side(load_image(CONTENT), size)
        _side_by_side(figure, content, pictures, size, merged["rows"]["pyramid"]["stages"])
    return merged


def run_one(
    size: int, tile: int | None, history: int, timeout: float, device: str = "cpu", history_dtype: str = "fp32",
    threads: int | None = None,
) -> dict:  # fmt: skip
    command = [sys.executable, __file__, "--worker", str(size), "--history", str(history), "--device", device]
    command += ["--history-dtype", history_dtype]
    if threads:
        command += ["--threads", str(threads)]
    if tile is not None:
        command += ["--worker-tile", str(tile)]
    load_before = os.getloadavg()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"size": size, "tile": tile, "device": device, "failed": f"over {timeout:.0f} s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return {"size": size, "tile": tile, "device": device, "failed": f"exit {done.returncode}: {last}"}
    row = json.loads(done.stdout.strip().splitlines()[-1])
    # the child's own peak resident size, as its parent sees it (ru_maxrss of the waited-for children:
    # one child at a time, so the largest so far is this one's when it grew past the earlier ones)
    row["children_maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    row["load_before"], row["load_after"] = load_before, os.getloadavg()
    return row


def modelled_peak(size: int, tile: int | None, history: int, history_dtype: str = "fp32") -> int:
    """The memory model's peak (pipeline/budget.py ``estimate_run`` on the CPU, plus importing torch)
    of what a worker does: one iteration at size × size, an S-px style picture, no snapshots."""
    from stylevid.pipeline.budget import TORCH_IMPORT_BYTES, estimate_run
    from stylevid.pipeline.config import StyleConfig

    config = StyleConfig(
        size=size, iters=1, history_size=history, history_dtype=history_dtype, tile=tile or "off", pyramid="off"
    )
    estimate = estimate_run(
        size, size, config, device="cpu", styles=[(size, size)], source=(size, size), snapshots=False
    )
    return estimate.bytes + TORCH_IMPORT_BYTES


def memory_table(rows: list[dict]) -> str:
    """Measured peaks beside the model's (:func:`modelled_peak`), and each tiled iteration's time over
    the untiled one's at the same size (CPU time: the machine is shared)."""
    untiled = {r["size"]: r for r in rows if r.get("tile") is None and "iteration_cpu_s" in r}
    lines = [
        "| size | tile | iteration s (wall) | iteration CPU s | tiled ÷ untiled (CPU s) | peak RSS, setup (MB) "
        "| peak RSS, iteration (MB) | **peak RSS of the process (MB)** | model (MB) | measured ÷ model "
        "| load average (1 min) before → after |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        tile = r["tile"] if r.get("tile") is not None else "—"
        model = modelled_peak(r["size"], r.get("tile"), r.get("history", 100), r.get("history_dtype", "fp32"))
        if "iteration_cpu_s" not in r:
            why = r.get("skipped") or r.get("failed")
            lines.append(f"| {r['size']}² | {tile} | {why} | | | | | | {model / MB:,.0f} | | |")
            continue
        base = untiled.get(r["size"])
        ratio = f"{r['iteration_cpu_s'] / base['iteration_cpu_s']:.2f}×" if base and r.get("tile") else "—"
        peak = r["process_peak_mb"]
        load = f"{r['load_before'][0]:.1f} → {r['load_after'][0]:.1f}" if "load_before" in r else ""
        lines.append(
            f"| {r['size']}² | {tile} | {r['iteration_s']:.0f} | {r['iteration_cpu_s']:.0f} | {ratio} "
            f"| {r['setup_peak_mb']:,} | {r['iteration_peak_mb']:,} | **{peak:,}** | {model / MB:,.0f} "
            f"| {peak * MB / model:.2f} | {load} |"
        )
    return "\n".join(lines)


def table(rows: list[dict]) -> str:
    lines = [
        "| size | tile | setup s | iteration s (wall) | iteration CPU s | peak RSS in the iteration (MB) "
        "| peak RSS of the process (MB) | L-BFGS history, m pairs (MB, computed) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        tile = r["tile"] if r["tile"] is not None else "—"
        if "failed" in r or "skipped" in r:
            why = f"failed: {r['failed']}" if "failed" in r else f"skipped: {r['skipped']}"
            lines.append(f"| {r['size']}² | {tile} | {why} | | | | | |")
            continue
        lines.append(
            f"| {r['size']}² | {tile} | {r['setup_s']} | {r['iteration_s']} | {r['iteration_cpu_s']} "
            f"| {r['iteration_peak_mb']} | {r['process_peak_mb']} | {r['history_mb']} |"
        )
    return "\n".join(lines)


def model_table(sizes: list[int], tile: int, variants: list[str]) -> str:
    """The memory model's parts (engine/memory.py, pipeline/budget.py) of a CPU run at S×S, whole and
    in ``tile``-px tiles, per L-BFGS history (DTYPE:PAIRS); GB (2³⁰ bytes)."""
    from stylevid.pipeline.budget import estimate_run
    from stylevid.pipeline.config import StyleConfig
    from stylevid.pipeline.engine.memory import (
        HISTORY_BYTES,
        RunShape,
        activation_bytes,
        history_bytes,
        network_view,
        optimiser_bytes,
        target_bytes,
    )

    gb = 2**30
    lines = [
        "| size | tile | history | network (activations) | L-BFGS pairs | image, gradient, step buffers "
        "| content targets | snapshots (GIF) | style pass | whole run (estimate) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in sizes:
        for tiled in (None, tile):
            for variant in variants:
                dtype, pairs = variant.split(":")
                config = StyleConfig(
                    size=size, iters=500, history_size=int(pairs), history_dtype=dtype, tile=tiled or "off"
                )
                estimate = estimate_run(size, size, config, device="cpu", styles=[(size, size)], source=(size, size))
                shape = RunShape(
                    layers={config.content_layer, *config.style_layers},
                    style_layers=config.style_layers,
                    content_layer=config.content_layer,
                    history=int(pairs),
                    history_bytes=HISTORY_BYTES[dtype],
                    tile=tiled,
                )
                act = activation_bytes(*network_view(size, size, shape), shape)
                hist = history_bytes(size, size, shape)
                rest = optimiser_bytes(size, size, shape) - hist
                cells = [act, hist, rest, target_bytes(size, size, shape), estimate.parts["snapshots"]]
                cells += [estimate.parts["style_pass"], estimate.bytes]
                lines.append(
                    f"| {size}² | {tiled or '—'} | {pairs} {dtype} | "
                    + " | ".join(f"{c / gb:.2f}" for c in cells)
                    + " |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="512,1024,2048", help="picture sides, comma-separated")
    parser.add_argument("--tile", type=int, default=512, help="tile side (S/2 for sizes ≤ this)")
    parser.add_argument("--modes", default="untiled,tiled", help="untiled, tiled or both")
    parser.add_argument("--history", type=int, default=100, help="L-BFGS history size m")
    parser.add_argument("--history-dtype", default="fp32", help="L-BFGS history storage: fp32, bf16 or fp16")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda (peak = torch.cuda.max_memory_allocated)")
    parser.add_argument("--threads", type=int, help="torch threads per run (default: torch's)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    parser.add_argument(
        "--skip-over", type=float, default=16, help="CPU: skip untiled runs the memory model puts above this many GiB"
    )
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--quality", action="store_true", help="single scale vs pyramid at equal wall time")
    parser.add_argument(
        "--stage-iters", default="12,4", help="--quality: iterations of the pyramid's stages (halving down to the size)"
    )
    parser.add_argument("--precision", default="fp32", help="--quality: fp32 or bf16")
    parser.add_argument("--out", type=Path, help="--quality: write the result pictures here")
    parser.add_argument("--figure", type=Path, help="--quality: write the side-by-side JPEG here")
    parser.add_argument("--arms", default=",".join(ARMS), help="--quality: which runs, comma-separated")
    parser.add_argument("--budget-s", type=float, help="--quality: single's and direct's budget (else the pyramid's)")
    parser.add_argument("--direct-iters", type=int, default=500, help="--quality: also score direct after this many")
    parser.add_argument("--merge", type=Path, nargs="+", help="--quality: put these --json files' arms together")
    parser.add_argument("--model", default=None, help="print the memory model's parts for DTYPE:PAIRS,… instead")
    parser.add_argument("--report", type=Path, nargs="+", help="print the memory table of these --json files")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-tile", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(
            json.dumps(
                worker(args.worker, args.worker_tile, args.history, args.device, args.history_dtype, args.threads)
            )
        )
        return
    if args.report:
        print(memory_table([row for path in args.report for row in json.loads(path.read_text())["rows"]]))
        return
    if args.model:
        print(model_table([int(s) for s in args.sizes.split(",")], args.tile, args.model.split(",")))
        return
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.merge:
        merged = merge_quality(args.merge, args.out, args.figure)
        print(quality_table(merged))
        if args.json:
            args.json.write_text(
                json.dumps({"meta": {"merged": [str(p) for p in args.merge]}, "quality": [merged]}, indent=1)
            )
        return
    if args.quality:
        stage_iters = tuple(int(n) for n in args.stage_iters.split(","))
        results = []
        for size in (int(s) for s in args.sizes.split(",")):
            load_before = os.getloadavg()
            figure = args.figure
            if figure is not None and "," in args.sizes:
                figure = figure.with_name(f"{figure.stem}_{size}{figure.suffix}")
            arms = tuple(a for a in args.arms.split(",") if a)
            result = quality(
                size, stage_iters, args.device, args.precision, args.out, figure, arms, args.budget_s, args.direct_iters
            )
            result["load_before"], result["load_after"] = load_before, os.getloadavg()
            results.append(result)
            print(json.dumps(result), flush=True)
            print(quality_table(result), flush=True)
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                meta = {"command": " ".join(sys.argv), "cpus": os.cpu_count()}
                args.json.write_text(json.dumps({"meta": meta, "quality": results}, indent=1))
        return
    rows: list[dict] = []
    for size in (int(s) for s in args.sizes.split(",")):
        for mode in args.modes.split(","):
            tile = None if mode == "untiled" else (args.tile if size > args.tile else size // 2)
            model = modelled_peak(size, tile, args.history, args.history_dtype)
            if tile is None and not args.device.startswith("cuda") and model > args.skip_over * 2**30:
                skipped = f"model estimate {model / 2**30:.1f} GiB > --skip-over {args.skip_over:g} GiB"
                rows.append({"size": size, "tile": tile, "device": args.device, "skipped": skipped})
            else:
                rows.append(
                    run_one(size, tile, args.history, args.timeout, args.device, args.history_dtype, args.threads)
                )
            rows[-1]["model_peak_mb"] = round(model / MB)
            print(json.dumps(rows[-1]), flush=True)
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                meta = {"command": " ".join(sys.argv), "cpus": os.cpu_count(), "load": os.getloadavg()}
                if args.device.startswith("cuda"):
                    meta["gpu"] = _gpu_name()
                args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(table(rows))
    print(memory_table(rows))


if __name__ == "__main__":
    main()
