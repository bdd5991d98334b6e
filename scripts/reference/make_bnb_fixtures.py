#!/usr/bin/env python3
"""bitsandbytes 4-bit (NF4 / FP4) fixtures: quantizer vectors and 4-bit model checkpoints.

    python3 scripts/reference/make_bnb_fixtures.py [--out test/fixtures/bnb]

1. vectors.safetensors + vectors.json: inputs, the tensors bitsandbytes serializes for them
   (QuantState.as_dict(packed=True) names, prefixed "<id>.weight") and the reference dequantization.
   Every case is produced by our numpy reference (bnb_reference.py) and asserted byte-identical to
   bitsandbytes' CPU F.quantize_4bit; dequantization is compared with F.dequantize_4bit.
2. models/<name>: checkpoints written by transformers + bitsandbytes on CPU (BitsAndBytesConfig,
   save_pretrained), each with a float32 twin (<name>_twin) holding the reference dequantization and
   transformers' outputs on the twin (same format as test/fixtures/models/<case>/).

CPU only, no network, seeded. Needs torch, transformers, bitsandbytes, accelerate, safetensors.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bnb_reference as R  # noqa: E402

import bitsandbytes  # noqa: E402
import bitsandbytes.functional as BF  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TORCH_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

# id, quant type, blocksize, double quant, input dtype, shape, input kind
VECTOR_CASES = [
    ("nf4_dq_b64_f32_48x96", "nf4", 64, True, "float32", (48, 96), "normal"),
    ("nf4_dq_b64_bf16_48x96", "nf4", 64, True, "bfloat16", (48, 96), "normal"),
    ("nf4_b64_f16_33x64", "nf4", 64, False, "float16", (33, 64), "normal"),
    ("nf4_dq_b128_bf16_5x70", "nf4", 128, True, "bfloat16", (5, 70), "normal"),
    ("nf4_b128_f32_33x64", "nf4", 128, False, "float32", (33, 64), "normal"),
    ("nf4_b4096_f32_48x96", "nf4", 4096, False, "float32", (48, 96), "normal"),
    ("nf4_dq_b4096_f16_48x96", "nf4", 4096, True, "float16", (48, 96), "normal"),
    ("nf4_dq_b64_f32_300x64", "nf4", 64, True, "float32", (300, 64), "normal"),  # 300 absmax: 2 nested blocks
    ("nf4_dq_clustered_b64_f32_64x64", "nf4", 64, True, "float32", (64, 64), "clustered"),
    ("nf4_ties_b64_f32_4x64", "nf4", 64, False, "float32", (4, 64), "ties"),
    ("fp4_b64_f32_48x96", "fp4", 64, False, "float32", (48, 96), "normal"),
    ("fp4_dq_b64_bf16_33x64", "fp4", 64, True, "bfloat16", (33, 64), "normal"),
    ("fp4_b128_f16_48x96", "fp4", 128, False, "float16", (48, 96), "normal"),
    ("fp4_dq_b128_f32_5x70", "fp4", 128, True, "float32", (5, 70), "normal"),
    ("fp4_b4096_bf16_33x64", "fp4", 4096, False, "bfloat16", (33, 64), "normal"),  # one short block
    ("fp4_dq_b4096_f32_48x96", "fp4", 4096, True, "float32", (48, 96), "normal"),
    ("fp4_ties_b64_f32_4x64", "fp4", 64, False, "float32", (4, 64), "ties"),
]


def make_input(kind: str, qt: str, shape, dtype: str, rng: np.random.Generator) -> torch.Tensor:
    if kind == "normal":
        x = rng.standard_normal(shape).astype(np.float32) * np.float32(0.05)
        x.reshape(-1)[5] = 0.0  # an exact zero
        x.reshape(-1)[7] = np.float32(1e-4)  # below FP4's smallest midpoint
    elif kind == "clustered":
        # Block absmax values within 2e-5 (relative) of each other plus two symmetric outlier blocks: the centred absmax
        # is tiny where the dynamic map is finer than bnb's CPU 65536-bin table, so the nested codes
        # differ from exact-nearest rounding (asserted below).
        x = rng.standard_normal(shape).astype(np.float32)
        blocks = x.reshape(-1, 64)
        u = rng.random(blocks.shape[0]).astype(np.float32) * np.float32(2) - np.float32(1)
        target = (np.float32(0.05) * (np.float32(1) + u * np.float32(2e-5))).astype(np.float32)
        target[3], target[4] = np.float32(0.06), np.float32(0.04)
        blocks *= (target / np.abs(blocks).max(axis=1))[:, None]
        x = blocks.reshape(shape).astype(np.float32)
    else:
        # Every block holds 1.0 (so absmax = 1 and the scaling is exact) and each code midpoint
        # exactly, with both signs: pins the tie rule and the FP4 zero codes.
        mids, _ = R.sorted_code(R.code4(qt))
        vals = np.concatenate([[1.0, -1.0, 0.0, 1e-4, -1e-4], mids, -mids, np.nextafter(mids, 2), np.nextafter(mids, -2)])
        block = np.resize(vals.astype(np.float32), 64)
        block[0] = 1.0
        x = np.tile(block, int(np.prod(shape)) // 64).reshape(shape)
    return torch.from_numpy(x).to(TORCH_DTYPES[dtype])


def quant_state_json(qt: str, blocksize: int, dtype: str, shape, state: dict) -> bytes:
    """The JSON bitsandbytes packs into '.quant_state.bitsandbytes__<type>' (same key order)."""
    d = {"quant_type": qt, "blocksize": blocksize, "dtype": dtype, "shape": list(shape)}
    if state["double_quant"]:
        d.update(nested_blocksize=256, nested_dtype="float32", nested_offset=float(state["offset"]))
    return json.dumps(d).encode("utf-8")


def serialized(prefix: str, qt: str, blocksize: int, dtype: str, shape, state: dict) -> dict[str, np.ndarray]:
    out = {prefix: state["packed"], prefix + ".absmax": state["absmax"], prefix + ".quant_map": state["code"]}
    if state["double_quant"]:
        out[prefix + ".nested_absmax"] = state["nested_absmax"]
        out[prefix + ".nested_quant_map"] = state["nested_code"]
    out[f"{prefix}.quant_state.bitsandbytes__{qt}"] = np.frombuffer(
        quant_state_json(qt, blocksize, dtype, shape, state), np.uint8).copy()
    return out


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def to_bf16_tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(R.f32_to_bf16_bits(x).view(np.int16)).view(torch.bfloat16)


def cast_like(deq: np.ndarray, dtype: str) -> torch.Tensor:
    if dtype == "float32":
        return torch.from_numpy(deq)
    if dtype == "bfloat16":
        return to_bf16_tensor(deq)
    return torch.from_numpy(deq.astype(np.float16))  # numpy casts with round-to-nearest-even


def error_stats(x: np.ndarray, deq: np.ndarray) -> dict:
    err = deq.astype(np.float64) - x.astype(np.float64)
    return {
        "mean_abs_error": float(np.abs(err).mean()),
        "max_abs_error": float(np.abs(err).max()),
        "relative_rms_error": float(np.sqrt((err ** 2).sum() / (x.astype(np.float64) ** 2).sum())),
    }


def check_against_bnb(cid: str, x: torch.Tensor, qt: str, bs: int, dq: bool, state: dict, deq: np.ndarray) -> dict:
    """Asserts byte identity of everything bnb's CPU quantizer produces; reports dequant agreement."""
    packed, qs = BF.quantize_4bit(x, blocksize=bs, compress_statistics=dq, quant_type=qt)
    bnb = {k: v.numpy() for k, v in qs.as_dict(packed=True).items()}
    ours = serialized("w", qt, bs, str(x.dtype).removeprefix("torch."), tuple(x.shape), state)
    assert same_bits(packed.numpy(), ours["w"]), f"{cid}: packed weight differs from bnb"
    assert set("w." + k for k in bnb) == set(ours) - {"w"}, (cid, sorted(bnb), sorted(ours))
    for k, v in bnb.items():
        assert same_bits(v, ours["w." + k]), f"{cid}: {k} differs from bnb"
    if dq:
        assert float(qs.offset) == float(state["offset"]), cid
    # Dequantization: bnb's public call (output in the input dtype) and the float32 kernel.
    absmax_bnb = (BF.dequantize_blockwise(qs.absmax, qs.state2) + qs.offset).float() if dq else qs.absmax
    assert same_bits(absmax_bnb.numpy(), R.absmax_float(state)), f"{cid}: absmax dequantization differs"
    from bitsandbytes.backends.default.ops import _dequantize_4bit_compute
    code = torch.from_numpy(state["code"])
    default32 = _dequantize_4bit_compute(packed.reshape(-1), absmax_bnb, code, bs, tuple(x.shape), torch.float32)
    assert same_bits(default32.numpy(), deq), f"{cid}: bnb default-backend dequantization differs"
    native32 = torch.ops.bitsandbytes.dequantize_4bit.default(packed, absmax_bnb, bs, qt, tuple(x.shape), torch.float32)
    public = BF.dequantize_4bit(packed, qs)
    ours_cast = cast_like(deq, str(x.dtype).removeprefix("torch."))
    near_nested = int((state["q8_nearest"] != state["absmax"]).sum()) if dq else 0
    return {
        # == compares -0.0 and +0.0 equal (bnb's native FP4 kernel returns -0.0 for code 0b1000).
        "bnb_cpu_dequantize_4bit_equal": bool(torch.equal(public.float(), ours_cast.float())),
        "bnb_cpu_dequantize_4bit_f32_bit_identical": same_bits(native32.numpy(), deq),
        "bnb_default_backend_dequantize_bit_identical": True,
        "nested_codes_differing_from_exact_nearest": near_nested,
    }


