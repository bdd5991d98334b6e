// Output paths checked before any work: a run folder, an eval --out or a report file that
// cannot be written fails with OUTPUT_NOT_WRITABLE naming the path before the model loads
// (before: an --out that was a file failed after the whole eval with EEXIST, and /proc/x spun
// forever). The check creates nothing: it finds the nearest existing ancestor and asks whether
// the path can be made there.
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ErrorCode, SftError } from '../errors.js';

function notWritable(path: string, why: string): SftError {
  return new SftError(`output path ${path} is not writable: ${why}`, ErrorCode.OutputNotWritable);
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined; // absent, or below a file: the walk up finds why
    throw notWritable(path, (err as Error).message);
  }
}

/** Pseudo file systems whose entries are not files a program writes results to. */
const VIRTUAL_ROOTS = ['/proc', '/sys', '/dev'];

function assertWritableDir(dir: string, path: string): void {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw notWritable(path, `${dir} is read-only for this user`);
  }
}

/**
 * `path` is a folder that exists and is writable, or can be created (its nearest existing
 * ancestor is a writable folder). `kind` 'file': the same for a file to be written.
 */
export function checkOutputPath(path: string, kind: 'folder' | 'file'): void {
  const abs = resolve(path);
  const root = VIRTUAL_ROOTS.find((r) => abs === r || abs.startsWith(`${r}/`));
  if (root !== undefined) throw notWritable(abs, `it is under ${root}, a virtual file system of the kernel, not a place for results`);
  const st = statOrUndefined(abs);
  if (st !== undefined) {
    if (kind === 'folder' && !st.isDirectory()) throw notWritable(abs, `it exists and is ${describeKind(st)}, where a folder is expected`);
    if (kind === 'file' && !st.isFile()) throw notWritable(abs, `it exists and is ${describeKind(st)}, where a file is expected`);
    if (kind === 'folder') return assertWritableDir(abs, abs);
    try {
      accessSync(abs, constants.W_OK);
    } catch {
      throw notWritable(abs, 'the file is read-only for this user');
    }
    return;
  }
  // Walk up to the nearest existing ancestor: it must be a folder this user can write into.
  let parent = dirname(abs);
  for (;;) {
    const pst = statOrUndefined(parent);
    if (pst !== undefined) {
      if (!pst.isDirectory()) throw notWritable(abs, `${parent} is ${describeKind(pst)}, not a folder`);
      return assertWritableDir(parent, abs);
    }
    const up = dirname(parent);
    if (up === parent) return;
    parent = up;
  }
}

function describeKind(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a folder';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device file';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file or folder';
}
