#!/usr/bin/env python3
"""Reference fixtures for every model family the native engine supports.

For each case (see fixtures_cases.py) this writes a tiny random checkpoint in the exact Hugging Face
layout (save_pretrained) and the outputs transformers computes from it after reloading it
(eager attention, float32): per-sequence logits, left-padded batch logits and greedy generations
(single and batched, with and without EOS / min_new_tokens).

    python3 scripts/reference/make_fixtures.py [--out test/fixtures/models] [--only llama,phi3]

No network access; everything is seeded, so reruns reproduce the same files.
"""

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixtures_cases import EOS_ID, HIDDEN, PAD_ID, SEQUENCE_LENGTHS, VOCAB, Case, cases  # noqa: E402
from fixtures_posthoc import write_gemma3_legacy  # noqa: E402

MAX_NEW_TOKENS = 8
MIN_MARGIN = 1e-3
MAX_ATTEMPTS = 40
# Over the 4 x 8 single-prompt greedy tokens: models that only repeat the last token test little.
MIN_DISTINCT_TOKENS = 16
# Row-level tolerance used only to describe (not to assert) batch-vs-single agreement.
SAME_ROW_ATOL = 1e-4


# ----------------------------------------------------------------------------- weights


def reinit_(model: torch.nn.Module, case: Case, seed: int) -> None:
    """Replace HF's std-0.02 init so that logits have a spread of a few units and greedy steps
    have clear winners; norms get random weights around their neutral value."""
    gen = torch.Generator().manual_seed(seed)
    tied = model.config.get_text_config().tie_word_embeddings

    def normal(shape, std, mean=0.0):
        return torch.randn(shape, generator=gen) * std + mean

    with torch.no_grad():
        for name, p in model.named_parameters():  # tied parameters appear once
            shape = p.shape
            if "vision_tower" in name or "multi_modal_projector" in name:
                neutral = 1.0 if ("layer_norm" in name or "layernorm" in name) and name.endswith("weight") else 0.0
                p.copy_(normal(shape, 0.05, neutral))
            elif name in ("model.norm.weight", "model.language_model.norm.weight"):
                p.copy_(normal(shape, 0.15, case.norm_neutral + case.final_norm_gain - 1.0))
            elif p.ndim == 1 and "norm" in name:
                p.copy_(normal(shape, 0.15, case.norm_neutral))
            elif name.endswith("embed_tokens.weight"):
                tied_std = case.embed_std or case.logit_gain / HIDDEN**0.5
                p.copy_(normal(shape, tied_std if tied else 1.0))
            elif name.endswith("lm_head.weight"):
                p.copy_(normal(shape, case.logit_gain / HIDDEN**0.5))
            elif p.ndim == 2:
                std = torch.full((shape[0], 1), 1.0 / shape[1] ** 0.5)
                if name.endswith(("q_proj.weight", "k_proj.weight")):
                    std *= case.qk_gain
                elif name.endswith("qkv_proj.weight"):
                    cfg = model.config
                    head_dim = cfg.hidden_size // cfg.num_attention_heads
                    qk_rows = (cfg.num_attention_heads + cfg.num_key_value_heads) * head_dim
                    std[:qk_rows] *= case.qk_gain
                p.copy_(torch.randn(shape, generator=gen) * std)
            elif p.ndim == 1:  # biases
                p.copy_(normal(shape, 0.2))
            else:
                raise ValueError(f"{case.name}: no init rule for {name} {tuple(shape)}")


def build_and_save(case: Case, out_dir: Path, seed: int) -> dict:
    torch.manual_seed(seed)
    config = getattr(transformers, case.config_class)(**case.config)
    model = getattr(transformers, case.model_class)(config).eval()
    reinit_(model, case, seed)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    model = model.to(case.save_dtype)
    kwargs = {"save_original_format": case.save_original_format}
    if case.max_shard_size:
        kwargs["max_shard_size"] = case.max_shard_size
    model.save_pretrained(out_dir, **kwargs)
    info = {}
    if case.post_save is not None:
        info = case.post_save(out_dir, config) or {}
    return {"config": config, "post_save": info}


