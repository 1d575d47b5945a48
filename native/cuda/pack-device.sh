#!/usr/bin/env bash
# Packs what native/cuda/device-check.sh needs on a device machine that has no Node: this Node,
# compressed, and bench/train-gpu.ts bundled with its imports into one file, under .device/
# (.gitignore). The addon travels as native/build/Release/sft_native.node (build it first: npm ci).
# Then carry both: run(carry=[".device", "native/build/Release/sft_native.node"], command=…).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .device
xz -T2 -3 -c "$(command -v node)" > .device/node.xz
npx esbuild bench/train-gpu.ts --bundle --platform=node --format=esm --outfile=.device/train-gpu.mjs --log-level=warning
test -f native/build/Release/sft_native.node
du -sh .device native/build/Release/sft_native.node
