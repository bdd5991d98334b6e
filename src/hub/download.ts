// Downloads the files of a checkpoint from the Hub into the shared Hugging Face cache (blobs,
// snapshot symlinks, refs, as Python lays them out). @huggingface/hub answers the questions
// (which commit is the revision, which files with which sizes and hashes); the bytes move
// through transfer.ts, plain HTTP with Range, because the library's downloadFileToCacheDir
// always starts a file over from byte 0 and does not report progress.
import { HubApiError, listFiles, modelInfo } from '@huggingface/hub';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, SftError } from '../errors.js';
import {
  COMMIT_HASH,
  blobPath,
  findCachedModel,
  isPresentFile,
  linkSnapshotFile,
  snapshotPath,
  writeRef,
  type CachedModel,
} from './cache.js';
import { REQUIRED_FILES, SINGLE_WEIGHTS, WEIGHTS_INDEX, isOptionalFile, isSafeRelativePath, shardsOfIndex } from './checkpoint-files.js';
import { HubErrorCode, hubHttpError, offlineError, unreachableError } from './hub-errors.js';
import { isRepoId, isValidRevision } from './repo-id.js';
import type { HubSettings } from './settings.js';
import { transferToBlob } from './transfer.js';

export interface DownloadProgress {
  repo: string;
  /** The file being fetched now. */
  file: string;
  fileBytes: number;
  fileTotal: number;
  /** Over all files of the checkpoint; files already in the cache count as done. */
  bytes: number;
  total: number;
  filesDone: number;
  filesTotal: number;
}

export interface DownloadModelOptions {
  /** Branch, tag or commit sha. Default 'main'. */
  revision?: string;
  hub: HubSettings;
  onProgress?: (progress: DownloadProgress) => void;
  /** Aborting keeps the partial file; the next call resumes it. */
  signal?: AbortSignal;
}

interface ListedFile {
  size: number;
  etag: string;
}

/**
 * These GETs are idempotent: one retry covers a keep-alive connection the server closed just as
 * it was reused (ECONNRESET), which otherwise fails a download before it starts.
 */
async function fetchRetryingOnce(input: Parameters<typeof fetch>[0], init: RequestInit): Promise<Response> {
  try {
    return await fetch(input, init);
  } catch (err) {
    if (init.signal?.aborted) throw err;
    return fetch(input, init);
  }
}

/**
 * A fetch for @huggingface/hub's calls that carries our AbortSignal and remembers the Hub's
 * X-Error-Code of a refusal (the library's HubApiError keeps only the status and body).
 */
function hubFetch(signal: AbortSignal | undefined): { fetch: typeof fetch; lastErrorCode: () => string | null } {
  let errorCode: string | null = null;
  const wrapped: typeof fetch = async (input, init) => {
    const res = await fetchRetryingOnce(input, { ...init, ...(signal ? { signal } : {}) });
    errorCode = res.ok ? null : res.headers.get('x-error-code');
    return res;
  };
  return { fetch: wrapped, lastErrorCode: () => errorCode };
}

function checkToken(token: string | undefined): void {
  // @huggingface/hub rejects other tokens with a TypeError; say which setting to fix instead.
  if (token !== undefined && !token.startsWith('hf_')) {
    throw new SftError("HF_TOKEN (or the saved token) must start with 'hf_'; create one at https://huggingface.co/settings/tokens", ErrorCode.InvalidArgument);
  }
}

function resolveUrl(endpoint: string, repo: string, commit: string, file: string): string {
  return `${endpoint}/${repo}/resolve/${commit}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/** Asks the Hub which commit the revision is and which files it holds (path -> size, etag). */
async function listRevision(repo: string, revision: string, opts: DownloadModelOptions): Promise<{ commit: string; files: Map<string, ListedFile> }> {
  const { endpoint, token } = opts.hub;
  const hf = hubFetch(opts.signal);
  const common = { hubUrl: endpoint, fetch: hf.fetch, ...(token !== undefined ? { accessToken: token } : {}) };
  try {
    const info = await modelInfo({ name: repo, revision, additionalFields: ['sha'], ...common });
    const commit = info.sha;
    if (typeof commit !== 'string' || !COMMIT_HASH.test(commit)) {
      throw new SftError(`${endpoint} gave no commit sha for ${repo}@${revision} (got ${JSON.stringify(commit)}); is HF_ENDPOINT a Hugging Face Hub?`, HubErrorCode.Network);
    }
    const files = new Map<string, ListedFile>();
    for await (const entry of listFiles({ repo, revision: commit, recursive: true, ...common })) {
      if (entry.type !== 'file' || !isSafeRelativePath(entry.path)) continue;
      files.set(entry.path, { size: entry.lfs?.size ?? entry.size, etag: entry.lfs?.oid ?? entry.oid ?? '' });
    }
    return { commit, files };
  } catch (err) {
    if (err instanceof SftError) throw err;
    if (opts.signal?.aborted) throw new SftError(`download of ${repo} aborted before it started`, ErrorCode.Aborted);
    if (err instanceof HubApiError) {
      const detail = typeof err.data?.error === 'string' ? err.data.error : undefined;
      throw hubHttpError({
        status: err.statusCode,
        errorCode: hf.lastErrorCode(),
        ...(detail !== undefined ? { detail } : {}),
        repo,
        revision,
        endpoint,
        hadToken: token !== undefined,
      });
    }
    throw unreachableError(endpoint, err);
  }
}

/** The files to fetch, given the listing; the shards come from the index, fetched by `fetchIndex`. */
async function planFiles(repo: string, files: Map<string, ListedFile>, fetchIndex: () => Promise<string>): Promise<string[]> {
  const missing = REQUIRED_FILES.filter((f) => !files.has(f));
  if (missing.length > 0) {
    throw new SftError(`${repo} has no ${missing.join(' or ')}; it is not a transformers checkpoint we can load (we need config.json, tokenizer.json and safetensors weights)`, ErrorCode.UnsupportedModel);
  }
  const plan: string[] = [...REQUIRED_FILES, ...[...files.keys()].filter(isOptionalFile).sort()];
  if (files.has(WEIGHTS_INDEX)) {
    const shards = shardsOfIndex(await fetchIndex(), `${WEIGHTS_INDEX} of ${repo}`);
    const absent = shards.filter((s) => !files.has(s));
    if (absent.length > 0) throw new SftError(`${WEIGHTS_INDEX} of ${repo} names shards the repo does not have: ${absent.join(', ')}`, ErrorCode.ConfigInvalid);
    plan.push(WEIGHTS_INDEX, ...shards);
  } else if (files.has(SINGLE_WEIGHTS)) {
    plan.push(SINGLE_WEIGHTS);
  } else {
    const other = [...files.keys()].filter((f) => /\.(bin|pt|pth|gguf|ckpt|safetensors)$/.test(f));
    throw new SftError(
      `${repo} has no ${SINGLE_WEIGHTS} or ${WEIGHTS_INDEX}${other.length ? ` (it has ${other.slice(0, 5).join(', ')})` : ''}; only safetensors checkpoints in transformers' layout load here`,
      ErrorCode.UnsupportedModel,
    );
  }
  return plan;
}