def load(case: Case, out_dir: Path):
    cls = getattr(transformers, case.model_class)
    model = cls.from_pretrained(out_dir, dtype=torch.float32, attn_implementation="eager").eval()
    # "No EOS" must mean no EOS: the saved generation_config carries the config's eos id.
    model.generation_config.eos_token_id = None
    return model


# ----------------------------------------------------------------------------- reference runs


def left_pad(prompts: list[list[int]]):
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt):] = torch.tensor(prompt)
        mask[row, width - len(prompt):] = 1
    return ids, mask


def padded_position_ids(mask: torch.Tensor) -> torch.Tensor:
    # Exactly what generate() derives from a 2D mask (generation/utils.py _prepare_position_ids_for_generation).
    return (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)


def cut_after_eos(tokens: list[int], eos: list[int] | None) -> list[int]:
    if eos:
        for i, t in enumerate(tokens):
            if t in eos:
                return tokens[: i + 1]
    return tokens


@torch.no_grad()
def greedy(model, prompts, eos=None, min_new_tokens=0):
    """Returns (outputs cut after the first EOS, smallest top1-top2 gap over the recorded steps)."""
    ids, mask = left_pad(prompts)
    out = model.generate(
        ids,
        attention_mask=mask,
        do_sample=False,
        max_new_tokens=MAX_NEW_TOKENS,
        min_new_tokens=min_new_tokens,
        eos_token_id=eos,
        pad_token_id=PAD_ID,
        output_scores=True,
        return_dict_in_generate=True,
    )
    new = out.sequences[:, ids.shape[1]:]
    outputs, margin = [], float("inf")
    for row in range(len(prompts)):
        tokens = cut_after_eos(new[row].tolist(), eos)
        for step in range(len(tokens)):
            top = torch.topk(out.scores[step][row].float(), 2).values
            margin = min(margin, (top[0] - top[1]).item())
            assert out.scores[step][row].argmax().item() == tokens[step]
        if not eos:
            assert len(tokens) == MAX_NEW_TOKENS, (prompts[row], tokens)
        outputs.append(tokens)
    return outputs, margin


def greedy_checked(model, prompts, eos=None, min_new_tokens=0):
    """Batched generation, asserted equal to one-at-a-time generation."""
    batch, margin = greedy(model, prompts, eos, min_new_tokens)
    singles = []
    for prompt in prompts:
        single, m = greedy(model, [prompt], eos, min_new_tokens)
        singles.append(single[0])
        margin = min(margin, m)
    if batch != singles:
        raise Mismatch(f"batched {batch} != one-at-a-time {singles} (eos={eos}, min_new={min_new_tokens})")
    return batch, margin


class Mismatch(Exception):
    pass


def choose_eos(outputs) -> tuple[list[int], int, int] | None:
    """EOS ids for the batched EOS case, chosen from the no-EOS outputs (trajectories are identical up
    to the first EOS, so cutting those outputs predicts the stops). The first id is a token one prompt
    emits for the first time at step ~3 and no other prompt emits within its first step+2 tokens;
    a second id, emitted first by another prompt a few steps later, makes a third stop time when one
    exists, else the config's eos (2, never emitted here) so the list form is exercised anyway.
    Returns (eos ids, row that stops first, its step)."""
    def stops(eos):
        return [len(cut_after_eos(o, eos)) for o in outputs]

    best = None
    for pref, step in enumerate((2, 3, 1, 4)):
        for row, out in enumerate(outputs):
            token = out[step]
            if token in out[:step] or token == PAD_ID:
                continue
            if any(token in other[: step + 2] for r, other in enumerate(outputs) if r != row):
                continue
            seconds = [EOS_ID] + [o[s] for r, o in enumerate(outputs) if r != row for s in range(step + 2, len(o))]
            for second in seconds:
                eos = [token, second]
                lengths = stops(eos)
                if lengths[row] != step + 1 or any(EOS_ID in o for o in outputs) and second == EOS_ID:
                    continue
                score = (len(set(lengths)), -pref)
                if best is None or score > best[0]:
                    best = (score, (eos, row, step))
    return None if best is None else best[1]


