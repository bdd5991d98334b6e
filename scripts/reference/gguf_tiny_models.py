"""Writes tiny GGUF files the way llama.cpp's convert_hf_to_gguf.py does, from random tiny
transformers models of each architecture we import, plus the original models' logits:
test/fixtures/gguf/tiny/<case>.gguf and <case>.json.

The real files cover llama and gemma3; these cover what they do not: qwen2 (q/k/v biases, tied),
qwen3 (q/k norms, head_dim != hidden/heads, untied), gemma2 (softcaps, alternating windows),
gemma3 with linear rope scaling, and llama with Llama 3.1 rope scaling (only a rope_freqs
tensor in GGUF) and an untied output. Matrices are stored F16, vectors F32. The forward conversion is written here independently of
our importer: names from gguf-py's tensor name map, llama.cpp's Q/K permute for llama, +1 on
Gemma norm weights, llama.cpp's metadata keys and rope_freqs formula. The reference logits are
the ORIGINAL model's (what an import must reproduce); `transformers_gguf_max_diff` records how far
transformers' own GGUF loading lands from them (it ignores rope_freqs, for one).

Run from the repository root:  python3 scripts/reference/gguf_tiny_models.py
"""
import json
import math
from pathlib import Path

import numpy as np
import torch
from gguf import MODEL_ARCH_NAMES, GGUFWriter, get_tensor_name_map
from transformers import (AutoModelForCausalLM, Gemma2Config, Gemma3TextConfig, LlamaConfig, Qwen2Config,
                          Qwen3Config)

OUT = Path("test/fixtures/gguf/tiny")
IDS = [1, 5, 9, 3, 17, 22, 40, 2, 7, 11, 60, 33]
VOCAB = 64

COMMON = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=2,
              pad_token_id=0)

CASES = {
    "llama3-untied": ("llama", LlamaConfig(**COMMON, head_dim=8, tie_word_embeddings=False, rope_theta=500000.0,
                                           rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                         "high_freq_factor": 4.0,
                                                         "original_max_position_embeddings": 8192})),
    "qwen2-tied": ("qwen2", Qwen2Config(**COMMON, tie_word_embeddings=True, rope_theta=1000000.0)),
    "qwen3-untied": ("qwen3", Qwen3Config(**COMMON, head_dim=16, tie_word_embeddings=False, rope_theta=1000000.0)),
    "gemma2": ("gemma2", Gemma2Config(**{**COMMON, "num_hidden_layers": 4}, head_dim=8, query_pre_attn_scalar=8,
                                      sliding_window=4, attn_logit_softcapping=50.0, final_logit_softcapping=30.0)),
    "gemma3-linear-rope": ("gemma3", Gemma3TextConfig(**{**COMMON, "num_hidden_layers": 6}, head_dim=8,
                                                      query_pre_attn_scalar=8, sliding_window=4,
                                                      rope_theta=1000000.0, rope_local_base_freq=10000.0,
                                                      rope_scaling={"rope_type": "linear", "factor": 8.0})),
}


