#!/usr/bin/env python3
"""The Python stacks of the side-by-side benchmark (compare.sh, issue 12): what a user would run
instead of node-qlora, on the same checkpoint and the same inputs as ours.mjs.

Stacks:
  unsloth  FastLanguageModel.from_pretrained(load_in_4bit, bf16) + get_peft_model(
           use_gradient_checkpointing="unsloth"); for_inference for generation
  hf-nf4   transformers + bitsandbytes (NF4, double quant, bf16 compute) +
           prepare_model_for_kbit_training + peft (training); bnb + peft for generation
  hf-bf16  transformers bf16 + peft
Phases (one JSON file RESULTS/STACK-PHASE.json each, also printed as one line):
  train      the synthetic batch of INPUTS (make-inputs.mjs), AdamW (torch, fp32 state, weight
             decay 0.01, clipping at 1 as ours), warm-up then timed steps; hf stacks with
             gradient checkpointing on and off (--gc), unsloth with its own ("unsloth")
  eval       greedy generation with the adapter attached (unmerged), prompts/s at batch 1 and N
  decode     batch-1 greedy decode, tokens/s
  seed       the seed's job: trl SFTTrainer + SFTConfig on the 2,048 IMDB prompt/completion rows
             (prepare-device.sh: our prompt text), completion-only loss, trl's / unsloth's default
             padding-free and packing behaviour; non-padding tokens/s of step time, wall time
  seed-eval  the seed's eval on the 512 test prompts, left-padded batches, 3 greedy new tokens
  scaling    training tokens/s and peak memory at --scale-lens (scaling.sh; the protocol of
             scaling-protocol.mjs: the same batches, ids and LoRA settings as scaling-ours.mjs),
             gradient checkpointing on (unsloth's own); writes RESULTS/STACK-scaling-SHAPE.json
Every timed section is bracketed by torch.cuda.synchronize().

usage: python3 scripts/bench/anchor.py --stack unsloth|hf-nf4|hf-bf16 --phases train,eval,decode[,seed,seed-eval]
         --model DIR --inputs INPUTS.json --results DIR [--imdb DIR] [--device cuda|cpu] [--gc on,off]
         [--seed-steps 64] [--seed-batch 16] [--seed-eval-batch 32] [--max-seq-len 2048]
"""
from __future__ import annotations

import os

# Before anything imports huggingface_hub, unsloth or transformers: no network on the GPU machine,
# and unsloth's usage statistics would try one. Its compiled-kernel cache stays out of the repo.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("UNSLOTH_DISABLE_STATISTICS", "1")
os.environ.setdefault("UNSLOTH_COMPILE_LOCATION", "/tmp/nq-bench/unsloth_compiled_cache")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
import datetime
import gc
import importlib.metadata as metadata
import json
import sys
import time
import traceback
from pathlib import Path

