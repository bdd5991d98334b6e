"""Writes a random-weight checkpoint with a real model's shapes in the HF layout (config.json +
sharded model.safetensors), for memory and speed benchmarks where real weights cannot be
downloaded. Weights are N(0, 0.02) in bfloat16 (norms 1), made on the GPU when there is one.

usage: python3 scripts/bench/make_random_checkpoint.py --shape qwen3-4b --out DIR [--tokenizer-dir TOK] [--max-positions N]
--tokenizer-dir copies a tokenizer (tokenizer.json, tokenizer_config.json) in, so the folder loads
like a Hub checkpoint in transformers, unsloth and node-qlora (scripts/bench/compare.sh).
"""
import argparse
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

SHAPES = {
    # Qwen/Qwen3-4B config.json
    "qwen3-4b": dict(model_type="qwen3", architectures=["Qwen3ForCausalLM"], vocab_size=151936, hidden_size=2560,
                     intermediate_size=9728, num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8,
                     head_dim=128, max_position_embeddings=40960, rms_norm_eps=1e-6, rope_theta=1000000.0,
                     tie_word_embeddings=True, attention_bias=False, hidden_act="silu", torch_dtype="bfloat16",
                     bos_token_id=151643, eos_token_id=151645),
    # deepseek-ai/DeepSeek-R1-Distill-Qwen-7B config.json (Qwen2 architecture, 7.6B parameters)
    "qwen2-7b": dict(model_type="qwen2", architectures=["Qwen2ForCausalLM"], vocab_size=152064, hidden_size=3584,
                     intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4,
                     max_position_embeddings=131072, rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False,
                     hidden_act="silu", torch_dtype="bfloat16", bos_token_id=151646, eos_token_id=151643,
                     use_sliding_window=False),
    # meta-llama/Llama-3.2-1B-Instruct config.json (llama3 RoPE scaling, tied embeddings)
    "llama-3.2-1b": dict(model_type="llama", architectures=["LlamaForCausalLM"], vocab_size=128256, hidden_size=2048,
                         intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
                         head_dim=64, max_position_embeddings=131072, rms_norm_eps=1e-5, rope_theta=500000.0,
                         rope_scaling=dict(rope_type="llama3", factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                           original_max_position_embeddings=8192),
                         tie_word_embeddings=True, attention_bias=False, mlp_bias=False, hidden_act="silu",
                         torch_dtype="bfloat16", bos_token_id=128000, eos_token_id=[128001, 128008, 128009]),
    # google/gemma-2-9b-it config.json (the seed's classifier, unsloth/gemma-2-9b-it-bnb-4bit): soft-capping,
    # sliding window 4096 on alternate layers, sandwich norms, tied embeddings
    "gemma-2-9b": dict(model_type="gemma2", architectures=["Gemma2ForCausalLM"], vocab_size=256000, hidden_size=3584,
                       intermediate_size=14336, num_hidden_layers=42, num_attention_heads=16, num_key_value_heads=8,
                       head_dim=256, max_position_embeddings=8192, rms_norm_eps=1e-6, rope_theta=10000.0,
                       attn_logit_softcapping=50.0, final_logit_softcapping=30.0, query_pre_attn_scalar=256,
                       sliding_window=4096, tie_word_embeddings=True, attention_bias=False,
                       hidden_activation="gelu_pytorch_tanh", hidden_act="gelu_pytorch_tanh", torch_dtype="bfloat16",
                       pad_token_id=0, eos_token_id=1, bos_token_id=2),
    # Qwen3 layout and vocabulary, tiny width and depth: the benchmark harness's CPU test shape
    # (the real Qwen3 tokenizer's ids fit its vocabulary).
    "qwen3-tiny": dict(model_type="qwen3", architectures=["Qwen3ForCausalLM"], vocab_size=151936, hidden_size=64,
                       intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                       head_dim=16, max_position_embeddings=40960, rms_norm_eps=1e-6, rope_theta=1000000.0,
                       tie_word_embeddings=True, attention_bias=False, hidden_act="silu", torch_dtype="bfloat16",
                       bos_token_id=151643, eos_token_id=151645),
}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", choices=sorted(SHAPES), default="qwen3-4b")
    parser.add_argument("--out", required=True)
    parser.add_argument("--shard-gib", type=float, default=2.0)
    parser.add_argument("--tokenizer-dir", help="copy tokenizer.json and tokenizer_config.json from here")
    parser.add_argument("--max-positions", type=int,
                        help="config.json's max_position_embeddings (the scaling benchmark's long contexts)")
    args = parser.parse_args()
    c = dict(SHAPES[args.shape])
    if args.max_positions:
        c["max_position_embeddings"] = args.max_positions
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    gen = torch.Generator(device=device).manual_seed(0)

    def randn(*shape):
        return (torch.randn(*shape, generator=gen, device=device, dtype=torch.float32) * 0.02).to(torch.bfloat16).cpu()

    nh, nkv = c["num_attention_heads"], c["num_key_value_heads"]
    H, I, D = c["hidden_size"], c["intermediate_size"], c.get("head_dim", c["hidden_size"] // nh)
    qwen2 = c["model_type"] == "qwen2"  # q/k/v biases, no q/k norms
    gemma2 = c["model_type"] == "gemma2"  # no biases or q/k norms; sandwich norms stored as (weight - 1)
    llama = c["model_type"] == "llama" or gemma2  # neither biases nor q/k norms
    names = [("model.embed_tokens.weight", (c["vocab_size"], H)), ("model.norm.weight", (H,))]
    if not c["tie_word_embeddings"]:
        names.append(("lm_head.weight", (c["vocab_size"], H)))
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        names += [(p + "self_attn.q_proj.weight", (nh * D, H)), (p + "self_attn.k_proj.weight", (nkv * D, H)),
                  (p + "self_attn.v_proj.weight", (nkv * D, H)), (p + "self_attn.o_proj.weight", (H, nh * D))]
        if qwen2:
            names += [(p + "self_attn.q_proj.bias", (nh * D, 1)), (p + "self_attn.k_proj.bias", (nkv * D, 1)),
                      (p + "self_attn.v_proj.bias", (nkv * D, 1))]
        elif not llama:
            names += [(p + "self_attn.q_norm.weight", (D,)), (p + "self_attn.k_norm.weight", (D,))]
        names += [(p + "mlp.gate_proj.weight", (I, H)), (p + "mlp.up_proj.weight", (I, H)),
                  (p + "mlp.down_proj.weight", (H, I)), (p + "input_layernorm.weight", (H,)),
                  (p + "post_attention_layernorm.weight", (H,))]
        if gemma2:
            names += [(p + "pre_feedforward_layernorm.weight", (H,)), (p + "post_feedforward_layernorm.weight", (H,))]
    limit = int(args.shard_gib * 2**30)
    shards, current, size = [], {}, 0
    for name, shape in names:
        if name.endswith(".bias"):
            t = randn(*shape).reshape(-1)  # biases: small random values (stored 1-D)
        else:
            # Norm weights 1 (gemma stores them as weight - 1: zeros there).
            t = (torch.zeros if gemma2 else torch.ones)(shape, dtype=torch.bfloat16) if len(shape) == 1 else randn(*shape)
        if size + t.numel() * 2 > limit and current:
            shards.append(current)
            current, size = {}, 0
        current[name] = t
        size += t.numel() * 2
    shards.append(current)
    weight_map = {}
    total = 0
    for k, shard in enumerate(shards):
        fname = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, out / fname, metadata={"format": "pt"})
        for name, t in shard.items():
            weight_map[name] = fname
            total += t.numel() * 2
    (out / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))
    (out / "config.json").write_text(json.dumps(c, indent=1))
    if args.tokenizer_dir:
        for name in TOKENIZER_FILES:
            shutil.copyfile(Path(args.tokenizer_dir) / name, out / name)
    print(f"{args.shape}: {sum(t.numel() for s in shards for t in s.values()) / 1e9:.2f}B parameters, "
          f"{total / 2**30:.2f} GiB bf16 in {len(shards)} shards -> {out}")


if __name__ == "__main__":
    main()
