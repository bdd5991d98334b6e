"""LoRA fixture cases: which tiny base (test/fixtures/models/<name>) and which peft LoraConfig."""

from dataclasses import dataclass

# Shared by every case: peft LoraConfig and the training step the engine must reproduce.
RANK = 4
ALPHA = 8
DROPOUT = 0.0
B_INIT_STD = 0.05  # lora_B re-initialized N(0, 0.05) so lora_A gets non-zero gradients
MAX_GRAD_NORM = 0.5
ADAMW = {"lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01}
PAD_ID = 0
IGNORE_INDEX = -100
# (length, prompt tokens masked with -100) per sequence; right-padded to the longest.
SEQUENCES = [(13, 4), (8, 3), (20, 6)]
SEED = 1234


@dataclass(frozen=True)
class LoraCase:
    name: str
    targets: tuple[str, ...]
    freeze_first: int  # layers 0..freeze_first-1 get no adapter ("freeze first N layers" recipe)
    use_rslora: bool = False


CASES = [
    LoraCase("llama", ("q_proj", "k_proj", "v_proj"), freeze_first=1),
    LoraCase("qwen3", ("q_proj", "k_proj", "v_proj"), freeze_first=1),
    LoraCase("gemma3_text", ("q_proj", "k_proj", "v_proj"), freeze_first=0),
    LoraCase("mistral", ("q_proj", "k_proj", "v_proj"), freeze_first=0, use_rslora=True),
    LoraCase("phi3", ("qkv_proj",), freeze_first=1),
]
