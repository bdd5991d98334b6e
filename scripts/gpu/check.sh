#!/usr/bin/env bash
# The GPU validation of the engine in one call (docs/gpu-validation.md records its results):
#  1. builds the addon and kernel_check; checks and times every CUDA kernel (kernel_check);
#  2. CUDA parity against transformers (cuda_reference.py + parity.mjs: fp32 and bf16 logits,
#     greedy tokens, batched == one at a time);
#  3. CUDA-graph decoding changes no token (decode-graph-check.mjs with and without graphs); the
#     4-bit decoding path with a LoRA adapter equals the CPU engine (nf4-lora-check.mjs);
#  4. LoRA training: the tiny fixture on CPU fp32 vs CUDA bf16, and the Qwen3-4B shape in NF4 at
#     16 x 512 tokens with and without checkpointing (train-step.mjs); batch-1 decode speed on it
#     (model-memory.mjs).
# Here first: bash ../shared/device/pack.sh; bash scripts/bench/prepare-device.sh
# There (carry [".device", ".bench/inputs.tar.xz"]): source .device/gpu-env.sh; bash scripts/gpu/check.sh
# Logs and JSON results go to $OUT (default /tmp/nq-check).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source scripts/gpu/prepare.sh

step "kernel_check"
if [ -x build/kernel_check ]; then
  ./build/kernel_check > "$out/kernel_check.log" 2>&1 || failed+=(kernel_check)
  tail -60 "$out/kernel_check.log"
fi

step "CUDA parity against transformers"
python3 scripts/reference/cuda_reference.py /tmp/nq-hf > "$out/cuda_reference.log" 2>&1 || { tail -20 "$out/cuda_reference.log"; failed+=(cuda_reference); }
node scripts/gpu/parity.mjs /tmp/nq-hf "$out/parity.json" 2>&1 | tail -30 || failed+=(parity)
[ "${PIPESTATUS[0]}" = 0 ] || failed+=(parity)

step "CUDA-graph decoding (overlapped launches on and off) vs eager"
NQ_CUDA_GRAPHS=0 node scripts/gpu/decode-graph-check.mjs > "$out/decode-eager.json" 2> "$out/decode-eager.err"
node scripts/gpu/decode-graph-check.mjs > "$out/decode-graph.json" 2> "$out/decode-graph.err"
NQ_PDL=0 node scripts/gpu/decode-graph-check.mjs > "$out/decode-graph-nopdl.json" 2> "$out/decode-graph-nopdl.err"
if [ -s "$out/decode-graph.json" ] && cmp -s "$out/decode-eager.json" "$out/decode-graph.json" \
  && cmp -s "$out/decode-eager.json" "$out/decode-graph-nopdl.json"; then
  echo "decode graphs: same tokens as eager, with and without overlapped launches ($(wc -c < "$out/decode-graph.json") bytes)"
else
  echo "decode graphs: DIFFER or failed"; tail -n 5 "$out"/decode-*.err; failed+=(decode-graph)
fi

step "NF4 + LoRA decoding on CUDA vs the CPU engine"
node scripts/gpu/nf4-lora-check.mjs "$out/nf4-lora.json" 2>&1 | tail -12
[ "${PIPESTATUS[0]}" = 0 ] || failed+=(nf4-lora)

step "LoRA training: tiny CPU vs CUDA, Qwen3-4B shape 16 x 512"
node scripts/bench/train-step.mjs "$model" "$out/train-step.json" 2>&1 | tail -8 || failed+=(train-step)

step "batch-1 decode on the Qwen3-4B shape"
node scripts/bench/model-memory.mjs "$model" 2>&1 | tail -8 || failed+=(model-memory)

step "done; failed: ${failed[*]:-none}"
[ ${#failed[@]} -eq 0 ]
