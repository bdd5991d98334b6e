#!/usr/bin/env node
// tsc writes dist/cli/bin.js without the execute bit, so `npx sft ...` inside the repo (npm runs
// the project's own bin through the shell) answered "sft: Permission denied". After each build
// this sets mode 755 on every file package.json's "bin" names.
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const bins = typeof pkg.bin === 'string' ? [pkg.bin] : Object.values(pkg.bin ?? {});
for (const bin of bins) {
  const file = join(root, bin);
  chmodSync(file, statSync(file).mode | 0o755);
}
console.log(`bin-executable: ${bins.join(', ')} made executable`);
