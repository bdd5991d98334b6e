#!/usr/bin/env bash
# The seed's IMDB experiment on real weights, one model per call, on the GPU machine:
#   bash scripts/experiments/imdb.sh NAME MODEL.gguf SAMPLE_DIR OUT_DIR [--nf4]
# SAMPLE_DIR holds train.jsonl.gz / test.jsonl.gz from export-sample.mjs (a seeded sample of
# IMDB: 4,000 train and 2,000 test reviews by default). Steps: import the GGUF; node-qlora
# scores the base model, trains LoRA, scores the adapter (sft train + sft eval --compare, bf16
# base; with --nf4 also QLoRA on an NF4 base); then transformers + peft do the same on the
# same rows with the same settings (hf_imdb.py), scored by our parser; the record goes to
# OUT_DIR/imdb-NAME.json. Recipe = the seed's (template, labels 0/1, batch 16, linear
# schedule, weight decay 0.01, LoRA r16/alpha32 on q/k/v, seed 3407) except, for a small
# model and a short run: lr 2e-4 (not 2e-5), 1 epoch over 4,000 rows (not 3 over 25,000),
# 25 warmup steps (not 100), max-seq-len 512 (not 2048), AdamW fp32 state (not 8-bit).
set -euo pipefail
name=$1; gguf=$2; sample=$3; out=$4; nf4=${5:-}
sft() { node dist/cli/bin.js "$@"; }
task=(--template imdb --label-map positive=1,negative=0 --max-seq-len 512 --seed 3407)
recipe=(--lr 2e-4 --warmup-steps 25 --epochs 1 --batch-size 16 --lora-r 16 --lora-alpha 32 --no-gradient-checkpointing --log-every 10)
mkdir -p "$out"
start=$(date +%s)
sft import --gguf "$gguf" --out "$out/model" --json > "$out/import.json"
echo "imported $gguf in $(( $(date +%s) - start )) s"
sft train --model "$out/model" --data "$sample/train.jsonl.gz" "${task[@]}" "${recipe[@]}" --quant none --dtype bfloat16 --out "$out/run" --json > "$out/train.json"
sft eval --model "$out/model" --adapter "$out/run" --compare --data "$sample/test.jsonl.gz" "${task[@]}" --batch-size 64 --quant none --dtype bfloat16 --out "$out/run" --json > "$out/eval.json"
echo "node-qlora bf16: $(cat "$out/eval.json" | head -c 300)"
if [ "$nf4" = --nf4 ]; then
  sft train --model "$out/model" --data "$sample/train.jsonl.gz" "${task[@]}" "${recipe[@]}" --quant nf4 --dtype bfloat16 --out "$out/run-nf4" --json > "$out/train-nf4.json"
  sft eval --model "$out/model" --adapter "$out/run-nf4" --compare --data "$sample/test.jsonl.gz" "${task[@]}" --batch-size 64 --quant nf4 --dtype bfloat16 --out "$out/run-nf4" --json > "$out/eval-nf4.json"
  echo "node-qlora nf4: $(head -c 300 "$out/eval-nf4.json")"
fi
python3 scripts/experiments/hf_imdb.py --model-dir "$out/model" --train "$sample/train.jsonl.gz" --test "$sample/test.jsonl.gz" \
  --out "$out/hf" --epochs 1 --lr 2e-4 --batch 16 --warmup 25 --max-seq-len 512 --r 16 --alpha 32 --seed 3407 --eval-batch 64
for which in before after; do node scripts/experiments/score-outputs.mjs "$out/hf/outputs_$which.jsonl" > "$out/hf/score_$which.json"; done
node scripts/experiments/collect-results.mjs "$name" "$out" > "$out/imdb-$name.json"
echo "done in $(( $(date +%s) - start )) s: $out/imdb-$name.json"
