#!/usr/bin/env bash
# The package as a user gets it: `npm pack`, install the tarball into a fresh project, then run
# `npx sft demo`, an ESM script (import), a CommonJS script (require) and a strict TypeScript
# check of the public types (default `tsc --strict`, no skipLibCheck) there.
# The addon built here (build/Release/node_qlora.node, `npm run build:native`) travels in the
# tarball as prebuilds/<platform>-<arch>/node.napi.node, so the install step loads it instead
# of building it a second time. The package is packed from a clean copy of the sources (git's
# tracked and unignored files), so stale dist/ files of deleted sources cannot ship.
# Ends with "pack-check: ok" or "pack-check: FAILED: <what>" (exit 1).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "pack-check: FAILED: $*"; exit 1; }
step() { echo "pack-check: [${SECONDS}s] $*"; }

addon="$repo/build/Release/node_qlora.node"
[ -f "$addon" ] || fail "no $addon; run npm run build:native first"

step "copy, prebuild, build:ts, pack"
# 1. Clean copy + prebuild + dist (ESM and CommonJS), then the tarball.
mkdir -p "$work/pkg"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard \
  | tar --null --ignore-failed-read -cf - -T - 2>/dev/null) | tar -xf - -C "$work/pkg"
ln -s "$repo/node_modules" "$work/pkg/node_modules"
platform=$(node -p 'process.platform + "-" + process.arch')
mkdir -p "$work/pkg/prebuilds/$platform"
cp "$addon" "$work/pkg/prebuilds/$platform/node.napi.node"
(cd "$work/pkg" && npm run --silent build:ts >/dev/null) || fail "npm run build:ts"
tarball=$(cd "$work/pkg" && npm pack --silent --pack-destination "$work" | tail -1)
echo "pack-check: packed $tarball ($(du -h "$work/$tarball" | cut -f1))"

# 2. What the tarball holds: what users need, no source maps or scripts they cannot use.
listing=$(tar -tzf "$work/$tarball")
for need in package/dist/api/index.js package/dist/api/index.d.ts package/dist/cjs/api/index.js \
  package/dist/cjs/package.json package/dist/cli/bin.js "package/prebuilds/$platform/node.napi.node" \
  package/scripts/install.mjs package/CMakeLists.txt package/assets/demo/model/model.safetensors; do
  grep -qx "$need" <<<"$listing" || fail "the tarball lacks $need"
done
unwanted=$(grep -E '\.map$|^package/scripts/(reference|bench|gpu|experiments)/|^package/test/|^package/src/' <<<"$listing" || true)
[ -z "$unwanted" ] || fail "the tarball holds files users do not need: $(head -3 <<<"$unwanted" | tr '\n' ' ')"

step "install into a fresh project"
# 3. A fresh project installs it (dependencies from npm's cache when they are there).
app="$work/app"
mkdir -p "$app"
cd "$app"
npm init -y >/dev/null
npm install --no-audit --no-fund --prefer-offline "$work/$tarball" 2>&1 | tail -3 || fail "npm install of the tarball"
npm install --no-audit --no-fund --prefer-offline --no-save typescript@5 @types/node@20 >/dev/null 2>&1 || fail "npm install typescript @types/node"
# npm >= 11 runs a dependency's install script only once the project allows it; then it must
# find the shipped prebuild (and say so) rather than build.
step "install script"
npm install-scripts approve node-qlora >/dev/null
npm rebuild node-qlora --foreground-scripts 2>&1 | tee rebuild.log | tail -2
grep -q "native addon ready" rebuild.log || fail "the install script did not load the shipped prebuild"
# The whole output first: grep -q stops reading at its match, and with pipefail the writer's
# broken pipe (setup now prints a line after it) would count as a failure.
npx --no-install sft setup > setup.log 2>&1 || { cat setup.log; fail "sft setup"; }
grep -q "native addon ready" setup.log || { cat setup.log; fail "sft setup: no 'native addon ready'"; }

step "sft demo"
# 4. The CLI's main job.
npx --no-install sft demo --json --out runs/demo >demo.json || fail "npx sft demo"
node -e 'const r = JSON.parse(require("fs").readFileSync("demo.json", "utf8")); if (!(r.acc > r.acc_bf_train)) throw new Error("demo did not learn: " + JSON.stringify(r)); console.log("pack-check: sft demo acc " + r.acc_bf_train + " -> " + r.acc)' \
  || fail "sft demo result"

step "import / require"
# 5. import and require, each calling the engine.
cat >esm.mjs <<'EOF'
import { buildInfo, generateText, SftError, train } from 'node-qlora';
const r = await generateText({ model: 'demo', prompt: 'the movie was', maxNewTokens: 2, minNewTokens: 2 });
if (typeof train !== 'function' || r.ids.length !== 2) throw new Error('unexpected ESM result');
const bad = await generateText({ model: 'demo' }).catch((e) => e);
if (!(bad instanceof SftError) || bad.code !== 'INVALID_ARGUMENT') throw new Error('expected an SftError');
console.log(`pack-check: import ok (libtorch ${buildInfo().torchVersion}, "${r.text}")`);
EOF
node esm.mjs || fail "ESM import"
cat >cjs.cjs <<'EOF'
const { buildInfo, generateText, SftError } = require('node-qlora');
generateText({ model: 'demo', prompt: 'the movie was', maxNewTokens: 2, minNewTokens: 2 }).then(async (r) => {
  if (r.ids.length !== 2) throw new Error('unexpected CommonJS result');
  const bad = await generateText({ model: 'demo' }).catch((e) => e);
  if (!(bad instanceof SftError)) throw new Error('expected an SftError');
  console.log(`pack-check: require ok (libtorch ${buildInfo().torchVersion}, "${r.text}")`);
}).catch((e) => { console.error(e); process.exitCode = 1; });
EOF
node cjs.cjs || fail "CommonJS require"

step "types"
# 6. The public types under a consumer's default strict settings (no skipLibCheck).
cat >tsconfig.json <<'EOF'
{ "compilerOptions": { "strict": true, "module": "nodenext", "moduleResolution": "nodenext", "target": "es2022", "noEmit": true }, "include": ["use.ts", "use-cjs.cts"] }
EOF
cat >use.ts <<'EOF'
import { evaluate, loadModel, train, type EvalOptions, type TrainOptions } from 'node-qlora';
const t: TrainOptions = { model: 'demo', data: 'demo', out: 'runs/x', lr: 1e-4 };
const e: EvalOptions = { model: 'demo', data: 'demo', maxNewTokens: 3 };
export const calls = [train(t), evaluate(e), loadModel('dir')];
EOF
cat >use-cjs.cts <<'EOF'
import q = require('node-qlora');
export const info: () => q.BuildInfo = q.buildInfo;
EOF
npx --no-install tsc -p . || fail "the public types do not compile under tsc --strict without skipLibCheck"
echo "pack-check: types ok (tsc --strict, no skipLibCheck, import and require)"
echo "pack-check: ok"
