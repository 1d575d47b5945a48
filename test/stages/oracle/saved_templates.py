"""Tokenizer directories as a user gets them from transformers' save_pretrained, and their renderings.

argv[1]: an empty directory. Writes there, from the fixtures' Qwen3 tokenizer loaded with AutoTokenizer:
  single/  the tokenizer saved as is (transformers 5 puts the template in chat_template.jinja)
  named/   the same with templates {"default": Qwen3's, "tool_use": Qwen2.5's} (chat_template.jinja and
           additional_chat_templates/tool_use.jinja)
stdin: JSON list of {messages, tools?}. stdout: JSON {"single": [...], "named": [...], "files": {...}}: each
conversation rendered by apply_chat_template (add_generation_prompt=False) of the tokenizer reloaded from
that directory, and the files each directory holds.
"""
import json
import os
import sys
from pathlib import Path

from transformers import AutoTokenizer

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = Path(os.environ.get("SFT_FIXTURES", ROOT.parent / "shared" / "fixtures")) / "tokenizers"

out = Path(sys.argv[1])
tokenizer = AutoTokenizer.from_pretrained(FIXTURES / "qwen3")
tokenizer.save_pretrained(out / "single")
tool_use = json.loads((FIXTURES / "qwen2.5" / "tokenizer_config.json").read_text())["chat_template"]
tokenizer.chat_template = {"default": tokenizer.chat_template, "tool_use": tool_use}
tokenizer.save_pretrained(out / "named")

conversations = json.load(sys.stdin)
result = {"files": {}}
for name in ("single", "named"):
    reloaded = AutoTokenizer.from_pretrained(out / name)
    result[name] = [
        reloaded.apply_chat_template(c["messages"], tools=c.get("tools"), tokenize=False) for c in conversations
    ]
    result["files"][name] = sorted(str(p.relative_to(out / name)) for p in (out / name).rglob("*") if p.is_file())
json.dump(result, sys.stdout)
