"""Reference assistant masks from transformers.

Reads JSON cases on stdin: [{template, tokenizer_file, messages, tools, kwargs}], where template is
one of the names below. Each stock template is copied here with {% generation %} markers around
what the assistant generates (its content, tool calls and end-of-turn token; not the header the
generation prompt already holds), and rendered + tokenized by transformers'
apply_chat_template(..., return_assistant_tokens_mask=True) with a tokenizers-backed tokenizer
(PreTrainedTokenizerFast(tokenizer_file=...), never AutoTokenizer: see fixtures/SOURCES.md).
Writes [{input_ids, assistant_masks}] to stdout. With the argument `templates` it writes the
marked templates instead (the tests also render them with our {% generation %} support).

Each template comes in two variants (a case's `variant`): `marker`, whose blocks end at the end-of-turn
token, and `trl`, whose blocks also hold what follows it up to the next turn and, after the last
message, the rest of the text, as TRL's own training templates do (trl/chat_templates:
qwen3_training.jinja ends its block after '<|im_end|>\n', phi3_training.jinja after '<|end|>\n' and
wraps the final EOS).
"""
import re
import json
import os
import sys
from pathlib import Path

from transformers import PreTrainedTokenizerFast

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = Path(os.environ.get("SFT_FIXTURES", ROOT.parent / "shared" / "fixtures")) / "tokenizers"


def config_template(path):
    return json.loads(Path(path).read_text())["chat_template"]


def replace_once(template, old, new):
    assert template.count(old) == 1, f"expected one occurrence of {old!r}"
    return template.replace(old, new)


CHATML = """{%- for message in messages %}
{%- if message['role'] == 'assistant' %}
{{- '<|im_start|>assistant\\n' }}{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}
{%- else %}
{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}
{%- endif %}
{%- endfor %}"""

LLAMA3 = """{{- bos_token }}
{%- for message in messages %}
{%- if message['role'] == 'assistant' %}
{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% generation %}{{- message['content'] | trim + '<|eot_id|>' }}{% endgeneration %}
{%- else %}
{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}
{%- endif %}
{%- endfor %}"""


def phi3():
    t = config_template(FIXTURES / "phi-3-mini" / "tokenizer_config.json")
    return replace_once(
        t,
        "{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}",
        "{{'<|assistant|>\\n'}}{% generation %}{{message['content'] + '<|end|>'}}{% endgeneration %}{{'\\n'}}",
    )


def llama31():
    path = ROOT / "node_modules" / "@lenml" / "tokenizer-llama3_1" / "models" / "tokenizer_config.json"
    t = config_template(path)
    return replace_once(
        t,
        "{{ content }}",
        "{% if message['role'] == 'assistant' %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
        "{% generation %}{{ message['content'] | trim + '<|eot_id|>' }}{% endgeneration %}{% else %}{{ content }}{% endif %}",
    )


QWEN25_TOOL_CALLS = """{%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role + '\\n' }}{% generation %}
        {%- if message.content %}
            {{- message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {%- if message.content or not loop.first %}
                {{- '\\n' }}
            {%- endif %}
            {{- '<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}
    {%- elif message.role == "tool" %}"""


def qwen25():
    t = config_template(FIXTURES / "qwen2.5" / "tokenizer_config.json")
    start = t.index('    {%- elif message.role == "assistant" %}')
    end = t.index('    {%- elif message.role == "tool" %}')
    t = t[:start] + "    " + QWEN25_TOOL_CALLS + t[end + len('    {%- elif message.role == "tool" %}'):]
    return replace_once(
        t,
        """{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}""",
        """{%- if message.role == "assistant" %}{{- '<|im_start|>assistant\\n' }}{% generation %}{{- message.content + '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}{%- else %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endif %}""",
    )


