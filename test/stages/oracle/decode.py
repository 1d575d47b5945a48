"""HF tokenizers' decode as the reference. stdin: JSON [{tokenizer_file, ids, skip_special_tokens}];
stdout: JSON list of the decoded strings (Tokenizer.from_file(...).decode, the tokenizer.json's own
decoder; no transformers clean-up)."""
import json
import sys

from tokenizers import Tokenizer

cache = {}
out = []
for case in json.load(sys.stdin):
    path = case["tokenizer_file"]
    if path not in cache:
        cache[path] = Tokenizer.from_file(path)
    out.append(cache[path].decode(case["ids"], skip_special_tokens=case["skip_special_tokens"]))
json.dump(out, sys.stdout)