def make_vectors(out: Path) -> list[dict]:
    rng = np.random.default_rng(20240611)
    tensors: dict[str, torch.Tensor] = {}
    listing = []
    for cid, qt, bs, dq, dtype, shape, kind in VECTOR_CASES:
        x = make_input(kind, qt, shape, dtype, rng)
        xf = x.float().numpy()
        state = R.quantize_4bit(xf, qt, bs, dq)
        deq = R.dequantize_4bit(state["packed"], R.absmax_float(state), state["code"], bs, shape)
        checks = check_against_bnb(cid, x, qt, bs, dq, state, deq)
        tensors[f"{cid}.input"] = x.contiguous()
        for k, v in serialized(f"{cid}.weight", qt, bs, dtype, shape, state).items():
            tensors[k] = torch.from_numpy(np.ascontiguousarray(v))
        tensors[f"{cid}.dequant_f32"] = torch.from_numpy(deq)
        tensors[f"{cid}.dequant_bf16"] = to_bf16_tensor(deq)
        if kind == "clustered":
            assert checks["nested_codes_differing_from_exact_nearest"] > 0, cid
        entry = {"id": cid, "type": qt, "blocksize": bs, "double_quant": dq, "dtype": dtype, "shape": list(shape),
                 "input": kind, "numel": int(np.prod(shape)), "blocks": int(state["absmax_f32"].size),
                 **error_stats(xf, deq), "bnb_cpu": checks}
        if dq:
            entry["nested_offset"] = float(state["offset"])
            entry["absmax_max_abs_error_from_double_quant"] = float(np.abs(R.absmax_float(state) - state["absmax_f32"]).max())
        listing.append(entry)
    save_file(tensors, out / "vectors.safetensors", metadata={"format": "pt"})
    meta = {
        "bitsandbytes_version": bitsandbytes.__version__, "torch_version": torch.__version__,
        "notes": [
            "<id>.weight* are the tensors bitsandbytes' QuantState.as_dict(packed=True) gives, as a Linear4bit "
            "state dict names them; byte-identical to bitsandbytes' CPU F.quantize_4bit (asserted).",
            "dequant_f32 = quant_map[q] * absmax (double quant: absmax = dynamic_map[q8] * nested_absmax + "
            "nested_offset, two float32 roundings) in float32; dequant_bf16 = dequant_f32 rounded to nearest even.",
            "Errors are against the input (upcast to float32): mean |d - x|, max |d - x|, sqrt(sum (d-x)^2 / sum x^2).",
            "bnb_cpu.bnb_cpu_dequantize_4bit_f32_bit_identical false: bitsandbytes' native CPU dequantize_4bit "
            "(AVX-512 path) disagrees with the flat block layout when blocks straddle rows, and returns -0.0 for "
            "FP4 code 8; see README.md.",
        ],
        "cases": listing,
    }
    (out / "vectors.json").write_text(json.dumps(meta, indent=1) + "\n")
    (out / "vectors.safetensors").chmod(0o644)  # safetensors creates files 0600
    return listing


