#!/usr/bin/env bash
# From a fresh clone, one command: build tools (apt-get, when root and missing), libtorch
# (pip torch, when none is found: LIBTORCH, Torch_DIR, python torch, /usr/local/libtorch),
# npm ci, the build (addon + TypeScript), then the main job on the bundled demo model.
# SETUP_SKIP_DEMO=1 stops after the build (CI uses it).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v g++ >/dev/null || missing+=(g++)
command -v make >/dev/null || command -v ninja >/dev/null || missing+=(make)
command -v python3 >/dev/null || missing+=(python3 python3-pip)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]} with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "setup: please install: ${missing[*]}" >&2
    exit 1
  fi
fi

have_libtorch() {
  [ -n "${LIBTORCH:-}" ] && [ -e "$LIBTORCH/lib/libtorch_cpu.so" ] && return 0
  [ -n "${Torch_DIR:-}" ] && [ -d "$Torch_DIR" ] && return 0
  python3 -c 'import torch' >/dev/null 2>&1 && return 0
  [ -e /usr/local/libtorch/lib/libtorch_cpu.so ] && return 0
  return 1
}
if ! have_libtorch; then
  echo "setup: no libtorch found; installing the PyPI torch wheel (it serves as libtorch)"
  python3 -m pip install --quiet torch || python3 -m pip install --quiet --user --break-system-packages torch
fi

npm ci --no-audit --no-fund
npm run build

if [ "${SETUP_SKIP_DEMO:-0}" != 1 ]; then
  echo
  echo "setup: done. Main job: sft generate on the bundled demo model"
  echo '$ sft generate --model demo --chat "Review: A wonderful film with a moving story. Is this review positive or negative?"'
  node dist/cli/bin.js generate --model demo --chat "Review: A wonderful film with a moving story. Is this review positive or negative?"
  echo '$ sft generate --model demo --prompt "The movie was" --max-new-tokens 24'
  node dist/cli/bin.js generate --model demo --prompt "The movie was" --max-new-tokens 24
fi
