#!/usr/bin/env node
// The CommonJS build (dist/cjs) behind `require('node-qlora')`: tsc re-emits the sources as
// CommonJS (tsconfig.cjs.json; the ESM build type-checks them), then the few uses of
// import.meta.url, which CommonJS has no syntax for, become the same URL built from __filename,
// and dist/cjs/package.json tells Node these .js files are CommonJS (the package's are ESM).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const out = join(root, 'dist', 'cjs');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.cjs.json')], { stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);

let replaced = 0;
for (const entry of readdirSync(out, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.js')) continue;
  const file = join(entry.parentPath, entry.name);
  const text = readFileSync(file, 'utf8');
  if (!text.includes('import.meta.url')) continue;
  // Computed once at the top: a function body may declare its own `require` (native.ts does).
  const header = 'const __importMetaUrl = require("node:url").pathToFileURL(__filename).href;\n';
  const body = text.replaceAll('import.meta.url', '__importMetaUrl');
  writeFileSync(file, body.startsWith('"use strict";\n') ? `"use strict";\n${header}${body.slice(14)}` : header + body);
  replaced++;
}
writeFileSync(join(out, 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);
console.log(`build-cjs: dist/cjs written (import.meta.url replaced in ${replaced} files)`);
