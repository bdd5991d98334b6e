#!/usr/bin/env python3
"""Sequence-classification reference fixtures: what transformers + peft compute.

Per case (a tiny base in test/fixtures/models/<case>, float32, eager attention):
  AutoModelForSequenceClassification(num_labels=3) (score head drawn by transformers' init from
  SEED) wrapped by peft LoraConfig(task_type SEQ_CLS, layers_to_transform = layers FREEZE..L-1,
  modules_to_save ["score"]); lora_B re-initialized N(0, 0.05) so lora_A gets gradients; saved
  with save_pretrained as adapter_init/. Then, for one batch of ROWS rows (token ids never equal
  to the pad id, which transformers' pooling looks for):
    logits of the right-padded and of the left-padded batch;
    the mean cross-entropy (transformers' single_label_classification loss) and the gradient of
    every trainable tensor (LoRA A / B and the head), named as save_pretrained names them;
    the same for (1 - W) x CE + W x SupCon (the pooled features: the head's input at the last
    token), the supervised contrastive loss written as HobbitLong's SupConLoss writes it.
And losses.safetensors: the classification losses alone (CE, R-Drop, SupCon, both) on random
pooled features, as the R-Drop authors' and HobbitLong's code compute them, with torch autograd
gradients.

    python3 scripts/reference/make_classify_fixtures.py [--out test/fixtures/classify]

No network access; everything is seeded, so reruns reproduce the same files.
"""

import argparse
import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import peft  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import transformers  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
CASES = ["llama", "qwen3", "gemma2"]
NUM_LABELS = 3
RANK, ALPHA = 4, 8
FREEZE = 1  # layers 0..FREEZE-1 get no adapter
TARGETS = ["q_proj", "k_proj", "v_proj"]
B_INIT_STD = 0.05
ROW_LENGTHS = [7, 12, 4, 9]
LABELS = [2, 0, 2, 1]
SUPCON_WEIGHT, SUPCON_TEMPERATURE = 0.1, 0.07
SEED = 4321


# --- the losses, as their authors' code writes them -------------------------------------------

def supcon_loss_hobbitlong(features: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    """Per-anchor SupConLoss of HobbitLong/SupContrast (one view, base_temperature = temperature):
    mask-multiply form, row max subtracted, anchors without a positive count 0."""
    features = F.normalize(features, dim=1)
    batch = features.shape[0]
    labels = labels.contiguous().view(-1, 1)
    mask = torch.eq(labels, labels.T).float()
    anchor_dot_contrast = torch.div(torch.matmul(features, features.T), temperature)
    logits_max, _ = torch.max(anchor_dot_contrast, dim=1, keepdim=True)
    logits = anchor_dot_contrast - logits_max.detach()
    logits_mask = torch.scatter(torch.ones_like(mask), 1, torch.arange(batch).view(-1, 1), 0)
    mask = mask * logits_mask
    exp_logits = torch.exp(logits) * logits_mask
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))
    mask_pos_pairs = mask.sum(1)
    mask_pos_pairs = torch.where(mask_pos_pairs < 1e-6, 1, mask_pos_pairs)
    mean_log_prob_pos = (mask * log_prob).sum(1) / mask_pos_pairs
    return -mean_log_prob_pos  # (batch)


def rdrop_kl_per_row(logits1: torch.Tensor, logits2: torch.Tensor) -> torch.Tensor:
    """compute_kl_loss of the R-Drop authors (dropreg/R-Drop), per row: (KL(p||q) + KL(q||p)) / 2."""
    p_loss = F.kl_div(F.log_softmax(logits1, dim=-1), F.softmax(logits2, dim=-1), reduction="none")
    q_loss = F.kl_div(F.log_softmax(logits2, dim=-1), F.softmax(logits1, dim=-1), reduction="none")
    return (p_loss.sum(-1) + q_loss.sum(-1)) / 2


def classification_per_row(pooled: list, weight: torch.Tensor, labels: torch.Tensor, rdrop_alpha: float,
                           supcon_weight: float, temperature: float) -> torch.Tensor:
    logits = [p @ weight.T for p in pooled]
    ce = sum(F.cross_entropy(lg, labels, reduction="none") for lg in logits) / len(pooled)
    total = ce
    if supcon_weight > 0:
        sc = sum(supcon_loss_hobbitlong(p, labels, temperature) for p in pooled) / len(pooled)
        total = (1 - supcon_weight) * ce + supcon_weight * sc
    if rdrop_alpha > 0:
        total = total + rdrop_alpha * rdrop_kl_per_row(logits[0], logits[1])
    return total


