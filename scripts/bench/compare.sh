#!/usr/bin/env bash
# The side-by-side benchmark of issue 12, on the GPU machine: node-qlora, unsloth, transformers +
# peft + bitsandbytes and transformers + peft (bf16) one after the other on the same random
# Qwen3-4B-shaped checkpoint and the same inputs, then the tables and docs/bench/latest.json.
#
# Here first:  bash scripts/bench/fetch-anchor-wheels.sh; bash ../shared/device/pack.sh;
#              bash scripts/bench/prepare-device.sh (checks each call fits the 64 MiB a call carries)
# There, one part or a few per call (a call may run 10 minutes; parts in order: ours unsloth
# hf-nf4 hf-bf16 collect; default all):
#   carry [".device", ".bench/inputs.tar.xz"]:  source .device/gpu-env.sh; bash scripts/bench/compare.sh ours
#   carry [".bench"]:                           bash scripts/bench/compare.sh unsloth
#   carry [".bench"]:                           bash scripts/bench/compare.sh hf-nf4 hf-bf16
# A part may name phases, STACK:PHASE,... (train eval decode seed seed-eval), to split a stack
# over calls, e.g. `compare.sh unsloth:train,eval,decode` then `compare.sh unsloth:seed,seed-eval`.
# The Python parts need no node. Results accumulate in $NQ_BENCH_DIR/results (default
# /tmp/nq-bench, kept while the machine stays warm); with $OUT set, each part also leaves its
# results and log as $OUT/nq-bench-PART.tar.gz. Collect anywhere with node: here, after
# unpacking those tarballs into DIR, `node scripts/bench/collect.mjs DIR/results` (writes
# docs/bench/latest.json), or there as the part `collect`. Every part prints how long it took.
#
# Test settings (CPU, tiny model): NQ_BENCH_DEVICE=cpu NQ_BENCH_SHAPE=qwen3-tiny
# NQ_BENCH_INPUTS=FILE (a smaller protocol from make-inputs.mjs) NQ_BENCH_SEED_FLAGS="--seed-steps 3 --seed-batch 2"
# NQ_BENCH_LATEST=/tmp/latest.json (instead of docs/bench/latest.json).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1  # the project root (the GPU machine's copy has no .git)
all_args="$*"
bench=${NQ_BENCH_DIR:-/tmp/nq-bench}
device=${NQ_BENCH_DEVICE:-cuda}
shape=${NQ_BENCH_SHAPE:-qwen3-4b}
results=$bench/results
latest=${NQ_BENCH_LATEST:-docs/bench/latest.json}
model=$bench/model-$shape
inputs=${NQ_BENCH_INPUTS:-$bench/inputs/inputs.json}
read -r -a seed_flags <<< "${NQ_BENCH_SEED_FLAGS:-}"
mkdir -p "$results" "$bench/logs"
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(ours unsloth hf-nf4 hf-bf16 collect)
for part in "${parts[@]}"; do
  case ${part%%:*} in ours|unsloth|hf-nf4|hf-bf16|collect) ;; *) echo "compare.sh: unknown part $part; parts are ours unsloth hf-nf4 hf-bf16 collect, a stack optionally as STACK:PHASE,PHASE" >&2; exit 2 ;; esac
done
if [ "$device" = cuda ]; then
  export NQ_BENCH_DEVICE_NAME
  NQ_BENCH_DEVICE_NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
fi

need() { [ -s "$1" ] || { echo "compare.sh: $1 is missing; $2" >&2; exit 1; }; }

# Inputs (tokenizer, IMDB sample, synthetic inputs) and the checkpoint: made once per machine.
prepare_inputs() {
  need .bench/inputs.tar.xz "run bash scripts/bench/prepare-device.sh here and carry .bench (or .bench/inputs.tar.xz)"
  local sum
  sum=$(md5sum < .bench/inputs.tar.xz)
  if [ "$sum" != "$(cat "$bench/inputs/.tarball-md5" 2>/dev/null)" ]; then  # a warm machine may hold older inputs
    rm -rf "$bench/inputs" && mkdir -p "$bench/inputs" && tar -xJf .bench/inputs.tar.xz -C "$bench/inputs" \
      && echo "$sum" > "$bench/inputs/.tarball-md5" || return 1
  fi
  if [ ! -f "$model/config.json" ]; then
    python3 scripts/bench/make_random_checkpoint.py --shape "$shape" --out "$model.tmp" --tokenizer-dir "$bench/inputs/tokenizer" \
      && mv "$model.tmp" "$model"
  fi
}

