#!/usr/bin/env bash
# wms vs the PyTorch peer (../shared/bench), same machine, same run: training step,
# forward pass, photo -> mask latency and batch throughput, end-to-end epoch over real
# photos, peak memory, and what the allocator tuning is worth.
#   bench/model.sh DATA_DIR [PEER_DIR]      e.g. bench/model.sh ../shared/datasets/water-meters
# Needs scripts/setup.sh --bench (the peer's Python packages). Writes bench/results/model.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${1:?usage: bench/model.sh DATA_DIR [PEER_DIR]}
peer=${2:-$here/../../shared/bench}
wms_bench=${WMS_BENCH_BIN:-$here/../build/bench_model}
out=$here/results
mkdir -p "$out"
log=$out/model.log
: > "$log"
tuned="env MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=-1"
py=/usr/bin/python3
# A table without the peer compares nothing: refuse before measuring anything.
$py -c "import torch, torchvision, fastapi, prometheus_client, cv2, PIL" 2>/dev/null ||
  { echo "bench/model.sh: the PyTorch peer's packages are missing (torchvision, fastapi, ...): run scripts/setup.sh --bench" >&2; exit 2; }
run() { echo "+ $*" >&2; "$@" 2>&1 | tee -a "$log" | grep -v -E '^(RESULT|PEAKMEM)' || true; }

for size in 512 256; do
  run $tuned $py "$peer/peer_unet.py" train --size $size --formats nchw,cl --warmup 1 --reps 3
  for p in fp32 bf16; do run "$wms_bench" step --size $size --batch 4 --precision $p --warmup 1 --reps 3; done
done
# The preset's own shape: 256 px crops, batch 8, bf16 where the CPU has it; its real
# epoch (augmentation and crops on the loader thread) beside the step.
run $tuned $py "$peer/peer_unet.py" train --size 256 --batch 8 --formats nchw,cl --warmup 1 --reps 3
run "$wms_bench" step --size 256 --batch 8 --precision bf16 --warmup 1 --reps 3
run "$wms_bench" epoch --data "$data" --images 96 --config water-meters
run $tuned $py "$peer/peer_unet.py" infer --size 512 --formats nchw,cl --modes inference
for p in fp32 bf16; do run "$wms_bench" infer --size 512 --batch 1 --precision $p; done
# The limit the forward pass is measured against: a compute-bound convolution.
for p in fp32 bf16; do run "$wms_bench" limit --precision $p --warmup 2 --reps 5; done
run $tuned $py "$here/peer_predict.py" "$peer" "$data/images" --n 20 --batch 8 --formats nchw,cl
for p in fp32 bf16; do run "$wms_bench" latency --images "$data/images" --n 20 --batch 8 --precision $p; done
run $tuned $py "$peer/peer_epoch.py" "$data" --images 48 --size 512
for p in fp32 bf16; do run "$wms_bench" epoch --data "$data" --images 48 --size 512 --precision $p; done
# The allocator: glibc defaults (what a naive LibTorch program gets) vs wms's tuning.
run env WMS_MALLOC=default "$wms_bench" step --size 512 --batch 4 --precision fp32 --warmup 1 --reps 2

echo
$py "$peer/peer_unet.py" table "$log" | tee "$out/model.txt"
grep PEAKMEM "$log" | tee -a "$out/model.txt"
