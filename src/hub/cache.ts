// The Hugging Face cache on disk, laid out exactly as huggingface_hub (Python) writes it, so a
// model either side downloaded is reused by the other:
//
//   <cacheDir>/models--<org>--<name>/
//     refs/<revision>               the commit sha the branch or tag pointed to (no newline)
//     blobs/<etag>                  file contents, named by sha256 (LFS files) or git blob sha1
//     snapshots/<commit>/<file>     relative symlinks into ../../blobs/<etag>
//
// Reading is synchronous on purpose: a lookup is a handful of stats, and resolveModelDir (sync)
// uses it too.
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { REQUIRED_FILES, SINGLE_WEIGHTS, WEIGHTS_INDEX, shardsOfIndex } from './checkpoint-files.js';

export const COMMIT_HASH = /^[0-9a-f]{40}$/;

/** 'org/name' -> 'models--org--name' (huggingface_hub's repo_folder_name for model repos). */
export function repoFolderName(repo: string): string {
  return ['models', ...repo.split('/')].join('--');
}

export function repoCachePath(cacheDir: string, repo: string): string {
  return join(cacheDir, repoFolderName(repo));
}

export function blobPath(cacheDir: string, repo: string, etag: string): string {
  return join(repoCachePath(cacheDir, repo), 'blobs', etag);
}

export function snapshotPath(cacheDir: string, repo: string, commit: string): string {
  return join(repoCachePath(cacheDir, repo), 'snapshots', commit);
}

/** The commit a revision names: itself when it is a full sha, else what refs/<revision> holds. */
export function commitOfRevision(cacheDir: string, repo: string, revision: string): string | undefined {
  if (COMMIT_HASH.test(revision)) return revision;
  const ref = join(repoCachePath(cacheDir, repo), 'refs', revision);
  if (!existsSync(ref)) return undefined;
  const commit = readFileSync(ref, 'utf8').trim();
  return COMMIT_HASH.test(commit) ? commit : undefined;
}

/** Python writes a ref only for names that are not commit shas; so do we. */
export function writeRef(cacheDir: string, repo: string, revision: string, commit: string): void {
  if (revision === commit) return;
  const ref = join(repoCachePath(cacheDir, repo), 'refs', revision);
  mkdirSync(dirname(ref), { recursive: true });
  writeFileSync(ref, commit);
}

/**
 * Points snapshots/<commit>/<file> at blobs/<etag> with a relative symlink (the cache folder can
 * then move or be mounted elsewhere). Where symlinks are not allowed (Windows without developer
 * mode) the blob is copied, which is what Python falls back to as well.
 */
export function linkSnapshotFile(cacheDir: string, repo: string, commit: string, file: string, etag: string): string {
  const pointer = join(snapshotPath(cacheDir, repo, commit), file);
  const blob = blobPath(cacheDir, repo, etag);
  mkdirSync(dirname(pointer), { recursive: true });
  rmSync(pointer, { force: true });
  try {
    symlinkSync(relative(dirname(pointer), blob), pointer);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    copyFileSync(blob, pointer);
  }
  return pointer;
}

/** A regular file, or a symlink whose blob is there (a dangling link is a missing file). */
export function isPresentFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The files a snapshot lacks to be loadable: config.json, tokenizer.json, and the weights (one
 * model.safetensors, or the index and every shard it names). Empty when complete.
 */
export function missingCheckpointFiles(dir: string): string[] {
  const missing: string[] = REQUIRED_FILES.filter((f) => !isPresentFile(join(dir, f)));
  const index = join(dir, WEIGHTS_INDEX);
  if (isPresentFile(index)) {
    let shards: string[];
    try {
      shards = shardsOfIndex(readFileSync(index, 'utf8'), index);
    } catch {
      return [...missing, WEIGHTS_INDEX]; // unreadable index: fetch it again
    }
    missing.push(...shards.filter((s) => !isPresentFile(join(dir, s))));
  } else if (!isPresentFile(join(dir, SINGLE_WEIGHTS))) {
    missing.push(SINGLE_WEIGHTS);
  }
  return missing;
}

/** Bytes of the files a snapshot holds, each blob counted once. */
export function snapshotBytes(dir: string): number {
  const seen = new Set<string>();
  let bytes = 0;
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder)) {
      const path = join(folder, entry);
      if (lstatSync(path).isDirectory()) {
        walk(path);
      } else if (isPresentFile(path)) {
        const real = realpathSync(path);
        if (seen.has(real)) continue;
        seen.add(real);
        bytes += statSync(real).size;
      }
    }
  };
  walk(dir);
  return bytes;
}

export interface CachedModel {
  repo: string;
  /** The branch, tag or sha that was asked for. */
  revision: string;
  commit: string;
  /** snapshots/<commit>: a checkpoint folder (config.json, tokenizer.json, *.safetensors). */
  dir: string;
}

/** The complete snapshot of repo at revision in the cache, if there is one. No network. */
export function findCachedModel(cacheDir: string, repo: string, revision = 'main'): CachedModel | undefined {
  const commit = commitOfRevision(cacheDir, repo, revision);
  if (commit === undefined) return undefined;
  const dir = snapshotPath(cacheDir, repo, commit);
  if (!existsSync(dir) || missingCheckpointFiles(dir).length > 0) return undefined;
  return { repo, revision, commit, dir };
}
