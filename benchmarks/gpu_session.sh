#!/usr/bin/env bash
# Every GPU check in one call of the device tool, sized for a 15-minute device budget (the
# machine's start, 1–2 minutes, counts too): at most 8 minutes of commands, each under its own
# `timeout`, so a slow step costs only itself and what finished comes back in $OUT.
#
# Budget, worst case (each step's limit + its 5 s kill-after; copying the media is instant):
#   setup: nvidia-smi 10+5 s, PyAV wheel install + import 30+5 s, unpacking weights 10+5 s   65 s
#   speed: 4 sizes, the JSON rewritten after each size                                90+5 s   95 s
#   video: 12 frames at 854×480, 5 runs, the JSON rewritten after each run            160+5 s  165 s
#   gpu-tests: pytest -m gpu (60 s per test where pytest-timeout is installed)        100+5 s  105 s
#   leftover: what a graphed stylize leaves allocated                                  30+5 s   35 s
#   speed-1080p-24gb                                                                   45+5 s   50 s
#   flow: RAFT plumbing tests, then flow_methods.py at 512 px (RAFT, DIS, DeepFlow)     60+5 s   65 s
#   total                                                                                     580 s
# The first GPU session (2026-12-04) took 314 s, with its video step cut at 16 frames; expected now
# about 6½ minutes. Call `run` with timeout_s 590: the steps' own limits end it first.
# STEPS=video,gpu-tests (say) runs only those steps (the setup always runs).
#
# The GPU machine has torch, torchvision, opencv, typer, rich and matplotlib but not PyAV, nor
# ../shared. Prepare once, here, in the repository root (both folders are git-ignored; together
# with the tracked files about 58 MB travel, under the tool's 64 MiB):
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#       -d .whl av==18.1.0                      # the PyAV the CPU tests use (.venv/bin/pip show av)
#   mkdir -p .carry && cp ../shared/weights/vgg19-caffe-conv-fp16.pth.xz .carry/   # 10 MB, not the 26 MB .pth
#
# The machine cannot download RAFT's weights: without them the flow step times RAFT with random
# weights and reports no RAFT end-point error. To measure it, carry torchvision's file (21 MB):
#   cp ~/.cache/torch/hub/checkpoints/raft_large_C_T_SKHT_V2-ff5fadd5.pth .carry/
# It does not fit beside the wheel and the VGG weights (58 MB of the 64 MiB), so the first session
# left RAFT's error unmeasured; measuring it needs a call that carries less (the setup below
# insists on PyAV, which flow_methods.py does not use).
#
# then call the device tool's `run` with carry [".whl", ".carry"] and the command
#
#   bash benchmarks/gpu_session.sh
#
# Results: $OUT/log.txt (all output), speed.json, video.json, gpu-tests.log, speed-1080p-24gb.json,
# flow-methods.json.
# Outside the device tool set OUT yourself (default out/gpu-session).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu-session}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1

step() {  # step SECONDS NAME COMMAND...: run with a time limit, say how it ended (skipped if not in $STEPS)
    local limit=$1 name=$2; shift 2
    if [ -n "${STEPS:-}" ] && [[ ",$STEPS," != *",$name,"* ]] && [[ $name != gpu && $name != setup-* ]]; then
        echo "=== $name: skipped (STEPS=$STEPS)"; return 0
    fi
    echo; echo "=== $name (limit ${limit}s): $*"
    local began=$SECONDS
    timeout --kill-after=5 "$limit" "$@"
    local status=$?
    echo "=== $name: exit $status after $((SECONDS - began)) s"
    return $status
}

step 10 gpu nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader

# PyAV from the carried wheel; stylevid importable without an install (stylevid is a namespace
# package: stylevid.pipeline → pipeline/, stylevid.cli → cli/, as pyproject.toml maps them).
site=/tmp/stylevid-site
mkdir -p "$site/stylevid"
ln -sfn "$PWD/pipeline" "$site/stylevid/pipeline"
ln -sfn "$PWD/cli" "$site/stylevid/cli"
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
install_av() {  # (torch's versions: speed.py's header prints them)
    if ls .whl/av-*.whl >/dev/null 2>&1; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target "$site" .whl/av-*.whl || return 1
    fi
    python3 -c "import av; print('av', av.__version__)"
}
export -f install_av && export site
step 30 setup-av bash -c install_av || { echo "no PyAV: put the av wheel into .whl/ (see the header)"; exit 1; }