/**
 * Makes snapshots/<commit> of repo complete in the cache (fetching only what is not there) and
 * points refs/<revision> at it. Never called in offline mode.
 */
export async function downloadModel(repo: string, options: DownloadModelOptions): Promise<CachedModel> {
  const revision = options.revision ?? 'main';
  const { hub } = options;
  if (!isRepoId(repo)) throw new SftError(`'${repo}' is not a Hub repo id (expected org/name)`, ErrorCode.InvalidArgument);
  if (!isValidRevision(revision)) throw new SftError(`'${revision}' is not a valid revision (a branch, tag or commit sha)`, ErrorCode.InvalidArgument);
  if (hub.offline) throw offlineError(repo, revision, hub.cacheDir);
  checkToken(hub.token);

  const { commit, files } = await listRevision(repo, revision, options);
  const snapshot = snapshotPath(hub.cacheDir, repo, commit);

  let total = 0;
  let done = 0;
  let filesDone = 0;
  let filesTotal = 0;
  const report = (file: string, fileBytes: number, fileTotal: number): void =>
    options.onProgress?.({ repo, file, fileBytes, fileTotal, bytes: done + fileBytes, total, filesDone, filesTotal });

  // Puts one file into the snapshot: already linked, a blob another revision fetched, or new bytes.
  const ensureFile = async (file: string): Promise<void> => {
    const listed = files.get(file) as ListedFile;
    if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(listed.etag)) {
      // The etag names the blob file and is what the bytes are checked against: no guessing.
      throw new SftError(`${hub.endpoint} listed ${file} of ${repo} without a git or sha256 hash (got ${JSON.stringify(listed.etag)})`, HubErrorCode.Network);
    }
    const pointer = join(snapshot, file);
    const blob = blobPath(hub.cacheDir, repo, listed.etag);
    const present = (path: string): boolean => isPresentFile(path) && statSync(path).size === listed.size;
    if (!present(pointer)) {
      if (!present(blob)) {
        report(file, 0, listed.size);
        await transferToBlob({
          url: resolveUrl(hub.endpoint, repo, commit, file),
          ...(hub.token !== undefined ? { token: hub.token } : {}),
          blob,
          size: listed.size,
          etag: listed.etag,
          ...(options.signal ? { signal: options.signal } : {}),
          onBytes: (n) => report(file, n, listed.size),
          context: { repo, revision, file, endpoint: hub.endpoint, hadToken: hub.token !== undefined },
        });
      }
      linkSnapshotFile(hub.cacheDir, repo, commit, file, listed.etag);
    }
  };

  const plan = await planFiles(repo, files, async () => {
    await ensureFile(WEIGHTS_INDEX);
    return readFileSync(join(snapshot, WEIGHTS_INDEX), 'utf8');
  });
  total = plan.reduce((sum, f) => sum + (files.get(f) as ListedFile).size, 0);
  filesTotal = plan.length;
  for (const file of plan) {
    await ensureFile(file);
    const size = (files.get(file) as ListedFile).size;
    done += size;
    filesDone++;
    options.onProgress?.({ repo, file, fileBytes: size, fileTotal: size, bytes: done, total, filesDone, filesTotal });
  }
  writeRef(hub.cacheDir, repo, revision, commit);

  const cached = findCachedModel(hub.cacheDir, repo, commit);
  if (!cached) throw new SftError(`downloaded ${repo}@${commit} but the snapshot ${snapshot} is still incomplete`, HubErrorCode.Integrity);
  return { ...cached, revision };
}
