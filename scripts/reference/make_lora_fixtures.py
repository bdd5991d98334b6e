#!/usr/bin/env python3
"""LoRA training reference fixtures: what transformers + peft compute for one fixed batch.

For each case in lora_cases.py (base: test/fixtures/models/<case>, float32, eager attention):
peft LoraConfig + get_peft_model, lora_B re-initialized N(0, 0.05) (seeded; lora_A keeps peft's
kaiming-uniform init), adapter saved as adapter_init/; one right-padded batch; the loss, every
LoRA gradient, clip_grad_norm_(0.5) and AdamW (single-tensor) for two steps; adapter after step 2
saved as adapter_trained/ and the logits of base + that adapter (reloaded with
PeftModel.from_pretrained) for each sequence alone.

    python3 scripts/reference/make_lora_fixtures.py [--out test/fixtures/lora] [--only llama,phi3]

No network access; everything is seeded, so reruns reproduce the same files.
"""

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import peft  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from peft.tuners.lora import LoraLayer  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lora_cases import (  # noqa: E402
    ADAMW,
    ALPHA,
    B_INIT_STD,
    CASES,
    DROPOUT,
    IGNORE_INDEX,
    MAX_GRAD_NORM,
    PAD_ID,
    RANK,
    SEED,
    SEQUENCES,
    LoraCase,
)
from peft_logits import load_base, peft_logits, sequence_logits  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
ADAPTER_NAME = "default"


def make_batch(vocab: int) -> dict:
    """Seeded token ids in 1..vocab-1 (0 is the pad id), right-padded; labels -100 on prompt and pad."""
    gen = torch.Generator().manual_seed(SEED)
    seqs = [torch.randint(1, vocab, (n,), generator=gen).tolist() for n, _ in SEQUENCES]
    width = max(n for n, _ in SEQUENCES)
    input_ids, mask, labels = [], [], []
    for seq, (n, prompt) in zip(seqs, SEQUENCES):
        pad = width - n
        input_ids.append(seq + [PAD_ID] * pad)
        mask.append([1] * n + [0] * pad)
        labels.append([IGNORE_INDEX] * prompt + seq[prompt:] + [IGNORE_INDEX] * pad)
    return {"sequences": seqs, "input_ids": input_ids, "attention_mask": mask, "labels": labels}


def saved_name(param_name: str) -> str:
    """named_parameters() name -> adapter_model.safetensors key (peft drops the adapter name)."""
    for part in ("lora_A", "lora_B"):
        param_name = param_name.replace(f".{part}.{ADAPTER_NAME}.", f".{part}.")
    return param_name


def save_adapter(model, directory: Path) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    model.save_pretrained(str(directory))
    # The model card (README.md) is not part of the adapter format and carries nothing the engine uses.
    (directory / "README.md").unlink(missing_ok=True)
    # peft writes target_modules (a set) in hash order; sort it so reruns write identical files.
    # Same serialization as peft's PeftConfig.save_pretrained (indent=2, sort_keys=True, no newline).
    config_path = directory / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["target_modules"] = sorted(config["target_modules"])
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True))


