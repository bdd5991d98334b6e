// Files and folders written so that neither a reader nor a crash ever sees half of one: each is
// written under a temporary name beside its target, `<target>.tmp-<pid>-<n>` (the native
// safetensors writer uses the same naming), and renamed into place. A process killed mid-write
// leaves its temporaries behind; the next write to that folder removes the ones whose process
// is gone. A write that fails (the disk full) removes its temporary and leaves the target as
// it was; ENOSPC becomes DISK_FULL naming the target.
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ErrorCode, SftError } from '../errors.js';

const TEMP_NAME = /^.+\.tmp-(\d+)-\d+$/;
let counter = 0;

/** A fresh temporary name beside `target`, owned by this process. */
export function tempPathFor(target: string): string {
  return `${target}.tmp-${process.pid}-${counter++}`;
}

/** Whether a process with this id exists (EPERM: it exists under another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `*.tmp-PID-N` files and folders in `dir` whose process is no longer alive; returns their names. */
export async function removeStaleTemporaries(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return []; // no folder yet: nothing stale in it
  }
  const stale = names.filter((name) => {
    const pid = Number(TEMP_NAME.exec(name)?.[1] ?? NaN);
    return Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && !isProcessAlive(pid);
  });
  await Promise.all(stale.map((name) => rm(join(dir, name), { recursive: true, force: true })));
  return stale;
}

const DISK_FULL_ERRNO = new Set(['ENOSPC', 'EDQUOT']);
// Native writes report strerror's text (native/core/safetensors.cpp), not an errno code.
const DISK_FULL_TEXT = /No space left on device|Disk quota exceeded/;

/**
 * `err` from writing `target`, as the user should see it: a full disk (a Node errno or the
 * native writer's message) becomes DISK_FULL; anything else is returned unchanged. `kept` says
 * what of the target survived (atomic writes: all of it).
 */
export function writeFailure(target: string, err: unknown, kept = `nothing was replaced: the previous ${basename(target)} (if any) is intact`): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if ((code !== undefined && DISK_FULL_ERRNO.has(code)) || DISK_FULL_TEXT.test(message)) {
    return new SftError(`no space left on the device while writing ${target} (${message}); ${kept}. Free some space and run again`, ErrorCode.DiskFull);
  }
  return err;
}

/** Writes `data` to `file` under a temporary name, flushed to disk, then renames it into place. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
  await removeStaleTemporaries(dir);
  const temp = tempPathFor(file);
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw writeFailure(file, err);
  }
}

/** JSON with two-space indent and a final newline, written atomically. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

async function syncFolder(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Builds the folder `target` whole: `fill(temp)` writes its files into a temporary folder
 * beside it, which is then renamed into place (an existing `target` is replaced). Until that
 * rename, `target` is untouched; a failure removes the temporary folder.
 */
export async function writeFolderAtomic(target: string, fill: (temp: string) => Promise<void>): Promise<void> {
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  await removeStaleTemporaries(parent);
  const temp = tempPathFor(target);
  try {
    await mkdir(temp);
    await fill(temp);
    for (const name of await readdir(temp)) {
      const handle = await open(join(temp, name), 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    await syncFolder(temp);
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw writeFailure(target, err);
  }
  // rename() cannot replace a non-empty folder: the old one steps aside under a temporary name
  // first, and comes back if the new one cannot take its place.
  const aside = tempPathFor(target);
  const replaced = await rename(target, aside).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
  try {
    await rename(temp, target);
  } catch (err) {
    if (replaced) await rename(aside, target);
    await rm(temp, { recursive: true, force: true });
    throw writeFailure(target, err);
  }
  if (replaced) await rm(aside, { recursive: true, force: true });
  await syncFolder(parent);
}
