#!/usr/bin/env bash
# From a fresh clone, one command: build tools (apt-get, when root and missing), libtorch
# (pip torch, when none is found: LIBTORCH, Torch_DIR, python torch, /usr/local/libtorch),
# npm ci, the build (addon + TypeScript), then the main job: `sft demo` (train + eval on the
# bundled demo model and data, before/after table).
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

# The one libtorch discovery the install step uses too (scripts/libtorch.mjs; cmake/libtorch.cmake
# finds it again at build time in the same order).
if ! node scripts/libtorch.mjs >/dev/null; then
  echo "setup: no libtorch found; installing the PyPI torch wheel (it serves as libtorch)"
  python3 -m pip install --quiet torch || python3 -m pip install --quiet --user --break-system-packages torch
fi

# npm ci also runs the package's install step (scripts/install.mjs), which builds the addon
# when none loads; `npm run build` then only rebuilds what changed, and builds dist/.
npm ci --no-audit --no-fund
npm run build

if [ "${SETUP_SKIP_DEMO:-0}" != 1 ]; then
  echo
  echo "setup: done. Main job: the seed's SFT job on the bundled demo model and data (CPU, seconds)"
  echo '$ sft demo'
  node dist/cli/bin.js demo
fi
