// Where this package lives and which version it is, for the files that ship with it
// (assets/, the addon build) and for the version the CLI and run.json report.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder holding node-qlora's package.json: the nearest one above this file, which runs as
 * src/package-info.ts (tests), dist/package-info.js (ESM) or dist/cjs/package-info.js (the
 * CommonJS build, whose dist/cjs/package.json only sets the module type and has no name).
 */
function packageRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'node-qlora') return dir;
  }
  return join(start, '..');
}

export const PACKAGE_ROOT = packageRoot();

let version: string | undefined;

/** package.json's version, read once. */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}
