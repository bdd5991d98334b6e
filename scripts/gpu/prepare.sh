#!/usr/bin/env bash
# Sourced by the GPU scripts (check.sh, profile.sh): builds the addon, dist/ and kernel_check, and
# makes the Qwen3-4B-shaped random checkpoint from .bench/inputs.tar.xz once per machine.
# Sets: out (logs, $OUT), bench, model; appends to failed[]; defines step().
out=${OUT:-/tmp/nq-check}
bench=${NQ_BENCH_DIR:-/tmp/nq-bench}
model=$bench/model-qwen3-4b
mkdir -p "$out" "$bench"
t0=$(date +%s)
step() { echo "== [+$(( $(date +%s) - t0 ))s] $*"; }
failed=()

step "build: addon, dist, kernel_check"
node scripts/build-native.mjs > "$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
node node_modules/typescript/bin/tsc -p tsconfig.json && node scripts/build-cjs.mjs > /dev/null || exit 1
cmake --build build --target kernel_check -j"$(nproc)" >> "$out/build.log" 2>&1 || { tail -40 "$out/build.log"; failed+=(kernel_check-build); }

step "inputs and the Qwen3-4B-shaped checkpoint"
if [ ! -f "$model/config.json" ]; then
  mkdir -p "$bench/inputs" && tar -xJf .bench/inputs.tar.xz -C "$bench/inputs" \
    && python3 scripts/bench/make_random_checkpoint.py --shape qwen3-4b --out "$model.tmp" --tokenizer-dir "$bench/inputs/tokenizer" > /dev/null \
    && mv "$model.tmp" "$model" || failed+=(checkpoint)
fi