def token_loss_sum(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Sum of token cross-entropies over the shifted, non-ignored targets, as ForCausalLMLoss shifts them."""
    shift_labels = torch.nn.functional.pad(labels, (0, 1), value=IGNORE_INDEX)[..., 1:]
    loss_sum = torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), shift_labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum"
    )
    return loss_sum, int((shift_labels != IGNORE_INDEX).sum())


def build_case(case: LoraCase, out_dir: Path) -> dict:
    base_rel = f"test/fixtures/models/{case.name}"
    case_dir = out_dir / case.name
    case_dir.mkdir(parents=True, exist_ok=True)

    base = load_base(base_rel)  # relative path: adapter_config.json's base_model_name_or_path stays portable
    n_layers = base.config.get_text_config().num_hidden_layers
    layers = list(range(case.freeze_first, n_layers))
    config = LoraConfig(
        r=RANK,
        lora_alpha=ALPHA,
        lora_dropout=DROPOUT,
        bias="none",
        task_type="CAUSAL_LM",
        target_modules=list(case.targets),
        layers_to_transform=layers if case.freeze_first > 0 else None,
        use_rslora=case.use_rslora,
    )
    torch.manual_seed(SEED)  # peft's kaiming_uniform_ init of lora_A draws from the global generator
    model = get_peft_model(base, config)

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    names = [saved_name(n) for n, _ in named]
    assert all(".lora_A." in n or ".lora_B." in n for n in names), names
    params = [p for _, p in named]
    by_name = dict(zip(names, params))

    gen = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name in sorted(names):
            if ".lora_B." in name:
                by_name[name].copy_(torch.randn(by_name[name].shape, generator=gen) * B_INIT_STD)

    save_adapter(model, case_dir / "adapter_init")
    saved = load_file(str(case_dir / "adapter_init" / "adapter_model.safetensors"))
    assert sorted(saved) == sorted(names), (sorted(saved), sorted(names))
    for name in names:
        assert torch.equal(saved[name], by_name[name].detach()), name

    vocab = base.config.get_text_config().vocab_size
    batch = make_batch(vocab)
    input_ids = torch.tensor(batch["input_ids"])
    attention_mask = torch.tensor(batch["attention_mask"])
    labels = torch.tensor(batch["labels"])

    optimizer = torch.optim.AdamW(
        params, lr=ADAMW["lr"], betas=tuple(ADAMW["betas"]), eps=ADAMW["eps"], weight_decay=ADAMW["weight_decay"],
        foreach=False,
    )
    model.train()  # every dropout in these configs is 0.0, so train mode changes nothing numerically

    def step() -> dict:
        optimizer.zero_grad(set_to_none=True)
        out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
        loss_sum, tokens = token_loss_sum(out.logits.detach(), labels)
        out.loss.backward()
        grads = {n: p.grad.detach().clone() for n, p in zip(names, params)}
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm=MAX_GRAD_NORM)
        optimizer.step()
        after = {n: p.detach().clone() for n, p in zip(names, params)}
        return {"loss": out.loss.item(), "loss_sum": loss_sum.item(), "tokens": tokens, "grads": grads,
                "norm": norm.item(), "after": after}

    s1 = step()
    s2 = step()
    assert abs(s1["loss_sum"] / s1["tokens"] - s1["loss"]) < 1e-5 * max(1.0, s1["loss"])

    save_adapter(model, case_dir / "adapter_trained")
    trained = load_file(str(case_dir / "adapter_trained" / "adapter_model.safetensors"))
    for name in names:
        assert torch.equal(trained[name], s2["after"][name]), name

    model.eval()
    in_memory = sequence_logits(model, batch["sequences"])
    reloaded = peft_logits(base_rel, str(case_dir / "adapter_trained"), batch["sequences"])
    reload_diff = max(float((a - b).abs().max()) for a, b in zip(in_memory, reloaded))
    assert reload_diff == 0.0, reload_diff

    tensors = {}
    for name in sorted(names):
        tensors[f"grad.{name}"] = s1["grads"][name].contiguous()
        tensors[f"after_step1.{name}"] = s1["after"][name].contiguous()
        tensors[f"after_step2.{name}"] = s2["after"][name].contiguous()
        tensors[f"grad_step2.{name}"] = s2["grads"][name].contiguous()
    for i, logits in enumerate(reloaded):
        tensors[f"logits_trained.{i}"] = logits.contiguous()
    save_file(tensors, str(case_dir / "reference.safetensors"))

    scaling = ALPHA / (RANK**0.5) if case.use_rslora else ALPHA / RANK
    lora_modules = [m for m in model.modules() if isinstance(m, LoraLayer)]
    assert lora_modules and all(m.scaling[ADAPTER_NAME] == scaling for m in lora_modules)

    notes = [
        "Loss: transformers ForCausalLMLoss: logits upcast to fp32, labels shifted left by one (a -100 appended), "
        "cross_entropy(ignore_index=-100, reduction='mean') = loss_sum / tokens; tokens = non-ignored shifted targets.",
        "Batch is right-padded; no position_ids are passed, so positions are 0..T-1 for every row (the pads come after the real tokens).",
        "attention_mask zeros only mask padded keys; padded query rows produce logits that the labels ignore.",
        "Gradients ('grad.*') are of loss_mean (before clipping); 'grad_step2.*' the same for the second step.",
        "clip_grad_norm_(lora params, 0.5) then AdamW(foreach=False) step; step 2 repeats forward/backward/clip/step on the same batch.",
        f"lora_B re-initialized N(0, {B_INIT_STD}) (seeded) so lora_A gets gradients; lora_A is peft's kaiming_uniform_(a=sqrt(5)) init.",
        "logits_trained.<i>: base + adapter_trained reloaded with PeftModel.from_pretrained, sequence i alone (unpadded); "
        "identical to the in-memory trained model.",
        "LoRA forward (peft Linear.forward): base_layer(x) (with its bias) + lora_B(lora_A(x)) * scaling; lora_A/lora_B have no bias.",
    ]
    if case.name == "phi3":
        notes.append(
            "phi3 longrope picks short/long factors from max(position_ids)+1 of the whole forward: the padded batch (T=20 > "
            "original_max 12) uses the long factors for every row; logits_trained of a sequence alone use the short factors "
            "when its length <= 12. qkv_proj is one fused LoRA target: lora_A [r, hidden], lora_B [q+k+v out, r]."
        )

    reference = {
        "peft_version": peft.__version__,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "case": case.name,
        "base": base_rel,
        "lora": {
            "r": RANK,
            "alpha": ALPHA,
            "dropout": DROPOUT,
            "targets": list(case.targets),
            "layers_to_transform": config.layers_to_transform,
            "layers": layers,
            "use_rslora": case.use_rslora,
            "scaling": scaling,
            "b_init_std": B_INIT_STD,
        },
        "param_names": sorted(names),
        # Order of the parameters given to clip_grad_norm_ and AdamW (model order: per layer q, k, v; A before B).
        # The total norm stacks the per-tensor norms in this order; another order can change it by an ulp.
        "optimizer_param_order": names,
        "batch": {k: batch[k] for k in ("input_ids", "attention_mask", "labels")},
        "pad_id": PAD_ID,
        "loss_mean": s1["loss"],
        "loss_sum": s1["loss_sum"],
        "tokens": s1["tokens"],
        "max_grad_norm": MAX_GRAD_NORM,
        "grad_norm_before_clip": s1["norm"],
        "adamw": dict(ADAMW),
        "loss_after_step1": s2["loss"],
        "loss_sum_after_step1": s2["loss_sum"],
        "grad_norm_before_clip_step2": s2["norm"],
        "sequences": batch["sequences"],
        "notes": notes,
    }
    (case_dir / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")
    return reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="test/fixtures/lora")
    parser.add_argument("--only", default="", help="comma-separated case names")
    args = parser.parse_args()
    os.chdir(REPO_ROOT)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    only = {c for c in args.only.split(",") if c}
    out_dir = Path(args.out)
    for case in CASES:
        if only and case.name not in only:
            continue
        ref = build_case(case, out_dir)
        print(
            f"{case.name}: loss {ref['loss_mean']:.6f} (sum {ref['loss_sum']:.6f} / {ref['tokens']}), "
            f"grad norm {ref['grad_norm_before_clip']:.6f}, loss after step 1 {ref['loss_after_step1']:.6f}, "
            f"{len(ref['param_names'])} tensors"
        )


if __name__ == "__main__":
    main()
