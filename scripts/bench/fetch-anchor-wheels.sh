#!/usr/bin/env bash
# Fetches the Python stack the benchmark compares against (unsloth and what it needs beyond
# torch / transformers / peft, which the GPU machine already has) as wheels, HERE (needs
# PyPI), and packs them unpacked into .bench/anchor-site.tar.xz for the GPU machine, which has
# no network. There:
#   mkdir -p /tmp/site && tar -xJf .bench/anchor-site.tar.xz -C /tmp/site && export PYTHONPATH=/tmp/site
# (compare.sh does this). The *.dist-info folders stay, so importlib.metadata knows the versions.
#
# The versions are the set known to work together on the GPU machine (Python 3.12, torch 2.11.0+cu130,
# transformers 5.17): issue 12. The small pure-Python dependencies are pinned to what pip
# resolved for py3.12 on 2026-12-03.
# Usage, from the project root: bash scripts/bench/fetch-anchor-wheels.sh
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")" .bench
grep -qx '/.bench/' "$exclude" 2>/dev/null || echo '/.bench/' >> "$exclude"

PINS=(
  unsloth==2026.10.9 unsloth_zoo==2026.10.9 bitsandbytes==0.50.2 trl==1.15.0 datasets==4.8.5
  torchao==0.18.0 cut_cross_entropy==25.1.1
  tyro==1.0.17 msgspec==0.23.0 json5==0.17.3 nest-asyncio==1.6.0 structlog==26.1.0 dill==0.4.1
  multiprocess==0.70.19 docstring-parser==0.18.0 shtab==1.13.0 typeguard==4.6.1 hf_transfer==0.1.9
)
# The GPU machine's platform: CPython 3.12 on x86-64 glibc; bitsandbytes 0.50.2 is tagged manylinux_2_24.
PLATFORM=(--python-version 3.12 --implementation cp
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --no-deps --only-binary=:all: "${PLATFORM[@]}" -d "$work/wheels" "${PINS[@]}"
n=$(ls "$work/wheels"/*.whl | wc -l)
[ "$n" -eq "${#PINS[@]}" ] || { echo "fetch-anchor-wheels: expected ${#PINS[@]} wheels, pip saved $n" >&2; exit 1; }

mkdir -p "$work/site"
for w in "$work/wheels"/*.whl; do python3 -m zipfile -e "$w" "$work/site"; done
# unsloth's wheel carries its web UI (studio/, ~100 MB unpacked) that the library never imports,
# and bitsandbytes one native library per CUDA version: the GPU machine runs CUDA 13.0.
rm -rf "$work/site/studio"
find "$work/site/bitsandbytes" -name 'libbitsandbytes_*.so' ! -name 'libbitsandbytes_cuda130.so' -delete
[ -f "$work/site/bitsandbytes/libbitsandbytes_cuda130.so" ] || { echo "fetch-anchor-wheels: bitsandbytes has no libbitsandbytes_cuda130.so" >&2; exit 1; }
find "$work/site" -name '__pycache__' -prune -exec rm -rf {} +

tar -cf - -C "$work/site" . | xz -T2 -6 > .bench/anchor-site.tar.xz
bytes=$(stat -c %s .bench/anchor-site.tar.xz)
echo "fetch-anchor-wheels: $n wheels -> .bench/anchor-site.tar.xz ($((bytes / 1024 / 1024)) MiB; unpacked $(du -sh "$work/site" | cut -f1))"
limit=$((30 * 1024 * 1024))
[ "$bytes" -lt "$limit" ] || { echo "fetch-anchor-wheels: the tarball is over 30 MiB; check what the wheels added" >&2; exit 1; }