def permute(w: np.ndarray, n_head: int, n_head_kv: int | None) -> np.ndarray:
    """llama.cpp LlamaModel.permute: HF rows (head, pair, i) -> (head, i, pair)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def llama3_rope_freqs(cfg) -> np.ndarray:
    """llama.cpp LlamaModel.generate_extra_tensors for rope_type llama3."""
    rs = cfg.rope_parameters if hasattr(cfg, "rope_parameters") and cfg.rope_parameters else cfg.rope_scaling
    base = rs.get("rope_theta", 10000.0)
    dim = cfg.head_dim
    factor, low, high, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    low_wavelen, high_wavelen = old / low, old / high
    factors = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            factors.append(1)
        elif wavelen > low_wavelen:
            factors.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(factors, dtype=np.float32)


def write_gguf(path: Path, arch: str, cfg, state: dict) -> None:
    w = GGUFWriter(str(path), arch=arch)
    w.add_name(f"tiny {arch}")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    rope = getattr(cfg, "rope_parameters", None) or {}
    full = rope.get("full_attention", rope)
    w.add_rope_freq_base(full.get("rope_theta", getattr(cfg, "rope_theta", 10000.0)))
    w.add_vocab_size(cfg.vocab_size)
    if arch == "llama":
        w.add_rope_dimension_count(cfg.head_dim)
    if arch in ("qwen3", "gemma2", "gemma3"):
        w.add_key_length(cfg.head_dim)
        w.add_value_length(cfg.head_dim)
    if arch in ("gemma2", "gemma3"):
        w.add_sliding_window(cfg.sliding_window)
    if arch == "gemma2":
        w.add_attn_logit_softcapping(cfg.attn_logit_softcapping)
        w.add_final_logit_softcapping(cfg.final_logit_softcapping)
    if full.get("rope_type") == "linear":
        w.add_rope_scaling_type(__import__("gguf").RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(full["factor"])
    w.add_bos_token_id(cfg.bos_token_id)
    w.add_eos_token_id(cfg.eos_token_id)
    w.add_pad_token_id(cfg.pad_token_id)

    arch_key = next(k for k, v in MODEL_ARCH_NAMES.items() if v == arch)
    names = get_tensor_name_map(arch_key, cfg.num_hidden_layers)
    for hf_name, t in state.items():
        if hf_name == "lm_head.weight" and cfg.tie_word_embeddings:
            continue
        base, suffix = hf_name.rsplit(".", 1)
        gguf_name = names.get_name(base)
        assert gguf_name is not None, hf_name
        x = t.detach().float().numpy().copy()
        if arch == "llama" and base.endswith("q_proj"):
            x = permute(x, cfg.num_attention_heads, cfg.num_attention_heads)
        if arch == "llama" and base.endswith("k_proj"):
            x = permute(x, cfg.num_attention_heads, cfg.num_key_value_heads)
        if arch.startswith("gemma") and hf_name.endswith("norm.weight"):
            x = x + 1  # llama.cpp Gemma converters: ggml's RMS norm multiplies by w, Gemma's by (1 + w)
        # Matrices as F16 (like llama.cpp's f16 output; the model's weights were rounded to fp16 first), vectors F32.
        w.add_tensor(f"{gguf_name}.{suffix}", x.astype(np.float16) if x.ndim == 2 else x)
    if arch == "llama" and full.get("rope_type") == "llama3":
        w.add_tensor("rope_freqs.weight", llama3_rope_freqs(cfg))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for case, (arch, cfg) in CASES.items():
        torch.manual_seed(len(case))
        model = AutoModelForCausalLM.from_config(cfg).eval()
        with torch.no_grad():
            for name, p in model.named_parameters():
                # Visible norms and biases: random around their init so mistakes in them show.
                p.copy_(torch.randn_like(p) * (0.3 if "norm" in name else 0.2))
                if p.dim() == 2:
                    p.copy_(p.half().float())  # stored F16 in the file: the reference uses the same values
        state = model.state_dict()
        path = OUT / f"{case}.gguf"
        write_gguf(path, arch, cfg, state)
        with torch.no_grad():
            logits = model(torch.tensor([IDS])).logits[0]
            try:
                gguf_model = AutoModelForCausalLM.from_pretrained(str(OUT), gguf_file=path.name, dtype=torch.float32).eval()
                gguf_diff = float((gguf_model(torch.tensor([IDS])).logits[0] - logits).abs().max())
            except Exception as e:  # transformers' GGUF loader has gaps of its own (qwen3's head_dim)
                gguf_diff = f"transformers cannot load it: {str(e).splitlines()[0][:200]}"
        record = {
            "case": case,
            "arch": arch,
            "ids": IDS,
            "logits": logits.reshape(-1).tolist(),
            "shape": list(logits.shape),
            "scale": float(logits.abs().max()),
            "transformers_gguf_max_diff": gguf_diff,
            "config": json.loads(cfg.to_json_string()),
        }
        (OUT / f"{case}.json").write_text(json.dumps(record) + "\n")
        print(f"{case}: transformers' GGUF loading vs the original: {gguf_diff} (logit scale {record['scale']:.3g})")


if __name__ == "__main__":
    main()
