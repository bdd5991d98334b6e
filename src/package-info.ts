// Where this package lives and which version it is, for the files that ship with it
// (assets/, the addon build) and for the version the CLI and run.json report.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: this file is src/package-info.ts, compiled to dist/package-info.js. */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

let version: string | undefined;

/** package.json's version, read once. */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}