# Qwen3's assistant branch rebuilt so one {% generation %} block covers what the model writes
# after the generation prompt. With enable_thinking=false the prompt already holds the empty
# <think></think> block, so for the last turn that block is prompt, not generation.
QWEN3_ASSISTANT = """{%- elif message.role == "assistant" %}
        {%- set content = message.content %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is defined and message.reasoning_content is not none %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in message.content %}
                {%- set content = message.content.split('</think>')[-1].lstrip('\\n') %}
                {%- set reasoning_content = message.content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
            {%- endif %}
        {%- endif %}
        {%- set g = namespace(head='<|im_start|>' + message.role + '\\n', body='') %}
        {%- if loop.index0 > ns.last_query_index and (loop.last or reasoning_content) %}
            {%- set think = '<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' %}
            {%- if loop.last and enable_thinking is defined and enable_thinking is false and not reasoning_content %}
                {%- set g.head = g.head + think %}
                {%- set g.body = content.lstrip('\\n') %}
            {%- else %}
                {%- set g.body = think + content.lstrip('\\n') %}
            {%- endif %}
        {%- else %}
            {%- set g.body = content %}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {%- set g.body = g.body + '\\n' %}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {%- if tool_call.arguments is string %}
                    {%- set arguments = tool_call.arguments %}
                {%- else %}
                    {%- set arguments = tool_call.arguments | tojson %}
                {%- endif %}
                {%- set g.body = g.body + '<tool_call>\\n{"name": "' + tool_call.name + '", "arguments": ' + arguments + '}\\n</tool_call>' %}
            {%- endfor %}
        {%- endif %}
        {{- g.head }}{% generation %}{{- g.body + '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}
    {%- elif message.role == "tool" %}"""


def qwen3():
    t = config_template(FIXTURES / "qwen3" / "tokenizer_config.json")
    start = t.index('    {%- elif message.role == "assistant" %}')
    end = t.index('    {%- elif message.role == "tool" %}')
    return t[:start] + "    " + QWEN3_ASSISTANT + t[end + len('    {%- elif message.role == "tool" %}'):]


TEMPLATES = {"chatml": lambda: CHATML, "llama3": lambda: LLAMA3, "phi-3-mini": phi3, "llama3.1": llama31,
             "qwen2.5": qwen25, "qwen3": qwen3}


def phi3_trl():
    """Phi-3 with its final EOS inside the last assistant block (one block per turn, rendering as stock)."""
    t = replace_once(
        phi3(),
        "{% endgeneration %}{{'\\n'}}",
        "{{'\\n'}}{% if loop.last and not add_generation_prompt %}{{ eos_token }}{% endif %}{% endgeneration %}",
    )
    return replace_once(t, "{% else %}{{ eos_token }}{% endif %}", "{% elif messages[-1]['role'] != 'assistant' %}{{ eos_token }}{% endif %}")


def trl_variant(name):
    if name == "phi-3-mini":
        return phi3_trl()
    # The '\n' a template writes right after a block moves into it.
    return re.sub(r"\{% endgeneration %\}(\{\{-? ?'\\n' ?\}\})", r"\1{% endgeneration %}", TEMPLATES[name]())


VARIANTS = {"marker": lambda name: TEMPLATES[name](), "trl": trl_variant}


def main():
    if sys.argv[1:] == ["templates"]:
        json.dump({variant: {name: make(name) for name in TEMPLATES} for variant, make in VARIANTS.items()}, sys.stdout)
        return
    cases = json.load(sys.stdin)
    tokenizers = {}
    out = []
    for case in cases:
        path = case["tokenizer_file"]
        if path not in tokenizers:
            tokenizers[path] = PreTrainedTokenizerFast(tokenizer_file=path)
        tok = tokenizers[path]
        kwargs = dict(case.get("kwargs") or {})
        specials = kwargs.pop("special_tokens", {})
        result = tok.apply_chat_template(
            case["messages"],
            tools=case.get("tools"),
            chat_template=VARIANTS[case["variant"]](case["template"]),
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=True,
            **specials,
            **kwargs,
        )
        out.append({"input_ids": list(result["input_ids"]), "assistant_masks": list(result["assistant_masks"])})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
