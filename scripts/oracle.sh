#!/usr/bin/env bash
# Creates the oracle: a Python env with the reference implementations the tests compare against
# (PyTorch, transformers, TRL, tokenizers, pyarrow, safetensors, tensorboard, triton).
# It lives outside the repo; tests find it through SFT_ORACLE (default ~/.cache/sft-oracle).
set -euo pipefail
ORACLE="${SFT_ORACLE:-$HOME/.cache/sft-oracle}"
if "$ORACLE/bin/python" -c "import torch, transformers, trl, tokenizers, pyarrow, safetensors, tensorboard, triton" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$ORACLE"
# PyPI is unreachable here; pip reads the local wheel mirror, so never let it retry the network.
"$ORACLE/bin/pip" install -q --retries 0 --timeout 3 \
  "torch==2.13.0+cpu" transformers trl tokenizers tensorboard pyarrow safetensors triton
