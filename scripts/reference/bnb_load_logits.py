"""Loads a bitsandbytes 4-bit checkpoint with transformers + bitsandbytes on CPU and prints,
as one JSON line, fp32 logits for the given token sequences. Used by the tests to show that
`sft quantize` output is what transformers + bitsandbytes load.

usage: python3 scripts/reference/bnb_load_logits.py DIR '[[1,2,3],[4,5]]'
"""
import json
import sys

import torch
import transformers

@torch.no_grad()
def main() -> None:
    model_dir, sequences = sys.argv[1], json.loads(sys.argv[2])
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, device_map="cpu").eval()
    # On AVX512-BF16 CPUs, bitsandbytes' Linear4bit repacks weights with bf16 scales at
    # inference (bitsandbytes/nn/modules.py); switch that off so its math is the exact dequant.
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False
    out = [model(torch.tensor([seq])).logits[0].float().tolist() for seq in sequences]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
