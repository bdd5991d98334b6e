"""Tiny per-family model specs for make_fixtures.py.

Each case switches on every numerical feature of its family at sizes small enough for
committed fixtures. Token ids 0/1/2 are pad/bos/eos everywhere; prompts avoid them.
"""

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

VOCAB = 320
HIDDEN = 64
INTERMEDIATE = 128
HEADS = 4
KV_HEADS = 2
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
# Prompt lengths: 5 stays below every sliding window (6) and below phi3's original context (12)
# even after 8 new tokens; 9 crosses phi3's 12 during generation; 14 and 20 start beyond it.
SEQUENCE_LENGTHS = [5, 9, 14, 20]

COMMON = dict(
    vocab_size=VOCAB,
    hidden_size=HIDDEN,
    intermediate_size=INTERMEDIATE,
    num_attention_heads=HEADS,
    num_key_value_heads=KV_HEADS,
    pad_token_id=PAD_ID,
    bos_token_id=BOS_ID,
    eos_token_id=EOS_ID,
    max_position_embeddings=64,
)


@dataclass
class Case:
    name: str
    model_class: str  # transformers class name
    config_class: str
    config: dict[str, Any]
    save_dtype: torch.dtype
    features: list[str]
    # Norm weights are multiplied as (1 + w) in the gemma families: neutral value 0 instead of 1.
    norm_neutral: float = 1.0
    qk_gain: float = 2.0
    logit_gain: float = 3.0
    # Tied gemma models: sqrt(hidden) * embedding std is both the size of a token's own embedding in the
    # residual stream and (times the final norm) the logit spread. With the default, a token's own embedding
    # dominates every layer's contribution and greedy just repeats the last token; a smaller embedding
    # with a larger final norm gain keeps the logit spread and lets the layers matter.
    embed_std: float | None = None
    final_norm_gain: float = 1.0
    max_shard_size: str | None = None
    # transformers 5 save_pretrained defaults to save_original_format=True, which reverts its load-time
    # renames (for Gemma3ForConditionalGeneration: back to language_model.model.*).
    save_original_format: bool = True
    # Which sequences go into the greedy_batch cases (default: all).
    batch_prompt_indices: list[int] | None = None
    # Called with the saved directory and the original config; may rewrite config.json.
    post_save: Callable | None = None
    # Token ids prompts must not contain (besides pad/bos/eos).
    reserved_ids: list[int] = field(default_factory=list)
    seed: int = 0


def _gemma3_text_config(**over):
    cfg = dict(
        COMMON,
        num_hidden_layers=4,
        head_dim=24,  # != hidden/heads (16)
        hidden_activation="gelu_pytorch_tanh",
        query_pre_attn_scalar=32,  # != head_dim
        sliding_window=6,
        # Hub spelling: sliding_window_pattern 3 -> layers S, S, F, S (a sliding layer after the full one)
        layer_types=["sliding_attention", "sliding_attention", "full_attention", "sliding_attention"],
        rope_parameters={
            "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1_000_000.0},
            "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
        },
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        attn_logit_softcapping=None,
        final_logit_softcapping=None,
    )
    cfg.update(over)
    return cfg


GEMMA3_SPECIAL = dict(boi_token_index=VOCAB - 3, eoi_token_index=VOCAB - 2, image_token_index=VOCAB - 1)


