#!/usr/bin/env python3
"""Reference for src/config: what HF transformers resolves from each config.json fixture.

Reads test/fixtures/configs/hub/*.json (config.json files as they appear on the Hub), writes
  - test/fixtures/configs/v5/*.json: the same configs re-saved by transformers >= 5
    (rope_parameters / layer_types / dtype spelling), for a few models;
  - test/fixtures/configs/expected.json: per fixture file, what transformers resolved, read
    from the config object AND from the model it builds (on the meta device, so no weights):
    sizes, per-layer attention type / sliding window / scaling, softcaps, norms, biases,
    the activation class, embedding scale, tying, the weight names and shapes, and for every
    layer type the rope parameters plus the inv_freq tensor and attention_scaling that
    transformers' rotary embedding computes (longrope: short and long sets).

Not for: checking our TypeScript (test/unit/config.test.ts does that against this output).

Run from the repository root:  python3 scripts/reference/make_config_fixtures.py
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForCausalLM, CONFIG_MAPPING
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "test" / "fixtures" / "configs"
HUB = FIXTURES / "hub"
V5 = FIXTURES / "v5"

# Configs re-saved in the transformers-5 spelling (the test checks both spellings agree).
RESAVE_V5 = [
    "llama-3.2-1b-instruct",
    "gemma-3-1b-it",
    "gemma-3-4b-it",
    "phi-4-mini-instruct",
    "qwen3-1.7b",
    "gemma-2-9b-it",
    "mistral-7b-instruct-v0.3",
    "synthetic-gemma3-layer-types",
]


def config_from_dict(raw: dict) -> transformers.PretrainedConfig:
    raw = dict(raw)
    model_type = raw.pop("model_type")
    return CONFIG_MAPPING[model_type].from_dict(raw)


def build_meta_model(config):
    with torch.device("meta"):
        if config.model_type == "gemma3":
            return transformers.Gemma3ForConditionalGeneration(config)
        return AutoModelForCausalLM.from_config(config)


def text_model_of(model):
    inner = model.model
    return getattr(inner, "language_model", inner)


def norm_offset(norm_module) -> float:
    """0 when RMSNorm multiplies by w, 1 when by (1 + w): run a fresh CPU copy with w = 0 on ones."""
    probe = type(norm_module)(4, eps=1e-6)
    with torch.no_grad():
        probe.weight.zero_()
        return float(probe(torch.ones(1, 4)).mean())


def float_list(tensor: torch.Tensor) -> list[float]:
    return [float(x) for x in tensor.detach().to(torch.float32).cpu().reshape(-1)]


def rope_reference(text_config, rotary_module, layer_types: list[str]) -> dict:
    """Per layer type: the standardized rope parameters, inv_freq and attention_scaling."""
    rotary = type(rotary_module)(text_config)  # a CPU instance: the meta one holds no values
    params = text_config.rope_parameters
    nested = all(t in params for t in set(layer_types)) and "rope_type" not in params
    out = {}
    for layer_type in sorted(set(layer_types)):
        layer_params = params[layer_type] if nested else params
        if nested:
            inv_freq = getattr(rotary, f"{layer_type}_inv_freq")
            scaling = getattr(rotary, f"{layer_type}_attention_scaling")
        else:
            inv_freq = rotary.inv_freq
            scaling = rotary.attention_scaling
        entry = {
            "rope_parameters": json.loads(json.dumps(layer_params)),
            "inv_freq": float_list(inv_freq),
            "attention_scaling": float(scaling),
        }
        if layer_params["rope_type"] == "longrope":
            original = layer_params["original_max_position_embeddings"]
            long_inv_freq, long_scaling = ROPE_INIT_FUNCTIONS["longrope"](
                text_config, None, seq_len=original + 1, **({"layer_type": layer_type} if nested else {})
            )
            entry["long_inv_freq"] = float_list(long_inv_freq)
            entry["long_attention_scaling"] = float(long_scaling)
        out[layer_type] = entry
    return out


def weight_reference(model, text_prefix_pattern: str) -> dict:
    """Weight names/shapes of the text model and lm_head; layer 0 stands for every layer."""
    globals_, layer0, layer_prefix = {}, {}, None
    for name, param in model.named_parameters():  # tied lm_head is dropped as a duplicate
        if not (re.match(text_prefix_pattern, name) or name.startswith("lm_head")):
            continue
        match = re.match(r"^(.*\.layers\.)(\d+)\.(.*)$", name)
        if match is None:
            globals_[name] = list(param.shape)
        elif match.group(2) == "0":
            layer_prefix = match.group(1)
            layer0[match.group(3)] = list(param.shape)
    return {"globals": globals_, "layer_prefix": layer_prefix, "layer0": layer0}


def reference(raw: dict) -> dict:
    config = config_from_dict(raw)
    text_config = config.get_text_config()
    model = build_meta_model(config)
    lm = text_model_of(model)
    layers = list(lm.layers)

    per_layer = []
    for index, layer in enumerate(layers):
        attn = layer.self_attn
        layer_types = getattr(text_config, "layer_types", None)
        layer_type = getattr(attn, "layer_type", None) or (layer_types[index] if layer_types else "full_attention")
        # Mistral / Phi-3 attention modules read config.sliding_window for every layer.
        window = getattr(attn, "sliding_window", getattr(text_config, "sliding_window", None))
        per_layer.append(
            {
                "layer_type": layer_type,
                "sliding_window": window,
                "scaling": float(attn.scaling),
                "attn_logit_softcapping": getattr(attn, "attn_logit_softcapping", None),
            }
        )

    first = layers[0]
    attn0 = first.self_attn
    mlp0 = first.mlp
    act = getattr(mlp0, "act_fn", None) or getattr(mlp0, "activation_fn")
    q_bias = getattr(attn0, "q_proj", None)
    is_gemma3_mm = config.model_type == "gemma3"
    text_prefix = r"^model\.language_model\." if is_gemma3_mm else r"^model\."

    eos = getattr(config, "eos_token_id", None)
    if eos is None:
        eos = getattr(text_config, "eos_token_id", None)

    return {
        "transformers_version": transformers.__version__,
        "model_type": config.model_type,
        "text_model_type": text_config.model_type,
        "vocab_size": text_config.vocab_size,
        "hidden_size": text_config.hidden_size,
        "intermediate_size": text_config.intermediate_size,
        "num_hidden_layers": text_config.num_hidden_layers,
        "num_attention_heads": text_config.num_attention_heads,
        "num_key_value_heads": text_config.num_key_value_heads,
        "head_dim": attn0.head_dim,
        "max_position_embeddings": text_config.max_position_embeddings,
        "rms_norm_eps": text_config.rms_norm_eps,
        "activation_class": type(act).__name__,
        "embed_scale": float(getattr(lm.embed_tokens, "scalar_embed_scale", 1.0)),
        "norm_offset": norm_offset(first.input_layernorm),
        "q_norm": hasattr(attn0, "q_norm"),
        "k_norm": hasattr(attn0, "k_norm"),
        "sandwich_norms": hasattr(first, "pre_feedforward_layernorm"),
        "fused_qkv": hasattr(attn0, "qkv_proj"),
        "fused_gate_up": hasattr(mlp0, "gate_up_proj"),
        "qkv_bias": (q_bias.bias is not None) if q_bias is not None else attn0.qkv_proj.bias is not None,
        "o_bias": attn0.o_proj.bias is not None,
        "mlp_bias": mlp0.down_proj.bias is not None,
        "query_pre_attn_scalar": getattr(text_config, "query_pre_attn_scalar", None),
        "final_logit_softcapping": getattr(text_config, "final_logit_softcapping", None),
        "tie_word_embeddings": bool(config.tie_word_embeddings),
        "eos_token_id": eos,
        "bos_token_id": getattr(config, "bos_token_id", None) or getattr(text_config, "bos_token_id", None),
        "layers": per_layer,
        "rope": rope_reference(text_config, lm.rotary_emb, [entry["layer_type"] for entry in per_layer]),
        "weights": weight_reference(model, text_prefix),
    }


def main() -> int:
    V5.mkdir(parents=True, exist_ok=True)
    expected: dict[str, dict] = {}
    for path in sorted(HUB.glob("*.json")):
        raw = json.loads(path.read_text())
        expected[f"hub/{path.name}"] = reference(raw)
        if path.stem in RESAVE_V5:
            resaved = json.loads(config_from_dict(raw).to_json_string(use_diff=False))
            v5_path = V5 / path.name
            v5_path.write_text(json.dumps(resaved, indent=2, sort_keys=True) + "\n")
            expected[f"v5/{path.name}"] = reference(resaved)
        print(f"{path.name}: ok", file=sys.stderr)
    out = FIXTURES / "expected.json"
    out.write_text(json.dumps(expected, indent=1, sort_keys=True, allow_nan=False) + "\n")
    print(f"wrote {out.relative_to(ROOT)} ({out.stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
