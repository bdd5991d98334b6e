#!/usr/bin/env bash
# Issue 12's scaling table (point 7), on the GPU machine: for each model shape, node-qlora and
# unsloth train at each sequence length (scaling-protocol.mjs: 8,192 tokens a step up to 8,192,
# then one row; LoRA r 16 on q, k, v; checkpointing on) on the same random checkpoint, one stack
# after the other; then scaling-table.mjs prints the table, the fit of peak memory against
# length and the longest context that fits 24 and 80 GiB.
#
# Here first: bash ../shared/device/pack.sh; bash scripts/bench/prepare-device.sh;
#             bash scripts/bench/fetch-anchor-wheels.sh
# There (each part one call or several; results accumulate in $NQ_BENCH_DIR/results while the
# machine stays warm, and each part leaves $OUT/nq-scaling-PART.tar.gz):
#   carry [".device", ".bench/inputs.tar.xz"]: source .device/gpu-env.sh; bash scripts/bench/scaling.sh ours [SHAPES]
#   carry [".bench"]:                          bash scripts/bench/scaling.sh unsloth [SHAPES]
# (the unsloth call needs the tokenizers: .bench/inputs.tar.xz and .bench/tokenizer-llama3.tar.xz)
# SHAPES: comma-separated (default llama-3.2-1b,qwen3-4b,qwen2-7b); NQ_SCALE_LENS overrides the
# lengths (default 512,2048,8192,32768), NQ_SCALE_STEPS the timed steps (default 2).
# Table, anywhere with node: node scripts/bench/scaling-table.mjs RESULTS_DIR
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
stack=${1:?usage: scaling.sh ours|unsloth [SHAPES]}
shapes=${2:-llama-3.2-1b,qwen3-4b,qwen2-7b}
lens=${NQ_SCALE_LENS:-512,2048,8192,32768}
steps=${NQ_SCALE_STEPS:-2}
device=${NQ_BENCH_DEVICE:-cuda}
bench=${NQ_BENCH_DIR:-/tmp/nq-bench}
results=$bench/results
mkdir -p "$results" "$bench/logs"
max_len=$(tr ',' '\n' <<< "$lens" | sort -n | tail -1)
t0=$(date +%s)

inputs() {  # the tokenizers (prepare-device.sh's tarballs), once per machine
  if [ ! -d "$bench/inputs/tokenizer" ]; then
    [ -s .bench/inputs.tar.xz ] || { echo "scaling.sh: carry .bench/inputs.tar.xz (prepare-device.sh)" >&2; return 1; }
    mkdir -p "$bench/inputs" && tar -xJf .bench/inputs.tar.xz -C "$bench/inputs" || return 1
  fi
  if [ ! -d "$bench/inputs/tokenizer-llama3" ] && [ -s .bench/tokenizer-llama3.tar.xz ]; then
    tar -xJf .bench/tokenizer-llama3.tar.xz -C "$bench/inputs" || return 1
  fi
}

# The shape's random checkpoint (a long max_position_embeddings: the long rows), made once; its
# tokenizer copied in when there is one (unsloth loads one; ours trains on ids and needs none).
checkpoint() {
  local shape=$1 dir=$bench/scaling-model-$1 tok=$bench/inputs/tokenizer
  [ "$shape" = llama-3.2-1b ] && tok=$bench/inputs/tokenizer-llama3
  if [ ! -f "$dir/config.json" ]; then
    python3 scripts/bench/make_random_checkpoint.py --shape "$shape" --out "$dir.tmp" --max-positions 262144 > /dev/null \
      && mv "$dir.tmp" "$dir" || return 1
  fi
  if [ ! -f "$dir/tokenizer.json" ] && [ -f "$tok/tokenizer.json" ]; then
    cp "$tok/tokenizer.json" "$tok/tokenizer_config.json" "$dir/" || return 1
  fi
  echo "$dir"
}

case $stack in
  ours)
    node scripts/build-native.mjs >> "$bench/logs/build.log" 2>&1 || { tail -30 "$bench/logs/build.log"; exit 1; }
    node node_modules/typescript/bin/tsc -p tsconfig.json && node scripts/build-cjs.mjs > /dev/null || exit 1 ;;
  unsloth)
    if [ ! -d "$bench/site/unsloth" ]; then
      [ -s .bench/anchor-site.tar.xz ] || { echo "scaling.sh: carry .bench (fetch-anchor-wheels.sh)" >&2; exit 1; }
      mkdir -p "$bench/site" && tar -xJf .bench/anchor-site.tar.xz -C "$bench/site"
    fi ;;
  *) echo "scaling.sh: unknown stack $stack (ours or unsloth)" >&2; exit 2 ;;
esac
inputs || exit 1

failed=()
for shape in ${shapes//,/ }; do
  echo "== [+$(( $(date +%s) - t0 ))s] scaling.sh $stack $shape: lengths $lens"
  model=$(checkpoint "$shape") || { failed+=("$shape"); continue; }
  if [ "$stack" = ours ]; then
    node scripts/bench/scaling-ours.mjs --model "$model" --shape "$shape" --lens "$lens" --steps "$steps" \
      --device "$device" --out "$results/ours-scaling-$shape.json" 2>&1 | tee -a "$bench/logs/scaling-ours.log"
  else
    PYTHONPATH="$bench/site${PYTHONPATH:+:$PYTHONPATH}" UNSLOTH_COMPILE_LOCATION="$bench/unsloth_compiled_cache" \
      python3 scripts/bench/anchor.py --stack unsloth --phases scaling --shape "$shape" --model "$model" --inputs - \
      --results "$results" --device "$device" --scale-lens "$lens" --scale-steps "$steps" --max-seq-len "$max_len" \
      2>&1 | tee -a "$bench/logs/scaling-unsloth.log"
  fi
  [ "${PIPESTATUS[0]}" = 0 ] || failed+=("$shape")
done
if [ -n "${OUT:-}" ]; then
  (cd "$bench" && tar -czf "$OUT/nq-scaling-$stack.tar.gz" $(ls results/"$stack"-scaling-*.json logs/scaling-"$stack".log 2>/dev/null))
fi
echo "== [+$(( $(date +%s) - t0 ))s] scaling.sh $stack done; failed: ${failed[*]:-none}"
[ ${#failed[@]} -eq 0 ]