STACKS = ("unsloth", "hf-nf4", "hf-bf16")
PHASES = ("train", "eval", "decode", "seed", "seed-eval", "scaling")


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stack", choices=STACKS, required=True)
    ap.add_argument("--phases", default="train,eval,decode")
    ap.add_argument("--model", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--imdb")
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    ap.add_argument("--gc", default="on,off", help="gradient checkpointing settings of the hf train phase")
    ap.add_argument("--seed-steps", type=int, default=64)
    ap.add_argument("--seed-batch", type=int, default=16)
    ap.add_argument("--seed-eval-batch", type=int, default=32)
    ap.add_argument("--max-seq-len", type=int, default=2048)
    ap.add_argument("--scale-lens", default="512,2048,8192,32768")
    ap.add_argument("--scale-steps", type=int, default=2)
    ap.add_argument("--shape", default="qwen3-4b", help="the scaling phase's shape name (its result file's name)")
    a = ap.parse_args()
    a.phases = a.phases.split(",")
    for p in a.phases:
        if p not in PHASES:
            ap.error(f"unknown phase {p!r}; phases are {', '.join(PHASES)}")
    if ({"seed", "seed-eval"} & set(a.phases)) and not a.imdb:
        ap.error("the seed phases need --imdb DIR (prompts-train.jsonl, prompts-test.jsonl from prepare-device.sh)")
    if a.stack == "unsloth" and a.device != "cuda":
        ap.error("unsloth runs on CUDA only; use --stack hf-bf16 to test on CPU")
    return a


A = parse_args()
if A.stack == "unsloth":
    import unsloth  # noqa: F401  first: it patches transformers, peft and trl as they are imported
    from unsloth import FastLanguageModel
import torch  # noqa: E402

CUDA = A.device == "cuda"
DEV = torch.device(A.device)
# bf16 on the GPU; fp32 on CPU, where the tiny-model test runs (as ours does on CPU).
DTYPE = torch.bfloat16 if CUDA else torch.float32
INPUTS = json.loads(Path(A.inputs).read_text()) if A.inputs != "-" else {"protocol": {}}
P = INPUTS["protocol"]
# scaling-protocol.mjs's numbers (scaling phase): tokens per step, LoRA, masked prefix, lr.
SCALING = {"loraR": 16, "loraAlpha": 32, "loraTargets": "q_proj,k_proj,v_proj", "masked": 64, "lr": 1e-4, "tokensPerStep": 8192, "seed": 3407}
if A.phases == ["scaling"]:
    P = SCALING
TARGETS = P["loraTargets"].split(",") if P else []


def sync() -> None:
    if CUDA:
        torch.cuda.synchronize()


def timed(fn) -> float:
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


def peak_gib() -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if CUDA else None


def reset_peak() -> None:
    if CUDA:
        torch.cuda.reset_peak_memory_stats()


def version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def emit(phase: str, body: dict) -> None:
    record = {
        "stack": A.stack, "phase": phase, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "device": torch.cuda.get_device_name(0) if CUDA else "cpu",
        # What this stack ran on (the unpacked wheel set also holds unsloth for the hf stacks).
        "versions": {n: version(n) for n in ("torch", "transformers", "peft", "bitsandbytes", "trl", "datasets")
                     + (("unsloth", "unsloth_zoo") if A.stack == "unsloth" else ())},
        "engine": {"device": A.device, "dtype": str(DTYPE).replace("torch.", ""), "quant": "none" if A.stack == "hf-bf16" else "nf4"},
        **body,
    }
    Path(A.results).mkdir(parents=True, exist_ok=True)
    (Path(A.results) / f"{A.stack}-{phase}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record), flush=True)


def release() -> None:
    """Returns the memory of models the caller has just deleted, before the next load."""
    gc.collect()
    if CUDA:
        torch.cuda.empty_cache()


def lora_config():
    from peft import LoraConfig
    return LoraConfig(r=P["loraR"], lora_alpha=P["loraAlpha"], lora_dropout=0.0, target_modules=TARGETS, bias="none", task_type="CAUSAL_LM")


def load(for_training: bool, grad_ckpt: bool):
    """(model with a fresh LoRA adapter, tokenizer) for this stack."""
    if A.stack == "unsloth":
        model, tok = FastLanguageModel.from_pretrained(model_name=A.model, max_seq_length=A.max_seq_len, dtype=DTYPE, load_in_4bit=True)
        model = FastLanguageModel.get_peft_model(
            model, r=P["loraR"], lora_alpha=P["loraAlpha"], lora_dropout=0, target_modules=TARGETS, bias="none",
            use_gradient_checkpointing="unsloth", random_state=P["seed"])
        return model, tok
    from peft import get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
    tok = AutoTokenizer.from_pretrained(A.model)
    if A.stack == "hf-nf4":
        bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=DTYPE)
        model = AutoModelForCausalLM.from_pretrained(A.model, quantization_config=bnb, dtype=DTYPE, device_map={"": DEV})
        if for_training:
            # The QLoRA recipe as peft documents it (norms and embeddings to fp32, input grads on).
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=grad_ckpt)
    else:
        model = AutoModelForCausalLM.from_pretrained(A.model, dtype=DTYPE).to(DEV)
        if for_training and grad_ckpt:
            model.gradient_checkpointing_enable()
            model.enable_input_require_grads()
    return get_peft_model(model, lora_config()), tok


def train_step(model, params, opt, ids, labels, losses: list):
    """One step as ours: forward with the loss, backward, clip at 1, AdamW; the loss kept in losses."""
    def step() -> None:
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.detach())
    return step