def make_losses(out: Path) -> dict:
    gen = torch.Generator().manual_seed(SEED)
    rows, hidden = 6, 8
    labels = torch.tensor([0, 1, 0, 2, 1, 0])  # label 2 has one row: an anchor without a positive
    tensors = {
        "pooled.0": torch.randn(rows, hidden, generator=gen),
        "pooled.1": torch.randn(rows, hidden, generator=gen) * 0.3,
        "weight": torch.randn(NUM_LABELS, hidden, generator=gen) * 0.5,
        "labels": labels.to(torch.int32),
    }
    tensors["pooled.1"] += tensors["pooled.0"]  # a second dropout pass: near the first
    grad_scale = 1.0 / rows
    cases = {
        "ce": dict(passes=1, rdrop_alpha=0.0, supcon_weight=0.0, temperature=SUPCON_TEMPERATURE),
        "rdrop": dict(passes=2, rdrop_alpha=1.5, supcon_weight=0.0, temperature=SUPCON_TEMPERATURE),
        "supcon": dict(passes=1, rdrop_alpha=0.0, supcon_weight=SUPCON_WEIGHT, temperature=SUPCON_TEMPERATURE),
        "supcon_t05": dict(passes=1, rdrop_alpha=0.0, supcon_weight=0.5, temperature=0.5),
        "both": dict(passes=2, rdrop_alpha=0.7, supcon_weight=0.3, temperature=0.2),
    }
    meta = {}
    for name, c in cases.items():
        pooled = [tensors[f"pooled.{i}"].clone().double().requires_grad_(True) for i in range(c["passes"])]
        weight = tensors["weight"].clone().double().requires_grad_(True)
        per_row = classification_per_row(pooled, weight, labels, c["rdrop_alpha"], c["supcon_weight"], c["temperature"])
        (per_row.sum() * grad_scale).backward()
        meta[name] = {**c, "loss_sum": per_row.sum().item()}
        for i, p in enumerate(pooled):
            tensors[f"{name}.grad_pooled.{i}"] = p.grad.float()
        tensors[f"{name}.grad_weight"] = weight.grad.float()
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(out / "losses.safetensors"))
    return {"grad_scale": grad_scale, "cases": meta}


# --- the model cases ------------------------------------------------------------------------

def make_rows(vocab: int, pad: int) -> list[list[int]]:
    gen = torch.Generator().manual_seed(SEED)
    rows = []
    for n in ROW_LENGTHS:
        row = torch.randint(1, vocab, (n,), generator=gen)
        row[row == pad] = pad + 1  # transformers pools at the last token that is not the pad id
        rows.append(row.tolist())
    return rows


def padded(rows: list[list[int]], pad: int, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids, mask = [], []
    for r in rows:
        fill = [pad] * (width - len(r))
        ids.append(fill + r if left else r + fill)
        mask.append([0] * len(fill) + [1] * len(r) if left else [1] * len(r) + [0] * len(fill))
    return torch.tensor(ids), torch.tensor(mask)


def saved_name(param_name: str) -> str:
    """peft's parameter name -> the key save_pretrained writes (adapter name and wrapper dropped)."""
    return param_name.replace(".default.weight", ".weight").replace(".modules_to_save", "").replace(".original_module", "")


def make_case(name: str, out: Path) -> dict:
    base_dir = REPO_ROOT / "test" / "fixtures" / "models" / name
    config = json.loads((base_dir / "config.json").read_text())
    pad = config["pad_token_id"]
    layers = config["num_hidden_layers"]
    torch.manual_seed(SEED)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(base_dir), num_labels=NUM_LABELS, dtype=torch.float32, attn_implementation="eager"
    )
    lora = LoraConfig(task_type="SEQ_CLS", r=RANK, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=TARGETS,
                      layers_to_transform=list(range(FREEZE, layers)), modules_to_save=["score"])
    model = get_peft_model(model, lora)
    gen = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "lora_B" in pname:
                p.copy_(torch.randn(p.shape, generator=gen) * B_INIT_STD)
    case_dir = out / name
    if case_dir.exists():
        shutil.rmtree(case_dir)
    case_dir.mkdir(parents=True)
    model.save_pretrained(str(case_dir / "adapter_init"))
    (case_dir / "adapter_init" / "README.md").unlink()  # peft's model card: nothing a test reads
    model.eval()  # dropout 0 either way; eval keeps the forward deterministic

    rows = make_rows(config["vocab_size"], pad)
    labels = torch.tensor(LABELS)
    tensors = {}
    pooled_features = {}

    def capture(_module, inputs, _output):
        pooled_features["hidden"] = inputs[0]

    hook = model.base_model.model.score.register_forward_hook(capture)
    for side in ("right", "left"):
        ids, mask = padded(rows, pad, left=side == "left")
        with torch.no_grad():
            tensors[f"logits_{side}"] = model(input_ids=ids, attention_mask=mask).logits.float().contiguous()

    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    losses = {}
    for objective in ("ce", "supcon"):
        model.zero_grad()
        ids, mask = padded(rows, pad, left=False)
        result = model(input_ids=ids, attention_mask=mask, labels=labels)
        loss = result.loss  # transformers: mean cross-entropy over the rows
        if objective == "supcon":
            last = mask.sum(1) - 1
            pooled = pooled_features["hidden"][torch.arange(len(rows)), last]
            loss = (1 - SUPCON_WEIGHT) * loss + SUPCON_WEIGHT * supcon_loss_hobbitlong(pooled, labels, SUPCON_TEMPERATURE).mean()
        loss.backward()
        losses[objective] = loss.item()
        for pname, p in trainable:
            tensors[f"{objective}.grad.{saved_name(pname)}"] = p.grad.detach().float().contiguous()
    hook.remove()
    save_file(tensors, str(case_dir / "reference.safetensors"))
    reference = {
        "case": name,
        "num_labels": NUM_LABELS,
        "pad_token_id": pad,
        "rows": rows,
        "labels": LABELS,
        "freeze": FREEZE,
        "loss": losses,
        "supcon_weight": SUPCON_WEIGHT,
        "supcon_temperature": SUPCON_TEMPERATURE,
        "trainable": [saved_name(n) for n, _ in trainable],
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
    }
    (case_dir / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")
    return reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(REPO_ROOT / "test" / "fixtures" / "classify"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    losses = make_losses(out)
    (out / "losses.json").write_text(json.dumps(losses, indent=1) + "\n")
    for name in CASES:
        ref = make_case(name, out)
        print(f"{name}: loss {ref['loss']}, {len(ref['trainable'])} trainable tensors")


if __name__ == "__main__":
    main()