@torch.no_grad()
def compute_reference(case: Case, model, seed: int) -> tuple[dict, dict]:
    gen = torch.Generator().manual_seed(10_000 + seed)
    banned = {PAD_ID, 1, EOS_ID, *case.reserved_ids}
    allowed = torch.tensor([t for t in range(VOCAB) if t not in banned])
    sequences = [allowed[torch.randint(len(allowed), (n,), generator=gen)].tolist() for n in SEQUENCE_LENGTHS]

    tensors = {}
    for i, seq in enumerate(sequences):
        tensors[f"logits.{i}"] = model(torch.tensor([seq])).logits[0].float().contiguous()
    ids, mask = left_pad(sequences)
    positions = padded_position_ids(mask)
    batch_logits = model(ids, attention_mask=mask, position_ids=positions).logits.float().contiguous()
    tensors["batch_logits"] = batch_logits
    tensors["batch_attention_mask"] = mask.to(torch.int64).contiguous()

    row_diffs = []
    for i, seq in enumerate(sequences):
        valid = batch_logits[i, ids.shape[1] - len(seq):]
        row_diffs.append((valid - tensors[f"logits.{i}"]).abs().max().item())

    greedy_single, margin = [], float("inf")
    for seq in sequences:
        out, m = greedy(model, [seq])
        greedy_single.append(out[0])
        margin = min(margin, m)

    distinct = len({t for out in greedy_single for t in out})
    if distinct < MIN_DISTINCT_TOKENS:
        raise Mismatch(f"greedy outputs too repetitive ({distinct} distinct tokens)")

    indices = case.batch_prompt_indices or list(range(len(sequences)))
    prompts = [sequences[i] for i in indices]
    batch_cases = []
    out_a, m = greedy_checked(model, prompts)
    margin = min(margin, m)
    assert out_a == [greedy_single[i] for i in indices]
    batch_cases.append({"prompts": prompts, "max_new_tokens": MAX_NEW_TOKENS, "min_new_tokens": 0,
                        "eos_token_id": None, "outputs": out_a})

    chosen = choose_eos(out_a)
    if chosen is None:
        raise Mismatch("no usable EOS token in the no-EOS outputs")
    eos, eos_row, eos_step = chosen
    out_b, m = greedy_checked(model, prompts, eos)
    margin = min(margin, m)
    assert len(out_b[eos_row]) == eos_step + 1
    if len({len(o) for o in out_b}) < 2:
        raise Mismatch("EOS case does not stop rows at different times")
    batch_cases.append({"prompts": prompts, "max_new_tokens": MAX_NEW_TOKENS, "min_new_tokens": 0,
                        "eos_token_id": eos, "outputs": out_b})

    min_new = eos_step + 2
    out_c, m = greedy_checked(model, prompts, eos, min_new)
    margin = min(margin, m)
    assert all(len(o) >= min_new for o in out_c)
    batch_cases.append({"prompts": prompts, "max_new_tokens": MAX_NEW_TOKENS, "min_new_tokens": min_new,
                        "eos_token_id": eos, "outputs": out_c})

    if margin < MIN_MARGIN:
        raise Mismatch(f"greedy margin {margin:.2e} < {MIN_MARGIN}")

    reference = {
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "case": case.name,
        "model_class": case.model_class,
        "saved_dtype": str(case.save_dtype).removeprefix("torch."),
        "seed": seed,
        "features": case.features,
        "sequences": sequences,
        "batch": {"input_ids": ids.tolist(), "attention_mask": mask.tolist(), "position_ids": positions.tolist()},
        "logits_scale": max(tensors[f"logits.{i}"].abs().max().item() for i in range(len(sequences))),
        "greedy": [
            {"prompt": seq, "max_new_tokens": MAX_NEW_TOKENS, "min_new_tokens": 0, "eos_token_id": None,
             "output": out}
            for seq, out in zip(sequences, greedy_single)
        ],
        "greedy_batch": batch_cases,
        "min_margin": margin,
        "batch_logits_vs_single_max_abs_diff": row_diffs,
        "notes": [
            "Computed by transformers with attn_implementation='eager' in float32 after from_pretrained of this "
            "directory (weights stored in saved_dtype, upcast to float32).",
            "logits.<i>: sequence i alone, no attention mask, positions 0..T-1.",
            "batch_logits: the sequences left-padded with pad id 0 into one batch, forward(input_ids, "
            "attention_mask, position_ids=batch.position_ids) where position_ids = cumsum(mask)-1 with pads set "
            "to 0 (what generate() uses). Rows at pad positions are included as transformers computes them "
            "(fully masked query rows: every score is finfo.min, so softmax is uniform over all keys); compare "
            "only positions where batch_attention_mask is 1.",
            "greedy / greedy_batch outputs are new tokens only, cut after the first EOS (EOS included), no padding. "
            "Batched outputs were asserted equal to one-at-a-time outputs.",
            "min_new_tokens follows transformers: EOS logits are set to -inf while fewer than min_new_tokens "
            "tokens have been generated (counted from the padded prompt width, the same for every row).",
            "min_margin: smallest top1-top2 gap of the (processed) scores over every recorded greedy step.",
        ],
    }
    return reference, tensors