# ----------------------------------------------------------------------------- models

MODEL_CASES = [
    # name, source case, quant type, double quant, load dtype, skip modules
    ("llama_nf4", "llama", "nf4", True, torch.float32, None),
    ("qwen3_fp4", "qwen3", "fp4", False, torch.float32, None),
    ("llama_dynamic", "llama", "nf4", True, torch.bfloat16,
     ["lm_head", "model.layers.1.mlp.down_proj", "model.layers.0.self_attn.o_proj"]),
]


def read_all(path: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(path), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def quantized_names(sd: dict) -> list[str]:
    return sorted(k.rsplit(".quant_state.", 1)[0] for k in sd if ".quant_state.bitsandbytes__" in k)


def reference_state_from_file(sd: dict, name: str) -> tuple[dict, dict]:
    key = next(k for k in sd if k.startswith(name + ".quant_state.bitsandbytes__"))
    meta = json.loads(bytes(sd[key].numpy().tobytes()).decode("utf-8"))
    state = {"packed": sd[name].numpy(), "code": sd[name + ".quant_map"].numpy(),
             "absmax": sd[name + ".absmax"].numpy(), "double_quant": "nested_absmax" in meta or name + ".nested_absmax" in sd}
    if state["double_quant"]:
        state.update(nested_absmax=sd[name + ".nested_absmax"].numpy(), nested_code=sd[name + ".nested_quant_map"].numpy(),
                     nested_blocksize=meta["nested_blocksize"], offset=np.float32(meta["nested_offset"]))
    return state, meta


def make_model(name: str, source: str, qt: str, dq: bool, load_dtype, skip, root: Path) -> dict:
    import transformers
    from fixtures_cases import cases
    from make_fixtures import Mismatch, compute_reference, dump_json, write_reference

    case = next(c for c in cases() if c.name == source) if callable(cases) else next(c for c in cases if c.name == source)
    src = ROOT / "test/fixtures/models" / source
    out, twin = root / name, root / f"{name}_twin"
    for d in (out, twin):
        shutil.rmtree(d, ignore_errors=True)
    cls = getattr(transformers, case.model_class)
    qcfg = transformers.BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type=qt, bnb_4bit_use_double_quant=dq,
        bnb_4bit_compute_dtype=torch.float32, llm_int8_skip_modules=skip)
    qmodel = cls.from_pretrained(src, quantization_config=qcfg, dtype=load_dtype, attn_implementation="eager").eval()
    qmodel.save_pretrained(out)
    config = json.loads((out / "config.json").read_text())
    assert config["quantization_config"]["bnb_4bit_quant_type"] == qt
    if skip:
        assert config["quantization_config"]["llm_int8_skip_modules"] == skip, config["quantization_config"]

    # Our reference on the original weights (cast to the load dtype) must give the same bytes.
    sd = read_all(out / "model.safetensors")
    original = read_all(src / "model.safetensors")
    names = quantized_names(sd)
    assert names, "nothing was quantized"
    for wname in names:
        w = original[wname].to(load_dtype)
        state = R.quantize_4bit(w.float().numpy(), qt, 64, dq)
        ours = serialized(wname, qt, 64, str(load_dtype).removeprefix("torch."), tuple(w.shape), state)
        for k, v in ours.items():
            assert same_bits(sd[k].numpy(), v), f"{name}: {k} differs from transformers+bitsandbytes"
    kept = sorted(k for k in sd if k.endswith(".weight") and k not in names and sd[k].dtype != torch.uint8)

    # Twin: every 4-bit weight replaced by the reference float32 dequantization.
    twin_sd = {}
    for k, v in sd.items():
        base = next((n for n in names if k == n or k.startswith(n + ".")), None)
        if base is None:
            twin_sd[k] = v.float().contiguous()
        elif k == base:
            state, meta = reference_state_from_file(sd, base)
            deq = R.dequantize_4bit(state["packed"], R.absmax_float(state), state["code"], meta["blocksize"], meta["shape"])
            twin_sd[k] = torch.from_numpy(deq)
    twin.mkdir(parents=True)
    save_file(twin_sd, twin / "model.safetensors", metadata={"format": "pt"})
    tcfg = dict(config)
    tcfg.pop("quantization_config")
    tcfg["dtype"] = "float32"
    tcfg.pop("torch_dtype", None)
    (twin / "config.json").write_text(json.dumps(tcfg, indent=2, sort_keys=True) + "\n")
    shutil.copy(out / "generation_config.json", twin / "generation_config.json")

    model = cls.from_pretrained(twin, dtype=torch.float32, attn_implementation="eager").eval()
    model.generation_config.eos_token_id = None
    loaded = model.state_dict()
    for k, v in twin_sd.items():
        if k in loaded:
            assert torch.equal(loaded[k], v), k
    with torch.no_grad():
        try:
            reference, tensors = compute_reference(case, model, 0)
        except Mismatch as e:
            raise SystemExit(f"{name}: twin reference rejected: {e}")
    reference["case"] = f"{name}_twin"
    reference["saved_dtype"] = "float32"
    reference["features"] = [f"float32 twin of ../{name}: every 4-bit weight is the reference dequantization "
                             f"(quant_map[q] * absmax, float32) of the stored {qt} weight"] + (
        [f"kept 16-bit in ../{name}, copied (upcast to float32): {', '.join(kept)}"] if skip else [])
    write_reference(twin, reference, tensors)

    # transformers + bitsandbytes on the 4-bit model (CPU): extra information.
    # On CPUs with AVX512-BF16, Linear4bit.forward (bitsandbytes/nn/modules.py) repacks the weight for its
    # CPU gemm with bfloat16 scales in inference mode: logits drift by ~1e-1. With that switched off bnb
    # dequantizes (F.dequantize_4bit) and multiplies in float32.
    bnb_tensors, diffs, diffs_packed = {}, [], []
    for packed_cpu in (False, True):
        qmodel = cls.from_pretrained(out, dtype=load_dtype, attn_implementation="eager").eval()
        for module in qmodel.modules():
            if isinstance(module, bitsandbytes.nn.Linear4bit) and not packed_cpu:
                module.support_avx512bf16_for_cpu = False
        with torch.no_grad():
            for i, seq in enumerate(reference["sequences"]):
                logits = qmodel(torch.tensor([seq])).logits[0].float().contiguous()
                diff = (logits - tensors[f"logits.{i}"]).abs().max().item()
                if packed_cpu:
                    diffs_packed.append(diff)
                else:
                    bnb_tensors[f"bnb_logits.{i}"] = logits
                    diffs.append(diff)
    save_file(bnb_tensors, out / "reference.safetensors", metadata={"format": "pt"})
    info = {
        "case": name, "source": f"test/fixtures/models/{source}", "twin": f"{name}_twin",
        "quant_type": qt, "double_quant": dq, "blocksize": 64, "load_dtype": str(load_dtype).removeprefix("torch."),
        "compute_dtype": "float32", "skip_modules": skip, "quantized_weights": names, "unquantized_weights": kept,
        "sequences": reference["sequences"],
        "bnb_logits_vs_twin_max_abs_diff": diffs,
        "bnb_cpu_packed_logits_vs_twin_max_abs_diff": diffs_packed,
        "notes": [
            "Written by transformers.from_pretrained(source, quantization_config=BitsAndBytesConfig(...)) on CPU, "
            "then save_pretrained. Every quantized tensor was asserted byte-identical to our numpy reference "
            "quantizing the source weight (cast to load_dtype).",
            "reference.safetensors: bnb_logits.<i> = transformers + bitsandbytes (CPU) logits of sequence i on this "
            "4-bit model (load_dtype weights for the kept modules), float32, with Linear4bit.support_avx512bf16_for_cpu "
            "= False so bnb dequantizes and multiplies in float32; information only, the engine checks against the twin.",
            "llama_dynamic is loaded in bfloat16: bnb dequantizes to the quant_state dtype (bfloat16) and the kept "
            "modules run in bfloat16, so its bnb_logits differ from the float32 twin; llama_nf4 / qwen3_fp4 match exactly.",
            "bnb_cpu_packed_logits_vs_twin_max_abs_diff: the same with bnb's default CPU inference path on an AVX512-BF16 "
            "machine (weight repacked with bfloat16 scales by _convert_weight_packed_for_cpu): visibly less exact.",
        ],
    }
    (out / "reference.json").write_text(dump_json(info))
    for d in (out, twin):
        for p in d.iterdir():
            p.chmod(0o644)
    return info


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "test/fixtures/bnb"))
    ap.add_argument("--skip-models", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    listing = make_vectors(out)
    for c in listing:
        print(f"{c['id']:28s} rel_rms={c['relative_rms_error']:.4f} max={c['max_abs_error']:.4g} bnb={c['bnb_cpu']}")
    if not args.skip_models:
        models = out / "models"
        models.mkdir(exist_ok=True)
        for spec in MODEL_CASES:
            info = make_model(*spec, models)
            print(info["case"], "bnb vs twin", ["%.3g" % d for d in info["bnb_logits_vs_twin_max_abs_diff"]])


if __name__ == "__main__":
    main()
