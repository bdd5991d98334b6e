"""Rewrites applied to saved fixture checkpoints so they look like real Hub checkpoints."""

import json
import shutil
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import save_file


def gemma3_text_to_hub_spelling(out_dir: Path, config) -> dict:
    """Rewrite config.json the way google/gemma-3-1b-it spells it (pre-transformers-5 keys).

    transformers 5 writes rope_parameters (nested per layer type), layer_types and dtype; Hub configs
    carry rope_theta/rope_scaling (full layers), rope_local_base_freq (sliding layers),
    sliding_window_pattern and torch_dtype instead.
    """
    path = out_dir / "config.json"
    cfg = json.loads(path.read_text())
    rope = cfg.pop("rope_parameters")
    full, local = rope["full_attention"], rope["sliding_attention"]
    assert local["rope_type"] == "default", local
    cfg["rope_theta"] = full["rope_theta"]
    cfg["rope_local_base_freq"] = local["rope_theta"]
    scaling = {k: v for k, v in full.items() if k != "rope_theta"}
    cfg["rope_scaling"] = None if scaling.get("rope_type") == "default" else scaling
    layer_types = cfg.pop("layer_types")
    pattern = _pattern_of(layer_types)
    cfg["sliding_window_pattern"] = pattern
    cfg["torch_dtype"] = cfg.pop("dtype")
    # transformers 5 serializes its private default (6) next to the real pattern; Hub files have no such key.
    cfg.pop("_sliding_window_pattern", None)
    path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    return {"sliding_window_pattern": pattern, "layer_types_implied": layer_types}


def _pattern_of(layer_types: list[str]) -> int:
    # transformers' rule (configuration_gemma3.py): layer i is full iff (i + 1) % pattern == 0
    for pattern in range(1, len(layer_types) + 2):
        implied = ["sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(len(layer_types))]
        if implied == layer_types:
            return pattern
    raise ValueError(f"layer_types {layer_types} do not follow a sliding_window_pattern")


LEGACY_RENAMES = [
    ("model.language_model.", "language_model.model."),
    ("lm_head.", "language_model.lm_head."),
    ("model.vision_tower.", "vision_tower."),
    ("model.multi_modal_projector.", "multi_modal_projector."),
]


def write_gemma3_legacy(src: Path, dst: Path) -> dict[str, str]:
    """Copy a transformers-5 Gemma3ForConditionalGeneration checkpoint with the 4.x tensor names."""
    dst.mkdir(parents=True, exist_ok=True)
    files = sorted(src.glob("*.safetensors"))
    files = [f for f in files if f.name != "reference.safetensors"]
    assert len(files) == 1, files
    renamed: dict[str, str] = {}
    tensors = {}
    with safe_open(files[0], "pt") as f:
        metadata = f.metadata() or {}
        for name in f.keys():
            new = name
            for old_prefix, new_prefix in LEGACY_RENAMES:
                if name.startswith(old_prefix):
                    new = new_prefix + name[len(old_prefix):]
                    break
            assert new != name, f"no legacy rename for {name}"
            renamed[name] = new
            tensors[new] = f.get_tensor(name)
    metadata.setdefault("format", "pt")
    save_file(tensors, dst / "model.safetensors", metadata=metadata)
    for name in ("config.json", "generation_config.json"):
        shutil.copy(src / name, dst / name)
    return renamed
