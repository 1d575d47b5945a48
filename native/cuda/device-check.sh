#!/usr/bin/env bash
# Issue 11's checks that need a GPU, in one go (well under 8 minutes on one H100 or H200):
#   1. every Triton kernel against PyTorch in bf16 (test/native/triton/*_check.py, JIT-compiled);
#   2. the launcher with the committed cubins (test/native/cuda/launcher_check.cc: all 46 load; an
#      fp32 scalar, a >48 KB shared-memory gemm and the ordered sum of squares run right);
#   3. bench/train-gpu (ours against transformers + PyTorch, bf16, sdpa, same rows) when Node and the
#      addon came along (native/cuda/pack-device.sh), else bench/train_gpu_ref.py alone.
# Writes $OUT/device-check.log and $OUT/device-check.json (one verdict per part, the bench figures).
#
#   OUT=/tmp/out native/cuda/device-check.sh
# The device machine of this workplace has python3 with CUDA PyTorch and Triton, nvcc and g++, but no
# Node: native/cuda/pack-device.sh puts a compressed Node and the bundled bench under .device/.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/sft-device-check}
mkdir -p "$OUT"
exec > >(tee "$OUT/device-check.log") 2>&1
PY=${SFT_GPU_PYTHON:-python3}
export PYTHONUNBUFFERED=1
ADDON=$PWD/native/build/Release/sft_native.node
NODE=$(command -v node || true)
if [ -z "$NODE" ] && [ -f .device/node.xz ]; then
  mkdir -p /tmp/sft-node && xz -dc .device/node.xz > /tmp/sft-node/node && chmod +x /tmp/sft-node/node && NODE=/tmp/sft-node/node
fi
declare -A verdict
part() {
  local name=$1 start=$SECONDS
  shift
  echo "=== $name"
  if "$@"; then verdict[$name]=pass; else verdict[$name]=fail; fi
  echo "=== $name: ${verdict[$name]} ($((SECONDS - start)) s)"
}

triton_checks() {
  local failed=0 f
  for f in test/native/triton/*_check.py; do
    echo "--- $f"
    PYTHONPATH=native/triton SFT_TRITON_DEVICE=cuda "$PY" "$f" || failed=1
  done
  return $failed
}

launcher_check() {
  g++ -std=c++17 -O2 -I native test/native/cuda/launcher_check.cc native/cuda/launcher.cc native/cuda/driver.cc \
    -ldl -o /tmp/launcher_check || return 1
  "$PY" -c '
import json
for k in json.load(open("native/kernels/manifest.json"))["kernels"]:
    print(k["name"], k["kernel"], k["num_warps"], k["shared"], k["global_scratch_size"], k["profile_scratch_size"],
          ",".join(p["type"] for p in k["params"]), ",".join(p["name"] for p in k["params"]))
' | /tmp/launcher_check native/kernels
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
"$PY" -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__)'
part triton triton_checks
part launcher launcher_check
if [ -n "$NODE" ] && [ -f .device/train-gpu.mjs ] && [ -f "$ADDON" ]; then
  part bench env SFT_NATIVE_ADDON="$ADDON" SFT_GPU_PYTHON="$PY" "$NODE" .device/train-gpu.mjs --json "$OUT/bench.json"
else
  echo "no Node, bundled bench or addon (native/cuda/pack-device.sh): the reference runs alone"
  part reference bash -c "'$PY' bench/train_gpu_ref.py bench/train-gpu.json > '$OUT/reference.json'"
fi

"$PY" - "$OUT" "${!verdict[@]}" -- "${verdict[@]}" <<'PY'
import json, os, sys
out, rest = sys.argv[1], sys.argv[2:]
cut = rest.index("--")
summary = {"parts": dict(zip(rest[:cut], rest[cut + 1:]))}
for name in ("bench", "reference"):
    path = os.path.join(out, f"{name}.json")
    if os.path.exists(path) and os.path.getsize(path) > 0:
        summary[name] = json.load(open(path))
json.dump(summary, open(os.path.join(out, "device-check.json"), "w"), indent=1)
print(json.dumps(summary))
PY
for v in "${verdict[@]}"; do [ "$v" = pass ] || exit 1; done