def train_phase() -> None:
    ids = torch.tensor(INPUTS["train"], device=DEV)
    labels = ids.clone()
    labels[:, : P["masked"]] = -100
    settings = ["unsloth"] if A.stack == "unsloth" else [s == "on" for s in A.gc.split(",")]
    rows = []
    for grad_ckpt in settings:
        model = opt = None
        try:
            model, _ = load(True, grad_ckpt is not False)
            model.train()
            params = [p for p in model.parameters() if p.requires_grad]
            opt = torch.optim.AdamW(params, lr=P["lr"], weight_decay=0.01)
            losses = []
            step = train_step(model, params, opt, ids, labels, losses)
            for _ in range(P["warmup"]):
                step()
            sync()
            reset_peak()
            seconds = timed(lambda: [step() for _ in range(P["steps"])])
            rows.append({"gradientCheckpointing": grad_ckpt, "tokensPerSecond": P["steps"] * P["batch"] * P["seq"] / seconds,
                         "peakGiB": peak_gib(), "secondsPerStep": seconds / P["steps"],
                         "losses": [float(x) for x in losses[P["warmup"]:]], "trainable": sum(p.numel() for p in params)})
        except torch.OutOfMemoryError as err:
            rows.append({"gradientCheckpointing": grad_ckpt, "error": f"OutOfMemoryError: {str(err).splitlines()[0]}"})
        del model, opt
        release()
    emit("train", {
        "protocol": {k: P[k] for k in ("batch", "seq", "masked", "warmup", "steps", "lr")} | {"lora": {"r": P["loraR"], "alpha": P["loraAlpha"], "targets": TARGETS}},
        "timing": f"{P['warmup']} untimed warm-up steps, then CUDA-synchronized wall time of {P['steps']} steps (forward, backward, clip, AdamW); tokens/s counts all B*T tokens; peak = max_memory_allocated over the timed steps",
        "rows": rows,
    })


def generator(model, tok):
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    def generate(prompts: list[list[int]], new_tokens: int, forced: bool) -> torch.Tensor:
        """Greedy; prompts left-padded to the longest."""
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), pad, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, p in enumerate(prompts):
            ids[i, width - len(p):] = torch.tensor(p)
            mask[i, width - len(p):] = 1
        with torch.inference_mode():
            out = model.generate(input_ids=ids.to(DEV), attention_mask=mask.to(DEV), max_new_tokens=new_tokens,
                                 min_new_tokens=new_tokens if forced else 0, do_sample=False, pad_token_id=pad)
        return out[:, width:].cpu()

    return generate


def inference_model():
    model, tok = load(False, False)
    if A.stack == "unsloth":
        FastLanguageModel.for_inference(model)
    model.eval()
    return model, tok


def eval_decode_phases(model, tok) -> None:
    gen = generator(model, tok)
    if "eval" in A.phases:
        n, b = P["evalNewTokens"], P["evalBatch"]
        gen([INPUTS["evalB1"][0]], n, True)
        reset_peak()
        b1 = timed(lambda: [gen([p], n, True) for p in INPUTS["evalB1"][1:]])
        batches = [INPUTS["evalBatched"][i:i + b] for i in range(0, len(INPUTS["evalBatched"]), b)]
        gen(batches[0], n, True)
        bn = timed(lambda: [gen(x, n, True) for x in batches[1:]])
        emit("eval", {
            "protocol": {"promptLen": P["evalPromptLen"], "newTokens": n, "b1Prompts": P["evalB1Prompts"], "batch": b, "batches": P["evalBatches"]},
            "timing": "1 warm-up call per batch size, then CUDA-synchronized wall time of the timed calls; new tokens forced (min = max)",
            "promptsPerSecondB1": P["evalB1Prompts"] / b1,
            "promptsPerSecondBatch": P["evalBatches"] * b / bn,
            "peakGiB": peak_gib(),
        })
    if "decode" in A.phases:
        n = P["decodeNewTokens"]
        gen([INPUTS["decode"]], n, True)
        runs = [timed(lambda: gen([INPUTS["decode"]], n, True)) for _ in range(P["decodeRuns"])]
        emit("decode", {
            "protocol": {"promptLen": P["decodePromptLen"], "newTokens": n, "runs": P["decodeRuns"]},
            "timing": "1 warm-up run, then the mean over the timed runs (prefill included, as a user sees it)",
            "tokensPerSecond": P["decodeRuns"] * n / sum(runs),
            "runSeconds": runs,
        })


def read_jsonl(path: Path) -> list[dict]:
    # Not splitlines(): it also splits at U+2028 and friends, which JSON leaves unescaped in strings.
    return [json.loads(line) for line in path.read_text().split("\n") if line.strip()]


