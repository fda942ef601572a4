#!/usr/bin/env bash
# Issue 20's memory and optimiser-history figures in one call of the device tool (an H200 with 16
# CPU cores and 128 GiB of RAM), each step under its own `timeout` so a slow one costs only itself;
# at most about 9 minutes. Results in $OUT: log.txt, history-384.json (benchmarks/lbfgs_history.py
# on CUDA, fp32 network), gpu-*.json (benchmarks/big_pictures.py on CUDA: max_memory_allocated) and
# cpu-*.json (big_pictures.py with --device cpu on that machine's 16 cores: peak RSS).
#
# Needs: torch on the machine; the weights as ../shared/weights/vgg19-caffe-conv-fp16.pth or
# $WEIGHTS_XZ (the shared .pth.xz); run from the repository root:
#   OUT=out/gpu WEIGHTS_XZ=/path/vgg19-caffe-conv-fp16.pth.xz bash benchmarks/big_pictures_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/big-pictures-gpu}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1

step() {  # step SECONDS NAME COMMAND...
    local limit=$1 name=$2; shift 2
    echo; echo "=== $name (limit ${limit}s): $*"; local began=$SECONDS
    timeout --kill-after=5 "$limit" "$@"; local status=$?
    echo "=== $name: exit $status after $((SECONDS - began)) s"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
uptime; nproc; free -g | head -2
site=/tmp/stylevid-site
mkdir -p "$site/stylevid"
ln -sfn "$PWD/pipeline" "$site/stylevid/pipeline"
ln -sfn "$PWD/cli" "$site/stylevid/cli"
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
weights=/tmp/vgg19-caffe-conv-fp16.pth
if [ -f ../shared/weights/vgg19-caffe-conv-fp16.pth ]; then
    weights=$(realpath ../shared/weights/vgg19-caffe-conv-fp16.pth)
else
    xz -dc "${WEIGHTS_XZ:?set WEIGHTS_XZ}" > "$weights" || exit 1
fi
export STYLEVID_WEIGHTS=$weights STYLEVID_WEIGHTS_FORMAT=caffe
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"

# 1. what a smaller history costs: same picture, same iterations (fp32 network)
step 75 history-384 python3 benchmarks/lbfgs_history.py --device cuda --size 384 --iters 300 \
    --json "$OUT/history-384.json"
# 2. GPU memory of one iteration (bf16 network, the engine's L-BFGS: its whole history allocated)
step 100 gpu-sizes python3 benchmarks/big_pictures.py --device cuda --sizes 1024,2048,4096 --timeout 45 \
    --json "$OUT/gpu-sizes.json"
for variant in bf16:100 fp32:5 bf16:20; do
    step 30 "gpu-4096-$variant" python3 benchmarks/big_pictures.py --device cuda --sizes 4096 --modes tiled \
        --history-dtype "${variant%%:*}" --history "${variant##*:}" --timeout 25 \
        --json "$OUT/gpu-4096-${variant%%:*}-${variant##*:}.json"
done
# 3. CPU resident memory (fp32, torch.optim.LBFGS: one pair after one iteration; history computed)
step 110 cpu-1024-2048 python3 benchmarks/big_pictures.py --device cpu --sizes 1024,2048 --timeout 100 \
    --json "$OUT/cpu-1024-2048.json"
step 185 cpu-4096 python3 benchmarks/big_pictures.py --device cpu --sizes 4096 --modes tiled,untiled --timeout 90 \
    --json "$OUT/cpu-4096.json"
echo; echo "=== done after $SECONDS s"; uptime