def cases() -> list[Case]:
    from fixtures_posthoc import gemma3_text_to_hub_spelling

    return [
        Case(
            name="llama",
            model_class="LlamaForCausalLM",
            config_class="LlamaConfig",
            config=dict(
                COMMON,
                num_hidden_layers=2,
                attention_bias=True,
                mlp_bias=True,
                tie_word_embeddings=False,
                rms_norm_eps=1e-5,
                # original_max 32 with theta 1e4 and head_dim 16 puts the 8 frequencies in all three llama3
                # bands: wavelength 6.3 < 8 (kept), 19.9 in [8, 32] (smoothed), >= 62.8 > 32 (divided by 8).
                rope_parameters={
                    "rope_type": "llama3",
                    "rope_theta": 10_000.0,
                    "factor": 8.0,
                    "low_freq_factor": 1.0,
                    "high_freq_factor": 4.0,
                    "original_max_position_embeddings": 32,
                },
            ),
            save_dtype=torch.float32,
            features=[
                "GQA 4 q heads / 2 kv heads",
                "rope llama3 (factor 8, low 1, high 4, original_max 32, theta 1e4: all three frequency bands used)",
                "untied lm_head",
                "attention_bias (q/k/v/o biases)",
                "mlp_bias (gate/up/down biases)",
                "saved float32",
            ],
        ),
        Case(
            name="llama_tied",
            model_class="LlamaForCausalLM",
            config_class="LlamaConfig",
            config=dict(
                COMMON,
                num_hidden_layers=2,
                head_dim=24,  # != hidden/heads (16)
                tie_word_embeddings=True,
                rms_norm_eps=1e-5,
                rope_parameters={"rope_type": "default", "rope_theta": 10_000.0},
            ),
            save_dtype=torch.float16,
            features=[
                "tie_word_embeddings (no lm_head.weight in the checkpoint)",
                "plain rope (theta 1e4)",
                "head_dim 24 given explicitly != hidden/heads 16 (q_proj out 96, o_proj in 96)",
                "GQA 4/2",
                "saved float16",
            ],
        ),
        Case(
            name="mistral",
            model_class="MistralForCausalLM",
            config_class="MistralConfig",
            config=dict(
                COMMON,
                num_hidden_layers=2,
                sliding_window=6,
                tie_word_embeddings=False,
                rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0},
            ),
            save_dtype=torch.bfloat16,
            features=[
                "sliding_window 6 on every layer (query i sees keys i-5..i)",
                "GQA 4/2",
                "rope theta 1e6",
                "untied",
                "saved bfloat16",
            ],
        ),
        Case(
            name="mistral_nowindow",
            model_class="MistralForCausalLM",
            config_class="MistralConfig",
            config=dict(
                COMMON,
                num_hidden_layers=2,
                sliding_window=None,
                tie_word_embeddings=False,
                rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0},
            ),
            save_dtype=torch.bfloat16,
            features=["sliding_window null (full causal attention)", "GQA 4/2", "untied", "saved bfloat16"],
        ),
        Case(
            name="qwen2",
            model_class="Qwen2ForCausalLM",
            config_class="Qwen2Config",
            config=dict(
                COMMON,
                num_hidden_layers=2,
                tie_word_embeddings=True,
                use_sliding_window=False,
                rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0},
            ),
            save_dtype=torch.bfloat16,
            max_shard_size="80KB",
            features=[
                "q/k/v biases (no o_proj bias)",
                "tie_word_embeddings",
                "sharded checkpoint: model-0000N-of-0000M.safetensors + model.safetensors.index.json",
                "GQA 4/2",
                "saved bfloat16",
            ],
        ),
        Case(
            name="qwen3",
            model_class="Qwen3ForCausalLM",
            config_class="Qwen3Config",
            config=dict(
                COMMON,
                num_hidden_layers=2,
                head_dim=16,
                tie_word_embeddings=False,
                use_sliding_window=False,
                rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0},
            ),
            save_dtype=torch.bfloat16,
            features=[
                "q_norm/k_norm: RMSNorm over head_dim per head, before rope",
                "GQA 4/2",
                "untied",
                "saved bfloat16",
            ],
        ),
        Case(
            name="gemma",
            embed_std=0.02,
            final_norm_gain=16.0,
            model_class="GemmaForCausalLM",
            config_class="GemmaConfig",
            config=dict(
                COMMON,
                num_hidden_layers=2,
                head_dim=24,
                hidden_activation="gelu_pytorch_tanh",
                tie_word_embeddings=True,
                rope_parameters={"rope_type": "default", "rope_theta": 10_000.0},
            ),
            save_dtype=torch.bfloat16,
            norm_neutral=0.0,
            features=[
                "GeGLU with gelu tanh approximation",
                "embeddings scaled by sqrt(hidden)=8 (HF casts the scale to the weight dtype)",
                "RMSNorm multiplies by (1 + w), computed in float32",
                "head_dim 24 != hidden/heads 16",
                "tied",
                "GQA 4/2",
                "saved bfloat16",
            ],
        ),
        Case(
            name="gemma2",
            embed_std=0.02,
            final_norm_gain=16.0,
            model_class="Gemma2ForCausalLM",
            config_class="Gemma2Config",
            config=dict(
                COMMON,
                num_hidden_layers=2,
                head_dim=16,
                hidden_activation="gelu_pytorch_tanh",
                query_pre_attn_scalar=32,  # != head_dim 16: scale 32**-0.5
                attn_logit_softcapping=5.0,
                final_logit_softcapping=8.0,
                sliding_window=6,
                layer_types=["sliding_attention", "full_attention"],
                tie_word_embeddings=True,
                rope_parameters={"rope_type": "default", "rope_theta": 10_000.0},
            ),
            save_dtype=torch.bfloat16,
            norm_neutral=0.0,
            qk_gain=3.0,
            features=[
                "attn_logit_softcapping 5.0 (scores = 5*tanh(scores/5), after scaling, before mask)",
                "final_logit_softcapping 8.0 (logits = 8*tanh(logits/8))",
                "alternating layers: layer 0 sliding (window 6), layer 1 full",
                "query_pre_attn_scalar 32 != head_dim 16",
                "sandwich norms (input, post_attention, pre_feedforward, post_feedforward), (1 + w)",
                "embedding scale sqrt(hidden), GeGLU tanh, tied",
                "saved bfloat16",
            ],
        ),
        Case(
            name="gemma3_text",
            embed_std=0.02,
            final_norm_gain=16.0,
            model_class="Gemma3ForCausalLM",
            config_class="Gemma3TextConfig",
            config=_gemma3_text_config(),
            save_dtype=torch.bfloat16,
            norm_neutral=0.0,
            post_save=gemma3_text_to_hub_spelling,
            features=[
                "config.json in Hub spelling: rope_theta 1e6 + rope_scaling {linear, factor 8} (full layers), "
                "rope_local_base_freq 1e4 (sliding layers), sliding_window_pattern 3, torch_dtype; no layer_types",
                "layer types S, S, F, S (pattern 3 over 4 layers)",
                "sliding_window 6 on sliding layers",
                "q_norm/k_norm (1 + w)",
                "query_pre_attn_scalar 32 != head_dim 24; head_dim 24 != hidden/heads 16",
                "embedding scale sqrt(hidden), sandwich norms, GeGLU tanh, tied",
                "saved bfloat16",
            ],
            reserved_ids=[VOCAB - 3, VOCAB - 2, VOCAB - 1],
        ),
        Case(
            name="gemma3",
            embed_std=0.02,
            final_norm_gain=16.0,
            model_class="Gemma3ForConditionalGeneration",
            save_original_format=False,
            config_class="Gemma3Config",
            config=dict(
                text_config=_gemma3_text_config(),
                vision_config=dict(
                    model_type="siglip_vision_model",
                    hidden_size=32,
                    intermediate_size=64,
                    num_hidden_layers=1,
                    num_attention_heads=2,
                    image_size=28,
                    patch_size=14,
                    vision_use_head=False,
                ),
                mm_tokens_per_image=4,
                tie_word_embeddings=True,
                pad_token_id=PAD_ID,
                bos_token_id=BOS_ID,
                eos_token_id=EOS_ID,
                **GEMMA3_SPECIAL,
            ),
            save_dtype=torch.bfloat16,
            norm_neutral=0.0,
            features=[
                "Gemma3ForConditionalGeneration: text part as gemma3_text, tiny SigLIP vision tower (unused by text-only inputs)",
                "transformers 5 tensor names: model.language_model.*, model.vision_tower.*, model.multi_modal_projector.*",
                "tied lm_head (no lm_head.weight stored)",
                "saved bfloat16",
            ],
            reserved_ids=[VOCAB - 3, VOCAB - 2, VOCAB - 1],
        ),
        Case(
            name="phi3",
            model_class="Phi3ForCausalLM",
            config_class="Phi3Config",
            config=dict(
                COMMON,
                num_hidden_layers=2,
                max_position_embeddings=48,
                original_max_position_embeddings=12,
                sliding_window=32,
                tie_word_embeddings=False,
                rope_parameters={
                    "rope_type": "longrope",
                    "rope_theta": 10_000.0,
                    "partial_rotary_factor": 0.5,
                    "short_factor": [1.0, 1.3, 1.9, 2.6],
                    "long_factor": [1.2, 2.1, 3.0, 4.0],
                },
            ),
            save_dtype=torch.bfloat16,
            # transformers picks longrope factors per forward call from the whole batch's max position, so a
            # batch only generates like its rows alone when every row sits on the same side of 12 at every
            # step: prompts 14 and 20 are beyond it from the prefill on.
            batch_prompt_indices=[2, 3],
            features=[
                "fused qkv_proj [q; k; v] and gate_up_proj [gate; up]",
                "partial_rotary_factor 0.5: rope on the first 8 of 16 head dims",
                "longrope: short_factor/long_factor (4 each), original_max_position_embeddings 12, "
                "max_position_embeddings 48 -> cos/sin scaled by sqrt(1 + ln(4)/ln(12))",
                "sliding_window 32 (>= every sequence, so no effect, but the sliding mask path is taken)",
                "GQA 4/2, untied, saved bfloat16",
            ],
        ),
    ]