def seed_phase(t_load: float):
    """The seed's SFTTrainer job; returns (model, tok) trained, for seed-eval."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    rows = read_jsonl(Path(A.imdb) / "prompts-train.jsonl")
    dataset = Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in rows])
    model, tok = load(True, True)

    class StepTimer(TrainerCallback):
        """CUDA-synchronized time of each optimizer step (forward, backward, optimizer)."""
        def __init__(self):
            self.seconds: list[float] = []
            self.t0 = 0.0

        def on_step_begin(self, args, state, control, **kw):
            sync()
            self.t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            sync()
            self.seconds.append(time.perf_counter() - self.t0)

    config = SFTConfig(
        output_dir=str(Path(A.results) / f"{A.stack}-seed-run"), per_device_train_batch_size=A.seed_batch,
        max_length=A.max_seq_len, learning_rate=2e-5, warmup_steps=100, lr_scheduler_type="linear", weight_decay=0.01,
        optim="adamw_torch", bf16=CUDA, max_steps=A.seed_steps, logging_steps=1, seed=3407, report_to="none",
        save_strategy="no", dataset_num_proc=1)
    timer = StepTimer()
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tok, callbacks=[timer])
    # Real (non-padding) tokens of every batch the trainer draws, in order: counted where the rows
    # are still unpadded, before the collator pads or packs them. trl's collators are called
    # through torch_call, which unsloth wraps the same way; the collator object itself stays,
    # since unsloth and trl read attributes of it (padding_free).
    drawn: list[int] = []
    collate = trainer.data_collator
    inner = collate.torch_call if hasattr(collate, "torch_call") else None

    def counting(features):
        drawn.append(sum(len(f["input_ids"]) for f in features))
        return inner(features) if inner else collate(features)

    if inner:
        collate.torch_call = counting
    else:
        trainer.data_collator = counting
    reset_peak()  # this process may have run the train phase before
    t0 = time.perf_counter()
    out = trainer.train()
    sync()
    train_seconds = time.perf_counter() - t0
    gas = trainer.args.gradient_accumulation_steps
    steps = len(timer.seconds)
    per_step = [sum(drawn[i * gas:(i + 1) * gas]) for i in range(steps)]
    w = P["warmup"]
    emit("seed", {
        "timing": f"non-padding tokens of the rows each step consumed over its CUDA-synchronized step time (callbacks on_step_begin..on_step_end), steps {w + 1}..{steps} (the first {w} are warm-up); wall = model load + dataset preparation + trainer.train(), imports excluded",
        "steps": steps,
        "rowsConsumed": steps * gas * A.seed_batch,
        "tokensPerSecond": sum(per_step[w:]) / sum(timer.seconds[w:]),
        "tokensPerSecondAllSteps": sum(per_step) / sum(timer.seconds),
        "trainTokens": sum(per_step),
        "stepSeconds": sum(timer.seconds),
        "trainSeconds": train_seconds,
        "wallSeconds": time.perf_counter() - t_load,
        "peakGiB": peak_gib(),
        "gradientAccumulationSteps": gas,
        "paddingFree": getattr(trainer.args, "padding_free", None),
        "packing": getattr(trainer.args, "packing", None),
        "completionOnlyLoss": getattr(trainer.args, "completion_only_loss", None),
        "collator": type(collate).__name__,
        "finalLoss": out.training_loss if hasattr(out, "training_loss") else None,
        "config": {"per_device_train_batch_size": A.seed_batch, "max_length": A.max_seq_len, "learning_rate": 2e-5, "warmup_steps": 100,
                   "lr_scheduler_type": "linear", "weight_decay": 0.01, "optim": "adamw_torch (the seed: adamw_8bit)", "bf16": CUDA,
                   "max_steps": A.seed_steps, "seed": 3407},
    })
    return model, tok


def seed_eval_phase(model, tok) -> None:
    """The seed's eval: 3 greedy new tokens (EOS may stop early, as sft eval), batches of prompts
    sorted longest first (as sft eval), left-padded; the label is the first 0/1 in the output."""
    if A.stack == "unsloth":
        FastLanguageModel.for_inference(model)
    model.eval()
    rows = read_jsonl(Path(A.imdb) / "prompts-test.jsonl")
    prompts = [tok(r["prompt"], add_special_tokens=False)["input_ids"] for r in rows]
    order = sorted(range(len(prompts)), key=lambda i: (-len(prompts[i]), i))
    gen = generator(model, tok)
    outputs: dict[int, str] = {}

    def run() -> None:
        for s in range(0, len(order), A.seed_eval_batch):
            idx = order[s:s + A.seed_eval_batch]
            new = gen([prompts[i] for i in idx], 3, False)
            for j, i in enumerate(idx):
                outputs[i] = tok.decode(new[j], skip_special_tokens=True)

    seconds = timed(run)
    answers = [next((c for c in outputs[i] if c in "01"), None) for i in range(len(rows))]
    emit("seed-eval", {
        "timing": "prompts / CUDA-synchronized seconds of the whole generation pass (no warm-up excluded, as sft eval)",
        "n": len(rows), "batch": A.seed_eval_batch,
        "promptsPerSecond": len(rows) / seconds, "generationSeconds": seconds,
        "acc": sum(a == r["completion"] for a, r in zip(answers, rows)) / len(rows),
        "resp_acc": sum(a is not None for a in answers) / len(rows),
    })


def scaling_batch(length: int) -> int:
    return max(1, SCALING["tokensPerStep"] // length)


def scaling_rows(length: int, vocab: int) -> list[list[int]]:
    """scaling-protocol.mjs's scalingRows: a 32-bit LCG seeded with the length."""
    state = length & 0xFFFFFFFF
    rows = []
    for _ in range(scaling_batch(length)):
        row = []
        for _ in range(length):
            state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
            row.append((state >> 8) % vocab)
        rows.append(row)
    return rows


