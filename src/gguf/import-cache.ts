// `--model FILE.gguf`: the file is imported once into a cache folder and that folder is the
// model from then on. The folder name carries the file's name, size and mtime (a changed file
// gets a new import) and the converter's version (a fixed converter does not reuse old output).
// An import is written beside its final name and renamed into place, so a folder that exists is
// complete, and two processes importing the same file at once both end with one good folder.
//   $NQ_CACHE_DIR/gguf-import/<name>-<size>-<mtime>-<dtype>-v1/   (default ~/.cache/node-qlora)

import { existsSync, statSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { ErrorCode, SftError } from '../errors.js';
import type { ConvertProgress, OutputDtype } from './convert.js';
import { importGgufFile } from './import.js';

/** Bumped when a converter change alters what an import writes. */
const CONVERTER_VERSION = 'v1';

/** The dtype `--model FILE.gguf` imports to: 16-bit halves disk and load time; bf16 is what CUDA computes in. */
export const CACHED_IMPORT_DTYPE: OutputDtype = 'bfloat16';

export function ggufImportCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.NQ_CACHE_DIR || join(homedir(), '.cache', 'node-qlora'), 'gguf-import');
}

/** True for a path that names an existing GGUF file by its extension. */
export function isGgufFile(path: string): boolean {
  if (!/\.gguf$/i.test(path)) return false;
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Where `file` is (or would be) imported. */
export function ggufImportDir(file: string, dtype: OutputDtype = CACHED_IMPORT_DTYPE, root = ggufImportCacheRoot()): string {
  const abs = resolve(file);
  const st = statSync(abs);
  const stem = basename(abs).replace(/\.gguf$/i, '').replace(/[^A-Za-z0-9._-]/g, '_');
  return join(root, `${stem}-${st.size}-${Math.floor(st.mtimeMs)}-${dtype}-${CONVERTER_VERSION}`);
}

/** The cached import of `file`, when there is one. */
export function findImportedGguf(file: string, dtype: OutputDtype = CACHED_IMPORT_DTYPE, root?: string): string | undefined {
  const dir = ggufImportDir(file, dtype, root);
  return existsSync(join(dir, 'config.json')) ? dir : undefined;
}

export interface CachedImportOptions {
  dtype?: OutputDtype;
  onProgress?: (progress: ConvertProgress) => void;
  signal?: AbortSignal;
  /** Cache root; default ggufImportCacheRoot(). */
  root?: string;
}

/** The cached import of `file`, importing it first when there is none. */
export async function importGgufCached(file: string, options: CachedImportOptions = {}): Promise<{ dir: string; imported: boolean }> {
  const dtype = options.dtype ?? CACHED_IMPORT_DTYPE;
  const root = options.root ?? ggufImportCacheRoot();
  if (!isGgufFile(file)) throw new SftError(`${resolve(file)} is not an existing .gguf file`, ErrorCode.FileNotFound);
  const found = findImportedGguf(file, dtype, root);
  if (found) return { dir: found, imported: false };
  const dir = ggufImportDir(file, dtype, root);
  const partial = `${dir}.partial-${process.pid}-${Date.now()}`;
  await mkdir(root, { recursive: true });
  try {
    await importGgufFile(file, partial, {
      dtype,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    try {
      await rename(partial, dir);
    } catch (err) {
      // Another process finished the same import first: keep theirs.
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !existsSync(join(dir, 'config.json'))) throw err;
    }
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return { dir, imported: true };
}