def dump_json(obj) -> str:
    text = json.dumps(obj, indent=2)
    # Keep number lists on one line.
    return re.sub(r"\[\s*([-0-9.eE,\s]+?)\s*\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text) + "\n"


def write_reference(out_dir: Path, reference: dict, tensors: dict) -> None:
    (out_dir / "reference.json").write_text(dump_json(reference))
    save_file(tensors, out_dir / "reference.safetensors", metadata={"format": "pt"})
    for path in out_dir.iterdir():  # safetensors creates files 0600
        path.chmod(0o644)


# ----------------------------------------------------------------------------- case-specific checks


def check_reloaded_config(case: Case, built, model) -> list[str]:
    notes = []
    cfg = model.config.get_text_config()
    original = built["config"].get_text_config()
    if case.name == "gemma3_text":
        # The Hub-spelled config.json must round-trip to the same layer types and rope.
        assert cfg.layer_types == original.layer_types, (cfg.layer_types, original.layer_types)
        assert cfg.rope_parameters == original.rope_parameters, (cfg.rope_parameters, original.rope_parameters)
        assert cfg.sliding_window == original.sliding_window
        notes.append(
            "config.json is in the Hub spelling; transformers reloads it to layer_types "
            f"{cfg.layer_types} and rope_parameters {cfg.rope_parameters}."
        )
    if case.name == "phi3":
        rp = cfg.rope_parameters
        notes.append(
            "longrope as transformers applies it: per forward call, seq_len = max(position_ids)+1 over the whole "
            f"batch; long_factor if seq_len > {rp['original_max_position_embeddings']}, else short_factor "
            "(modeling_rope_utils.py longrope_frequency_update). In generate(), Phi3ForCausalLM."
            "prepare_inputs_for_generation drops the KV cache the first time the (padded) sequence reaches "
            "original_max+1 = 13 tokens while the cache holds <= 12, so that step re-runs the whole sequence "
            "with the long factors: cached keys are never left with the short rotation. Hence greedy[1] "
            "(prompt 9) switches at its 4th new token and equals a no-cache recomputation at every step. "
            "cos and sin are multiplied by attention_factor = sqrt(1 + ln(max_position_embeddings/original_max)"
            "/ln(original_max)) for both factor sets. batch_logits rows of the sequences of length <= 12 "
            "differ from logits.<i> (the batch has max position 19 -> long factors for every row), and "
            "greedy_batch uses only the prompts of length 14 and 20 (long factors from the prefill on in both "
            "the batched and the single runs)."
        )
    return notes


def make_case(case: Case, root: Path) -> dict:
    out_dir = root / case.name
    last_error = None
    for attempt in range(MAX_ATTEMPTS):
        seed = case.seed + attempt
        built = build_and_save(case, out_dir, seed)
        model = load(case, out_dir)
        notes = check_reloaded_config(case, built, model)
        try:
            reference, tensors = compute_reference(case, model, seed)
        except Mismatch as err:
            last_error = err
            print(f"  {case.name} seed {seed}: {err}; retrying")
            continue
        reference["notes"] += notes
        write_reference(out_dir, reference, tensors)
        print(f"  {case.name}: seed {seed}, min_margin {reference['min_margin']:.4f}, "
              f"logits_scale {reference['logits_scale']:.2f}")
        return {"case": case, "reference": reference, "tensors": tensors, "model": model}
    raise RuntimeError(f"{case.name}: no seed in {MAX_ATTEMPTS} attempts satisfied the checks: {last_error}")


def make_gemma3_legacy(gemma3: dict, root: Path) -> None:
    src, dst = root / "gemma3", root / "gemma3_legacy"
    if dst.exists():
        shutil.rmtree(dst)
    renamed = write_gemma3_legacy(src, dst)
    # transformers' own legacy writer for comparison: save_pretrained's default save_original_format=True
    # on a freshly built model (a model loaded from v5 names records no renames to revert).
    with tempfile.TemporaryDirectory() as tmp:
        fresh = transformers.Gemma3ForConditionalGeneration(gemma3["model"].config)
        fresh.save_pretrained(tmp)
        with safe_open(Path(tmp) / "model.safetensors", "pt") as f:
            hf_legacy_names = set(f.keys())
    ours = set(renamed.values())
    names_match = ours == hf_legacy_names
    name_note = (
        "Tensor names equal those transformers writes with save_pretrained(save_original_format=True)."
        if names_match
        else "Tensor names differ from transformers' save_original_format=True output: ours-only "
        f"{sorted(ours - hf_legacy_names)[:6]}, transformers-only {sorted(hf_legacy_names - ours)[:6]}."
    )
    reference = json.loads(json.dumps(gemma3["reference"]))
    reference["case"] = "gemma3_legacy"
    reference["features"] = [
        "gemma3 with transformers-4.x tensor names: language_model.model.*, vision_tower.*, "
        "multi_modal_projector.* (and language_model.lm_head.weight when stored; tied here, so absent)",
        "same weights and config as gemma3; reference outputs are gemma3's",
    ]
    try:
        model = transformers.Gemma3ForConditionalGeneration.from_pretrained(
            dst, dtype=torch.float32, attn_implementation="eager"
        ).eval()
        with torch.no_grad():
            for i, seq in enumerate(reference["sequences"]):
                logits = model(torch.tensor([seq])).logits[0]
                assert torch.equal(logits, gemma3["tensors"][f"logits.{i}"]), f"legacy logits differ on sequence {i}"
        status = "transformers loads the legacy names (conversion_mapping.py 'llava' renames) to identical logits"
    except Exception as err:  # keep the copy: the engine must load the 4.x layout regardless
        status = f"transformers {transformers.__version__} could not load the legacy names: {err!r}"
    reference["legacy_load"] = status
    reference["legacy_names_match_transformers_save_original_format"] = names_match
    reference["notes"].append("Outputs copied from gemma3; " + status + ". " + name_note)
    write_reference(dst, reference, gemma3["tensors"])
    print(f"  gemma3_legacy: {status}")


# ----------------------------------------------------------------------------- README


def write_readme(root: Path, made: list[dict]) -> None:
    lines = [
        "# Model reference fixtures",
        "",
        "Tiny random-weight checkpoints in the exact Hugging Face layout (config.json, generation_config.json,",
        "*.safetensors written by `save_pretrained`) and what transformers computes from them. The native",
        "engine loads each directory and must reproduce the outputs.",
        "",
        "Regenerate (CPU, no network, deterministic):",
        "",
        "```",
        "python3 scripts/reference/make_fixtures.py --out test/fixtures/models",
        "```",
        "",
        f"Generated with transformers {transformers.__version__}, torch {torch.__version__}.",
        "",
        "## Files per case",
        "",
        "- checkpoint: `config.json`, `generation_config.json`, `model.safetensors` (qwen2: shards + index).",
        "- `reference.json`: `sequences` (4 prompts, lengths " + ", ".join(map(str, SEQUENCE_LENGTHS)) + "),",
        "  `batch` (left-padded with pad id 0: input_ids, attention_mask, position_ids = cumsum(mask)-1, pads 0),",
        "  `greedy` (one prompt at a time, 8 new tokens, no EOS), `greedy_batch` (all prompts in one left-padded",
        "  batch: no EOS; an EOS list that stops rows at different steps; the same with min_new_tokens beyond the",
        "  first stop), `logits_scale`, `min_margin` (smallest top1-top2 logit gap of any greedy step, >= 1e-3),",
        "  `batch_logits_vs_single_max_abs_diff`, `notes`.",
        "- `reference.safetensors`: `logits.<i>` float32 [T_i, vocab] (sequence i alone), `batch_logits` float32",
        "  [B, T, vocab] (with attention mask and position_ids; pad rows included, compare only mask==1 rows),",
        "  `batch_attention_mask` int64.",
        "",
        "All models: vocab " + str(VOCAB) + ", hidden " + str(HIDDEN) + ", intermediate 128, 4 heads / 2 kv heads"
        " unless noted. Weights are re-randomized (not HF's std 0.02) so logits spread over a few units;",
        "norm weights are random around their neutral value (1, or 0 for gemma's (1 + w)).",
        "",
        "## Cases",
        "",
    ]
    for item in made:
        case, ref = item["case"], item["reference"]
        lines.append(f"### {case.name} (`{case.model_class}`)")
        lines.append("")
        lines += [f"- {f}" for f in ref["features"]]
        lines.append(f"- min_margin {ref['min_margin']:.4f}, logits_scale {ref['logits_scale']:.2f}")
        lines.append("")
    lines += [
        "### gemma3_legacy",
        "",
        "- gemma3's checkpoint with the transformers-4.x tensor names (`language_model.model.*`,",
        "  `vision_tower.*`, `multi_modal_projector.*`); reference files identical to gemma3's.",
        "",
    ]
    lines += [
        "## transformers behaviour these fixtures pin down",
        "",
        "- Left padding in generate: position_ids = cumsum(mask) - 1, pads set to 0; each new token gets the",
        "  row's last position + 1. batch_logits uses the same position_ids.",
        "- Sliding window W (mistral, gemma2/3 sliding layers, phi3): query i attends keys j with",
        "  i - W < j <= i (W keys including itself), on cache indices; padded keys masked on top.",
        "- Eager masks use finfo(float32).min, not -inf: fully padded query rows get uniform attention.",
        "- phi3 longrope: factor set chosen per forward call from max(position_ids)+1 of the whole batch; generate",
        "  drops the KV cache and re-runs the whole sequence when it first reaches original_max+1 tokens.",
        "  greedy_batch therefore uses only the prompts of length 14 and 20 for phi3.",
        "- gemma3_text config.json uses the Hub spelling (no layer_types, no rope_parameters); gemma3's config",
        "  (as transformers 5 writes it) carries layer_types and a stray `_sliding_window_pattern: 6`: prefer",
        "  layer_types when present.",
        "- min_new_tokens: EOS ids get -inf while fewer than min_new_tokens tokens were generated.",
        "",
        "Tied gemma-family models use a small embedding std (0.02) and a final-norm gain of 16 ((1 + w) around",
        "16): with the default spread the token's own scaled embedding dominates the residual stream and the",
        "greedy output just repeats the last token.",
        "",
    ]
    (root / "README.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="test/fixtures/models")
    parser.add_argument("--only", default="", help="comma-separated case names (README is written only for a full run)")
    args = parser.parse_args()
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    only = set(filter(None, args.only.split(",")))
    made = []
    for case in cases():
        if only and case.name not in only:
            continue
        made.append(make_case(case, root))
        if case.name == "gemma3":
            make_gemma3_legacy(made[-1], root)
    if not only:
        write_readme(root, made)
    total = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    print(f"total size of {root}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