def scaling_phase() -> None:
    """Training steps at each length on one model (checkpointing on), as scaling-ours.mjs."""
    model, _ = load(True, True)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=SCALING["lr"], weight_decay=0.01)
    vocab = model.config.vocab_size
    rows = []
    for length in [int(x) for x in A.scale_lens.split(",")]:
        ids = torch.tensor(scaling_rows(length, vocab), device=DEV)
        labels = ids.clone()
        labels[:, : SCALING["masked"]] = -100
        losses = []
        step = train_step(model, params, opt, ids, labels, losses)
        try:
            step()
            sync()
            reset_peak()
            seconds = timed(lambda: [step() for _ in range(A.scale_steps)])
            rows.append({"len": length, "batch": scaling_batch(length),
                         "tokensPerSecond": A.scale_steps * scaling_batch(length) * length / seconds,
                         "peakGiB": peak_gib(), "secondsPerStep": seconds / A.scale_steps, "losses": [float(x) for x in losses[1:]]})
        except torch.OutOfMemoryError as err:
            opt.zero_grad(set_to_none=True)
            rows.append({"len": length, "batch": scaling_batch(length), "error": f"OutOfMemoryError: {str(err).splitlines()[0]}"})
        del ids, labels
        release()
        print(json.dumps(rows[-1]), flush=True)
    record = {"stack": A.stack, "shape": A.shape, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
              "versions": {n: version(n) for n in ("torch", "transformers", "peft", "bitsandbytes", "unsloth")},
              "protocol": SCALING | {"steps": A.scale_steps, "warmup": 1}, "rows": rows}
    Path(A.results).mkdir(parents=True, exist_ok=True)
    (Path(A.results) / f"{A.stack}-scaling-{A.shape}.json").write_text(json.dumps(record, indent=1) + "\n")
    del model, opt


def run_phase(phase: str, t0: float) -> None:
    if phase == "scaling":
        scaling_phase()
    elif phase == "train":
        train_phase()
    elif phase in ("eval", "decode"):
        model, tok = inference_model()
        eval_decode_phases(model, tok)
        del model, tok
    elif phase == "seed":
        model, tok = seed_phase(t0)
        if "seed-eval" in A.phases:
            seed_eval_phase(model, tok)  # the adapter just trained, as the seed evaluates it
        del model, tok
    elif "seed" not in A.phases:
        model, tok = inference_model()  # a fresh adapter: same work per token as a trained one
        seed_eval_phase(model, tok)
        del model, tok


def main() -> int:
    failed = []
    for phase in [p for p in PHASES if p in A.phases]:
        if (phase == "decode" and "eval" in A.phases) or (phase == "seed-eval" and "seed" in A.phases):
            continue  # done together with eval / seed, on the same model
        t0 = time.perf_counter()
        try:
            run_phase(phase, t0)
        except Exception as err:  # one broken phase must not cost the others of a GPU call
            traceback.print_exc()
            emit(phase, {"error": f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"})
            failed.append(phase)
        release()
        print(f"anchor.py {A.stack}: {phase} took {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