# The tests expect ../shared (weights + media); samples/ holds the same media files.
weights=../shared/weights/vgg19-caffe-conv-fp16.pth
unpack_weights() {  # the carried .xz, with xz if the machine has it, else Python's lzma
    local packed=.carry/vgg19-caffe-conv-fp16.pth.xz
    [ -f "$packed" ] || { echo "no $packed: copy it from ../shared/weights/ (see the header)"; return 1; }
    mkdir -p "$(dirname "$weights")"
    if command -v xz >/dev/null; then
        xz -dc "$packed" > "$weights.part" || return 1
    else
        python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" \
            "$packed" "$weights.part" || return 1
    fi
    mv "$weights.part" "$weights" && ls -l "$weights"
}
export -f unpack_weights && export weights
if [ ! -f "$weights" ]; then
    step 10 setup-weights bash -c unpack_weights || exit 1
    mkdir -p ../shared/media/styles ../shared/media/content ../shared/media/video
    cp samples/starry_night.jpg ../shared/media/styles/vangogh_starry_night.jpg
    cp samples/great_wave.jpg ../shared/media/styles/hokusai_great_wave.jpg
    cp samples/shipwreck_of_the_minotaur.jpg ../shared/media/styles/turner_shipwreck_of_the_minotaur.jpg
    cp samples/tuebingen.jpg ../shared/media/content/tuebingen_neckarfront.jpg
    cp samples/chelsea_cat.png samples/coffee.png ../shared/media/content/
    cp samples/cockatoo.mp4 ../shared/media/video/
fi
export STYLEVID_WEIGHTS="$(realpath "$weights")" STYLEVID_WEIGHTS_FORMAT=caffe

# Most telling first: a step cut by its limit costs only itself.
step 90 speed python3 benchmarks/speed.py --json "$OUT/speed.json"
# The clip's first 12 frames at 854×480: reference, fast, a rolling batch of 8, and with CUDA
# graphs one frame at a time and 8 in flight (the first session: ~25 s a run; six runs did not fit,
# and a batch of 4 had measured 73.4 frame-it/s against 74.1 one at a time, so it was dropped).
step 160 video python3 benchmarks/video_throughput.py --end 12 --iters 150 --frame-iters 100 --batch 1,8 \
    --graphs 1,8 --out /tmp/video-throughput --json "$OUT/video.json"
per_test_limit=$(python3 -c "import pytest_timeout" 2>/dev/null && echo --timeout=60)
step 100 gpu-tests python3 -m pytest -q -m gpu -rs -p no:cacheprovider $per_test_limit tests 2>&1 \
    | tee "$OUT/gpu-tests.log"
# What a graphed stylize leaves allocated, by the line that allocated it (the graph test's check)
step 30 leftover python3 benchmarks/gpu_leftover_memory.py --precision bf16
step 45 speed-1080p-24gb python3 benchmarks/speed.py --sizes 1920x1080 --memory-cap-gb 24 \
    --json "$OUT/speed-1080p-24gb.json"
# Optical flow on the GPU (docs/method.md, "Choosing the optical flow"): RAFT's plumbing tests where
# torchvision works, then end-point error and seconds per frame at 512 px (RAFT timed only, with
# random weights, unless its weights were carried).
flow_session() {
    if [ -f .carry/raft_large_C_T_SKHT_V2-ff5fadd5.pth ]; then
        local hub; hub=$(python3 -c "import torch; print(torch.hub.get_dir())")
        mkdir -p "$hub/checkpoints" && cp .carry/raft_large_C_T_SKHT_V2-ff5fadd5.pth "$hub/checkpoints/"
    fi
    python3 -m pytest -q -p no:cacheprovider -rs tests/motion/test_flow_methods.py -k raft
    python3 benchmarks/flow_methods.py --device cuda --threads 16 --size 512 --raft-random \
        --methods raft,raft-small,dis,dis-fine,deepflow --json "$OUT/flow-methods.json"
}
export -f flow_session && export OUT
step 60 flow bash -c flow_session
echo; echo "=== done after $SECONDS s"
