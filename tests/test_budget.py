"""The memory estimate before any work (pipeline/budget.py): a run that cannot fit is refused in
one line that says what would fit, before any folder, decoding or progress; the estimate grows
with what it should; run.json holds it beside the measured peak. (Its figures against measured
peaks: benchmarks/memory_estimate.py, docs/performance.md.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import CONTENT_FILE, STYLE_FILE, cli_error_line, run_cli

from stylevid.pipeline import budget
from stylevid.pipeline.budget import (
    check_memory,
    estimate_run,
    estimate_run_bytes,
    parse_memory,
    plan_memory,
)
from stylevid.pipeline.config import StyleConfig, VideoConfig
from stylevid.pipeline.engine.memory import scaled
from stylevid.pipeline.engine.snapshots import SNAPSHOT_BYTES_PER_PIXEL, snapshot_iterations
from stylevid.pipeline.engine.stages import plan_stages
from stylevid.pipeline.errors import StylevidError

FAST = ["--iters", "2", "--device", "cpu", "--quiet"]


def test_size_200000_is_refused_in_one_line_before_anything_is_made(capsys, tmp_path):
    out = tmp_path / "out"
    line = cli_error_line(capsys, CONTENT_FILE, "--style", STYLE_FILE, "-o", out, "--size", "200000", *FAST)
    assert line.startswith("stylevid: error: not enough memory: a run at 200000×150000 needs about ")
    assert "TiB (estimate)" in line and "available" in line
    suggested = int(line.rsplit("try --size ", 1)[1].split()[0].rstrip(";,)"))
    assert 64 <= suggested < 200000 and suggested % 16 == 0
    assert not out.exists()  # no output folder, no progress (stdout is empty with --quiet and without)
    code, printed, _ = run_cli(capsys, CONTENT_FILE, "--style", STYLE_FILE, "-o", out, "--size", "200000")
    assert code == 2 and printed == "" and not out.exists()


def test_a_low_memory_limit_refuses_with_the_largest_size_that_fits(capsys, tmp_path):
    line = cli_error_line(
        capsys,
        CONTENT_FILE,
        "--style",
        STYLE_FILE,
        "-o",
        tmp_path / "o",
        "--size",
        "512",
        "--memory-limit",
        "600M",
        "--tile",
        "off",
        *FAST,
    )
    assert "allowed by --memory-limit" in line and "600 MiB" in line
    size = int(line.rsplit("try --size ", 1)[1].rstrip(")"))
    config = StyleConfig(size=size, iters=2, device="cpu", memory_limit=600 * 2**20, tile="off")
    assert check_memory(CONTENT_FILE, "image", [STYLE_FILE], config) is not None  # the suggestion fits
    with pytest.raises(StylevidError):
        check_memory(CONTENT_FILE, "image", [STYLE_FILE], config.replace(size=size + 16))  # and is the largest


def test_a_smaller_history_is_suggested_when_that_alone_fits():
    config = StyleConfig(size=512, iters=500, history_size=100, device="cpu", tile="off")

    def need(history: int) -> int:
        return estimate_run_bytes(
            384, 512, config.replace(history_size=history), styles=[(768, 970)], source=(768, 1024)
        )

    limit = (need(50) + need(100)) // 2
    with pytest.raises(StylevidError, match=r"try --history 50 \(or --size \d+\)"):
        check_memory(CONTENT_FILE, "image", [STYLE_FILE], config.replace(memory_limit=limit))


def test_tiling_is_suggested_when_the_picture_fits_only_in_tiles():
    config = StyleConfig(size=1536, iters=5, history_size=5, device="cpu", tile="off")
    whole = estimate_run_bytes(1152, 1536, config, styles=[(768, 970)], source=(768, 1024))
    tiled = estimate_run_bytes(1152, 1536, config.replace(tile=512), styles=[(768, 970)], source=(768, 1024))
    assert tiled < whole / 1.5
    limit = (whole + tiled) // 2
    with pytest.raises(StylevidError, match=r"try --tile 512 .*--size \d+"):
        check_memory(CONTENT_FILE, "image", [STYLE_FILE], config.replace(memory_limit=limit))
    check_memory(CONTENT_FILE, "image", [STYLE_FILE], config.replace(memory_limit=limit, tile=512))
    check_memory(CONTENT_FILE, "image", [STYLE_FILE], config.replace(memory_limit=limit, tile="auto"))  # tiles itself


def test_nothing_fits_says_so():
    config = StyleConfig(size=256, device="cpu", memory_limit=2**20)
    with pytest.raises(StylevidError, match="even --size 64 does not fit; free some memory or raise --memory-limit"):
        check_memory(CONTENT_FILE, "image", [STYLE_FILE], config)


def test_the_estimate_grows_with_size_history_batch_and_style_scale():
    config = StyleConfig(iters=500)
    by_size = [estimate_run_bytes(*scaled(768, 1024, s), config.replace(size=s)) for s in (64, 128, 256, 512)]
    assert by_size == sorted(by_size) and len(set(by_size)) == 4
    by_history = [estimate_run_bytes(384, 512, config.replace(history_size=m)) for m in (5, 20, 100)]
    assert by_history == sorted(by_history) and len(set(by_history)) == 3
    video = VideoConfig(style=config)
    batches = [estimate_run_bytes(384, 512, video.replace(batch_frames=b)) for b in (1, 2, 4)]
    assert batches == sorted(batches) and len(set(batches)) == 3
    styles = [(3000, 4000)]  # a large style picture: at style_scale 2 its pass outgrows the optimisation
    scales = [estimate_run_bytes(96, 128, config.replace(size=128, style_scale=k), styles=styles) for k in (1, 4, 16)]
    assert scales == sorted(scales) and len(set(scales)) == 3


def test_the_history_counts_only_the_pairs_a_run_of_that_many_iterations_can_make():
    """A picture's optimisation of N iterations gets a history of at most N pairs, whichever L-BFGS
    steps it (engine/transfer.py); the rolling batch of video frames is one optimisation for many
    frames, so its whole history counts."""
    few = StyleConfig(iters=10, history_size=100)
    for config in (few, few.replace(precision="bf16"), few.replace(max_step=0.0), few.replace(history_dtype="bf16")):
        assert estimate_run_bytes(384, 512, config) == estimate_run_bytes(384, 512, config.replace(history_size=10))
    assert estimate_run_bytes(384, 512, few.replace(iters=200)) > estimate_run_bytes(384, 512, few)
    rolling = VideoConfig(style=few, frame_iters=10, batch_frames=2)
    fewer_pairs = rolling.replace(style=few.replace(history_size=10))
    assert estimate_run_bytes(384, 512, rolling) > estimate_run_bytes(384, 512, fewer_pairs)


def test_on_cuda_only_device_memory_counts():
    config = StyleConfig(size=512, precision="fp32")
    cpu = estimate_run(384, 512, config, device="cpu")
    gpu = estimate_run(384, 512, config, device="cuda")
    assert gpu.bytes < cpu.bytes
    assert "runtime" in cpu.parts and "runtime" not in gpu.parts and "pictures" not in gpu.parts
    graphs = estimate_run(384, 512, config.replace(cuda_graphs=True), device="cuda")
    assert graphs.bytes > gpu.bytes  # a graph's pool


@pytest.mark.parametrize(
    ("text", "expected"),
    [("8G", 8 * 2**30), ("512M", 512 * 2**20), ("1.5GiB", 3 * 2**29), ("4096", 4096), ("2 gb", 2 * 2**30)],
)
def test_memory_limits_read_like_sizes(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize("text", ["8X", "", "-1G", "0", "G"])
def test_bad_memory_limits_are_refused(text):
    with pytest.raises(StylevidError, match="--memory-limit"):
        parse_memory(text)


def test_memory_limit_is_validated_by_the_config():
    with pytest.raises(StylevidError, match="memory limit"):
        StyleConfig(memory_limit=0)
    assert StyleConfig(memory_limit=2**30).memory_limit == 2**30


def test_available_ram_is_positive_and_the_device_is_the_cpu_here():
    assert budget.available_bytes("cpu") > 0
    assert budget.run_device("cpu") == "cpu"


def test_run_json_holds_the_estimate_beside_the_measured_peak(tmp_path):
    # a fresh process, as a user's run is: inside a long test session a tiny run may reuse memory
    # that earlier tests freed and add nothing to the resident size (peak 0)
    args = [CONTENT_FILE, "--style", STYLE_FILE, "-o", tmp_path / "o", "--size", "32", *FAST]
    done = subprocess.run(
        [sys.executable, "-m", "stylevid.cli", *map(str, args)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    memory = json.loads((tmp_path / "o" / "run.json").read_text())["memory"]
    assert memory["device"] == "cpu" and memory["precision"] == "fp32"
    assert memory["estimate_bytes"] == sum(memory["estimate_parts"][k] for k in ("weights", "pictures", "phase"))
    assert memory["peak_bytes"] > 0 and memory["peak_measure"] in ("VmHWM", "ru_maxrss")
    assert memory["peak_over_estimate"] == pytest.approx(memory["peak_bytes"] / memory["estimate_bytes"], abs=1e-3)


def test_a_4096_px_print_goes_coarse_to_fine_within_8_gb():
    """docs/usage.md's print example (--size 4096 --memory-limit 8G, --pyramid auto: 512 → 4096 px in
    four stages) is planned, not refused: its snapshots are 8-bit and GIF-sized (engine/snapshots.py)."""
    config = StyleConfig(size=4096, memory_limit=parse_memory("8G"), bit_depth=16, device="cpu")
    assert [stage.size for stage in plan_stages(config.pyramid, config.size, config.iters)] == [512, 1024, 2048, 4096]
    if budget.available_bytes("cpu") < config.memory_limit:
        pytest.skip("less than 8 GiB of RAM available: the plan would be for what is free")
    plan = plan_memory(CONTENT_FILE, "image", [STYLE_FILE], config)
    assert plan.tile is not None and plan.changed and "nothing fits" not in plan.reason
    # a tile that costs little time with fewer pairs, not a halo-bound small tile with more pairs
    layers = (config.content_layer, *config.style_layers)
    assert budget.crop_ratio(plan.tile, 3072, 4096, layers) <= budget.TILE_MAX_CROP_RATIO
    estimate = check_memory(CONTENT_FILE, "image", [STYLE_FILE], config)  # raises if refused
    assert estimate is not None and estimate.bytes <= 8 * 2**30
    assert estimate.parts["snapshots"] < 100 * 2**20  # 37 snapshots of 1024×768 bytes; 5.6 GB as fp32 at 4096 px


def test_a_pyramid_is_estimated_at_its_last_stage_with_every_stage_s_snapshots(capsys, tmp_path):
    one_scale = StyleConfig(size=1024, iters=500, pyramid="off")
    staged = one_scale.replace(pyramid=(512, 1024))  # 500 + 250 iterations, each stage's snapshots at 1024 px
    extra = estimate_run_bytes(768, 1024, staged) - estimate_run_bytes(768, 1024, one_scale)
    assert extra == (1 + len(snapshot_iterations(250))) * SNAPSHOT_BYTES_PER_PIXEL * 768 * 1024  # 8-bit RGB
    # a last stage with more iterations than --iters keeps more L-BFGS pairs (torch's L-BFGS on the CPU)
    short = StyleConfig(size=128, iters=5, history_size=100, pyramid=(64, 128), pyramid_iters=(5, 50))
    assert estimate_run_bytes(96, 128, short) > estimate_run_bytes(96, 128, short.replace(pyramid_iters=(5, 5)))
    # refused in one line, with stages given: the smaller size it suggests is planned as auto plans it
    args = ["--pyramid", "256,512", "--tile", "off", "--memory-limit", "600M", "--iters", "3", "--device", "cpu"]
    line = cli_error_line(capsys, CONTENT_FILE, "--style", STYLE_FILE, "-o", tmp_path / "o", *args)
    assert "not enough memory" in line and "try --size" in line


def test_the_crop_ratio_grows_as_tiles_shrink_to_their_halo():
    layers = ("relu4_2", "relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert budget.crop_ratio(None, 3072, 4096, layers) == 1.0
    assert 1.5 < budget.crop_ratio(512, 3072, 4096, layers) < 1.8  # (512 + halo)² ÷ 512²
    assert budget.crop_ratio(64, 3072, 4096, layers) > 10  # a 64-px tile's crop is mostly halo
    assert budget.crop_ratio(512, 600, 600, layers) < budget.crop_ratio(512, 3072, 4096, layers)  # clipped
