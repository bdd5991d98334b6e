#!/usr/bin/env bash
# The seed's open-ended SFT experiment (issue 16 point 4) on a real small model, one model per
# call, on the GPU machine:
#   bash scripts/experiments/instruct.sh NAME MODEL.gguf OUT_DIR [--nf4 | --nf4-only]
# Steps: write the instruction set (scripts/make_instruction_data.py: 2,000 train / 200 held-out
# alpaca rows, seed 16); import the GGUF (sft import); then scripts/experiments/instruct.mjs:
# LoRA with the seed's alpaca template + EOS, greedy generation of up to 256 new tokens on the
# held-out rows before and after training, ROUGE-1/2/L/Lsum and BLEU. bf16 base, and with
# --nf4 also QLoRA on an NF4 base (--nf4-only: QLoRA alone, the seed's setup). Records: OUT_DIR/instruct-NAME[-nf4].json (the table's
# numbers, the recipe, train s, tokens/s, generation tokens/s, wall s) and predictions.jsonl in
# each run folder (the imported model goes to $NQ_INSTRUCT_WORK, default /tmp/nq-instruct). Recipe = the seed's (alpaca template + EOS, batch 16, linear schedule, LoRA
# r16/alpha32 on q/k/v, greedy 256 new tokens, seed 3407) except, for small models and a short
# run: lr 2e-4 (not 2e-5), 2 epochs over 2,000 generated rows (not alpaca-cleaned, which no
# registry package ships), 25 warmup steps, max-seq-len 512, AdamW fp32 state.
# NQ_INSTRUCT_TRAIN / _TEST / _EPOCHS / _NEW_TOKENS / _DTYPE override the sizes and the dtype
# (a CPU smoke run of the script: 32 / 4 / 1 / 16 / float32).
set -euo pipefail
name=$1; gguf=$2; out=$3; nf4=${4:-}
model=${NQ_INSTRUCT_WORK:-/tmp/nq-instruct}/$name/model  # the imported checkpoint stays out of OUT_DIR (hundreds of MB)
mkdir -p "$out" "$(dirname "$model")"
start=$(date +%s)
python3 scripts/make_instruction_data.py --out "$out/data" --train "${NQ_INSTRUCT_TRAIN:-2000}" --test "${NQ_INSTRUCT_TEST:-200}" --seed 16
node dist/cli/bin.js import --gguf "$gguf" --out "$model" --json > "$out/import.json"
echo "imported $gguf in $(( $(date +%s) - start )) s"
recipe=(--model "$model" --data "$out/data" --epochs "${NQ_INSTRUCT_EPOCHS:-2}" --lr 2e-4 --warmup-steps 25 --batch-size 16
        --lora-r 16 --lora-alpha 32 --lora-targets q_proj,k_proj,v_proj --max-seq-len 512
        --max-new-tokens "${NQ_INSTRUCT_NEW_TOKENS:-256}" --eval-batch-size 64 --seed 3407 --dtype "${NQ_INSTRUCT_DTYPE:-bfloat16}")
run() { # suffix quant
  local t0; t0=$(date +%s)
  node scripts/experiments/instruct.mjs "${recipe[@]}" --quant "$2" --out "$out/run$1" --json > "$out/instruct-$name$1.json"
  echo "instruct $name$1 ($2 base): $(( $(date +%s) - t0 )) s"
  rm -rf "$out/run$1/checkpoints"  # resume state (adapter + optimizer); the final adapter stays in the run folder
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const f = (m) => [m.rouge1, m.rouge2, m.rougeL, m.rougeLsum].map((x) => x.toFixed(4)).join(" | ") + " | " + m.bleu.toFixed(2);
    console.log(`| ${process.argv[2]} | before | ${f(r.before)} | ${r.before.n} | ${Math.round(r.before.newTokensPerSecond)} |`);
    console.log(`| | after | ${f(r.after)} | ${r.after.n} | ${Math.round(r.after.newTokensPerSecond)} |`);
    console.log(`train ${r.train.steps} steps ${r.train.trainSeconds.toFixed(1)} s, ${Math.round(r.train.inputTokensPerSecond ?? 0)} tokens/s (processed), ${Math.round(r.train.tokensPerSecond)} target tokens/s, peak ${r.train.peakMemoryGiB ?? "-"} GiB; wall ${r.wallSeconds.toFixed(1)} s`);
  ' "$out/instruct-$name$1.json" "$name$1"
}
echo "| model | when | ROUGE-1 | ROUGE-2 | ROUGE-L | ROUGE-Lsum | BLEU | n | generated tokens/s |"
[ "$nf4" = --nf4-only ] || run "" none
if [ "$nf4" = --nf4 ] || [ "$nf4" = --nf4-only ]; then run -nf4 nf4; fi
echo "done in $(( $(date +%s) - start )) s: $out/instruct-$name*.json"
