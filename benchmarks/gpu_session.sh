#!/usr/bin/env bash
# Every GPU check of issue 6 in one call of the device tool, sized for a 15-minute device budget:
# at most 9½ minutes of commands (about 6 expected), each step under its own `timeout`, so a slow
# step costs only itself and what finished comes back in $OUT.
#
# The GPU machine has torch, torchvision, opencv, typer, rich and matplotlib but not PyAV, nor
# ../shared. Prepare once, here, in the repository root (both folders are git-ignored):
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl av
#   mkdir -p .carry && cp ../shared/weights/vgg19-caffe-conv-fp16.pth .carry/
#
# then call the device tool's `run` with carry [".whl", ".carry"] and the command
#
#   bash benchmarks/gpu_session.sh
#
# Results: $OUT/log.txt (all output), speed.json, speed-1080p-24gb.json, video.json, gpu-tests.log.
# Outside the device tool set OUT yourself (default out/gpu-session).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu-session}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1

# PyAV from the carried wheel; stylevid importable without an install (stylevid is a namespace
# package: stylevid.pipeline → pipeline/, stylevid.cli → cli/, as pyproject.toml maps them).
site=/tmp/stylevid-site
mkdir -p "$site/stylevid"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl || exit 1
fi
ln -sfn "$PWD/pipeline" "$site/stylevid/pipeline"
ln -sfn "$PWD/cli" "$site/stylevid/cli"
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"

# The tests expect ../shared (weights + media); samples/ holds the same media files.
weights=.carry/vgg19-caffe-conv-fp16.pth
[ -f "$weights" ] || weights=../shared/weights/vgg19-caffe-conv-fp16.pth
[ -f "$weights" ] || { echo "no VGG19 weights: copy ../shared/weights/vgg19-caffe-conv-fp16.pth into .carry/"; exit 1; }
if [ ! -f ../shared/weights/vgg19-caffe-conv-fp16.pth ]; then
    mkdir -p ../shared/weights ../shared/media/styles ../shared/media/content ../shared/media/video
    cp "$weights" ../shared/weights/
    cp samples/starry_night.jpg ../shared/media/styles/vangogh_starry_night.jpg
    cp samples/great_wave.jpg ../shared/media/styles/hokusai_great_wave.jpg
    cp samples/shipwreck_of_the_minotaur.jpg ../shared/media/styles/turner_shipwreck_of_the_minotaur.jpg
    cp samples/tuebingen.jpg ../shared/media/content/tuebingen_neckarfront.jpg
    cp samples/chelsea_cat.png samples/coffee.png ../shared/media/content/
    cp samples/cockatoo.mp4 ../shared/media/video/
fi
export STYLEVID_WEIGHTS="$(realpath "$weights")" STYLEVID_WEIGHTS_FORMAT=caffe

step() {  # step SECONDS NAME COMMAND...: run with a time limit, say how it ended
    local limit=$1 name=$2; shift 2
    echo; echo "=== $name (limit ${limit}s): $*"
    local began=$SECONDS
    timeout --kill-after=10 "$limit" "$@"
    echo "=== $name: exit $? after $((SECONDS - began)) s"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, av; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), 'av', av.__version__)"

# Most telling first: a step cut by its limit costs only itself.
step 150 speed python3 benchmarks/speed.py --json "$OUT/speed.json"
# The clip's first 24 frames at 854×480: reference, fast, rolling batches of 4 and 8, and with
# CUDA graphs one frame at a time and 8 in flight.
step 250 video python3 benchmarks/video_throughput.py --end 24 --batch 1,4,8 --graphs 1,8 --out /tmp/video-throughput --json "$OUT/video.json"
step 110 gpu-tests python3 -m pytest -q -m gpu -rs -p no:cacheprovider tests 2>&1 | tee "$OUT/gpu-tests.log"
step 60 speed-1080p-24gb python3 benchmarks/speed.py --sizes 1920x1080 --memory-cap-gb 24 --json "$OUT/speed-1080p-24gb.json"
echo; echo "=== done after $SECONDS s"