# node-qlora: the addon and dist/ from this working tree. On the GPU machine always (both builds
# are incremental, and a warm machine may hold builds of an older tree); elsewhere only when
# missing, since a shared checkout is built by its own engineers.
build_ours() {
  if [ "$device" = cuda ] || [ ! -f build/Release/node_qlora.node ]; then
    node scripts/build-native.mjs >> "$bench/logs/build.log" 2>&1 || { tail -30 "$bench/logs/build.log"; return 1; }
  fi
  if [ "$device" = cuda ] || [ ! -f dist/cli/bin.js ]; then
    # npm run build:ts, without npm (the GPU machine has only the node binary)
    node node_modules/typescript/bin/tsc -p tsconfig.json && node scripts/build-cjs.mjs || return 1
  fi
}

# The Python stacks' wheels, unpacked once (fetch-anchor-wheels.sh).
anchor_site() {
  if [ ! -d "$bench/site/unsloth" ]; then
    need .bench/anchor-site.tar.xz "run bash scripts/bench/fetch-anchor-wheels.sh here and carry .bench"
    mkdir -p "$bench/site" && tar -xJf .bench/anchor-site.tar.xz -C "$bench/site"
  fi
}

common=(--model "$model" --inputs "$inputs" --results "$results" --imdb "$bench/inputs/imdb" --device "$device")
anchor() {
  anchor_site || return 1
  PYTHONPATH="$bench/site${PYTHONPATH:+:$PYTHONPATH}" UNSLOTH_COMPILE_LOCATION="$bench/unsloth_compiled_cache" \
    python3 scripts/bench/anchor.py --stack "$1" --phases "$2" "${common[@]}" "${seed_flags[@]}"
}

# A part is a stack with its default phases, or STACK:PHASE,PHASE (e.g. unsloth:seed,seed-eval)
# when a stack must be split over two calls.
run_part() {
  local phases=
  [[ $1 == *:* ]] && phases=${1#*:}
  case ${1%%:*} in
    ours) build_ours && node scripts/bench/ours.mjs "${common[@]}" --phases "${phases:-train,eval,decode,seed,seed-eval}" "${seed_flags[@]}" ;;
    unsloth) anchor unsloth "${phases:-train,eval,decode,seed,seed-eval}" ;;
    hf-nf4) anchor hf-nf4 "${phases:-train,eval,decode}" ;;
    hf-bf16) anchor hf-bf16 "${phases:-train,eval,decode}" ;;
    collect) node scripts/bench/collect.mjs "$results" --out "$latest" --command "bash scripts/bench/compare.sh $all_args" ;;
  esac
}

# A part's results (its JSON files, the seed run's run.json + log.jsonl, not its adapter) and log.
pack_part() {
  [ -n "${OUT:-}" ] || return 0
  local stack=$1 files
  if [ "$stack" = collect ]; then
    cp "$latest" "$OUT/latest.json" 2>/dev/null
    return 0
  fi
  files=$(cd "$bench" && ls results/"$stack"-*.json results/"$stack"-seed-run/run.json results/"$stack"-seed-run/log.jsonl logs/"$stack".log 2>/dev/null)
  [ -n "$files" ] && (cd "$bench" && tar -czf "$OUT/nq-bench-$stack.tar.gz" $files)
}

prepare_inputs || { echo "compare.sh: preparing the checkpoint and inputs failed" >&2; exit 1; }
failed=()
for part in "${parts[@]}"; do
  start=$(date +%s)
  echo "== compare.sh: $part"
  run_part "$part" 2>&1 | tee -a "$bench/logs/${part%%:*}.log"
  status=${PIPESTATUS[0]}
  pack_part "${part%%:*}"
  echo "== compare.sh: $part took $(( $(date +%s) - start )) s (exit $status)"
  [ "$status" -eq 0 ] || failed+=("$part")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "compare.sh: failed parts: ${failed[*]} (logs in $bench/logs)" >&2
  exit 1
fi
