"""transformers on CUDA for every fixture case: per-sequence logits in bfloat16 (eager
attention, as the seed experiments computed) and bf16 greedy continuations of the fixture's
single-prompt cases. scripts/gpu/parity.mjs compares the engine's CUDA output against these
and against the fp32 CPU reference committed in test/fixtures/models.

usage: python3 scripts/reference/cuda_reference.py OUT_DIR [--fixtures test/fixtures/models]
writes OUT_DIR/<case>.safetensors (logits.<i>, float32 copies of the bf16 logits) and
OUT_DIR/<case>.json (greedy outputs, versions).
"""
import argparse
import json
from pathlib import Path

import torch
import transformers
from safetensors.torch import save_file


def load(case_dir: Path, dtype):
    config = json.loads((case_dir / "config.json").read_text())
    cls = getattr(transformers, config["architectures"][0])
    model = cls.from_pretrained(case_dir, dtype=dtype, attn_implementation="eager").to("cuda").eval()
    model.generation_config.eos_token_id = None
    return model


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--fixtures", default="test/fixtures/models")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for case_dir in sorted(p for p in Path(args.fixtures).iterdir() if (p / "reference.json").exists()):
        ref = json.loads((case_dir / "reference.json").read_text())
        model = load(case_dir, torch.bfloat16)
        tensors = {}
        for i, seq in enumerate(ref["sequences"]):
            ids = torch.tensor([seq], device="cuda")
            tensors[f"logits.{i}"] = model(ids).logits[0].float().cpu().contiguous()
        greedy = []
        for g in ref["greedy"]:
            ids = torch.tensor([g["prompt"]], device="cuda")
            eos = g["eos_token_id"]
            new = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                 max_new_tokens=g["max_new_tokens"], min_new_tokens=g["min_new_tokens"],
                                 eos_token_id=eos, pad_token_id=0)[0, ids.shape[1]:].tolist()
            greedy.append(new)
        save_file(tensors, out / f"{case_dir.name}.safetensors")
        (out / f"{case_dir.name}.json").write_text(json.dumps({
            "transformers_version": transformers.__version__, "torch_version": torch.__version__,
            "device": torch.cuda.get_device_name(), "greedy_bf16": greedy}))
        print(f"{case_dir.name}: {len(tensors)} logits, {len(greedy)} greedy runs")
        del model
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
