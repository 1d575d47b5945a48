"""TRL's packing as the reference: pack_dataset(strategy="bfd") then the padding-free collator.

stdin: JSON list of cases {"seq_length": int, "input_ids": [[...]], "labels": [[...]]} (labels -100
where not trained). stdout: JSON list, per case the packed rows, each
{"input_ids", "labels", "position_ids", "seq_lengths"} exactly as TRL's SFT trainer would train on them.
"""
import json
import sys

import datasets

from datasets import Dataset
from trl import pack_dataset
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

datasets.disable_progress_bars()
results = []
for case in json.load(sys.stdin):
    # the collator trains on a "labels" column when there is one (-100: not trained)
    dataset = Dataset.from_dict({"input_ids": case["input_ids"], "labels": case["labels"]})
    # one map batch, so TRL packs the whole set at once (its default batch is 1000 examples)
    packed = pack_dataset(dataset, case["seq_length"], strategy="bfd", map_kwargs={"batch_size": len(dataset)})
    collator = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True, return_position_ids=True)
    rows = []
    for example in packed:
        batch = collator([example])
        rows.append({
            "input_ids": batch["input_ids"][0].tolist(),
            "labels": batch["labels"][0].tolist(),
            "position_ids": batch["position_ids"][0].tolist(),
            "seq_lengths": list(example["seq_lengths"]),
        })
    results.append(rows)
print(json.dumps(results))
