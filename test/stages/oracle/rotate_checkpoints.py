# Which checkpoints transformers' rotate_checkpoints keeps, as JSON on stdout.
# stdin: {"cases": [{"steps": [...], "limit": int | null, "best": int | null}]}; out: kept steps per case.
import json
import os
import sys
import tempfile

from transformers.trainer_utils import rotate_checkpoints

out = []
for case in json.load(sys.stdin)["cases"]:
    with tempfile.TemporaryDirectory() as root:
        for step in case["steps"]:
            os.mkdir(os.path.join(root, f"checkpoint-{step}"))
        best = None if case["best"] is None else os.path.join(root, f"checkpoint-{case['best']}")
        rotate_checkpoints(root, save_total_limit=case["limit"], best_model_checkpoint=best)
        out.append(sorted(int(name.split("-")[1]) for name in os.listdir(root)))
print(json.dumps(out))
