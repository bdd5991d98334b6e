#!/usr/bin/env bash
# Where the GPU time goes (docs/perf-notes.md): kernel_check, then the torch-profiler summaries of
# one training step, one eval call and one batch-1 decode (profile.mjs) on the Qwen3-4B shape.
# Here first: bash ../shared/device/pack.sh; bash scripts/bench/prepare-device.sh
# There (carry [".device", ".bench/inputs.tar.xz"]): source .device/gpu-env.sh; bash scripts/gpu/profile.sh
# Summaries go to $OUT; the traces (hundreds of MB) stay in /tmp/nq-traces.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source scripts/gpu/prepare.sh

step "kernel_check (timings)"
[ -x build/kernel_check ] && { ./build/kernel_check > "$out/kernel_check.log" 2>&1 || failed+=(kernel_check); grep -iE "GB/s|copy|bandwidth|FAIL" "$out/kernel_check.log" | head -40; }

step "profile: train, eval, decode"
node scripts/gpu/profile.mjs --model "$model" --inputs "$bench/inputs/inputs.json" --out "$out" --traces /tmp/nq-traces ${NQ_PROFILE_PHASES:+--phases $NQ_PROFILE_PHASES} 2>&1 | tail -150 || failed+=(profile)
step "done; failed: ${failed[*]:-none}"
[ ${#failed[@]} -eq 0 ]
