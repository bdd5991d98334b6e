// `--model FILE.gguf`: where an import is cached ($NQ_CACHE_DIR), what the sync resolver says
// before one exists, and that a refused import leaves nothing behind. The import itself runs in
// test/native/gguf-import.test.ts and test/e2e/import-cli.test.ts.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { findImportedGguf, ggufImportCacheRoot, ggufImportDir, importGgufCached, isGgufFile } from '../../src/gguf/import-cache.js';
import { resolveModel, resolveModelDir } from '../../src/hub/resolve.js';
import { expectSftError } from '../helpers/errors.js';

const READER_GGUF = join(import.meta.dirname, '..', 'fixtures', 'gguf', 'reader.gguf');

let work: string;
let file: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'gguf-cache-'));
  vi.stubEnv('NQ_CACHE_DIR', join(work, 'cache'));
  file = join(work, 'My Model (Q4).gguf');
  copyFileSync(READER_GGUF, file);
  utimesSync(file, 1_700_000_000, 1_700_000_000);
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(work, { recursive: true, force: true });
});

describe('GGUF import cache', () => {
  it('lives in $NQ_CACHE_DIR/gguf-import (default ~/.cache/node-qlora), one folder per name, size, mtime, dtype and converter version', () => {
    expect(ggufImportCacheRoot()).toBe(join(work, 'cache', 'gguf-import'));
    expect(ggufImportCacheRoot({ HOME: '/home/u' })).toMatch(/\.cache\/node-qlora\/gguf-import$/);
    const size = statSync(file).size;
    expect(ggufImportDir(file)).toBe(join(work, 'cache', 'gguf-import', `My_Model__Q4_-${size}-1700000000000-bfloat16-v1`));
    expect(ggufImportDir(file, 'float32')).toMatch(/-float32-v1$/);
    utimesSync(file, 1_700_000_001, 1_700_000_001);
    expect(ggufImportDir(file)).toMatch(/-1700000001000-bfloat16-v1$/); // a changed file is a new import
  });

  it('recognizes .gguf files by extension, only when they exist as files', () => {
    expect(isGgufFile(file)).toBe(true);
    expect(isGgufFile(join(work, 'absent.gguf'))).toBe(false);
    mkdirSync(join(work, 'dir.gguf'));
    expect(isGgufFile(join(work, 'dir.gguf'))).toBe(false);
    expect(isGgufFile(READER_GGUF.replace(/\.gguf$/, '.json'))).toBe(false);
  });

  it('the sync resolver finds an existing import and says how to make a missing one', () => {
    expect(findImportedGguf(file)).toBeUndefined();
    expectSftError(() => resolveModelDir(file), 'FILE_NOT_FOUND', 'has not been imported yet', 'resolveModel()');
    const dir = ggufImportDir(file);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), '{}');
    expect(findImportedGguf(file)).toBe(dir);
    expect(resolveModelDir(file)).toBe(dir);
  });

  it('resolveModel reuses a cached import without reading the file again', async () => {
    const dir = ggufImportDir(file);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), '{}');
    expect(await resolveModel(file)).toEqual({ dir, source: 'gguf', gguf: { file, imported: false } });
  });

  it('a refused import (unsupported architecture) leaves no folder behind', async () => {
    await expect(importGgufCached(file)).rejects.toMatchObject({ code: 'GGUF_UNSUPPORTED', message: expect.stringContaining('"testarch"') });
    expect(readdirSync(join(work, 'cache', 'gguf-import'))).toEqual([]);
  });
});
