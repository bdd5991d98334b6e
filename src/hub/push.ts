// Uploads a folder's files to a Hub model repo through @huggingface/hub: create the repo (or
// find it), refuse one that holds other content, then one commit (preupload, LFS for the large
// files, the NDJSON commit). The Hub's refusals become SftErrors with stable codes and a next step.
// Not for: choosing the files or writing the model card (push-files.ts, model-card.ts).
import { commitIter, createRepo, HubApiError, listFiles, type CommitOperation } from '@huggingface/hub';
import { openAsBlob } from 'node:fs';
import { ErrorCode, SftError } from '../errors.js';
import { HubErrorCode, unreachableError } from './hub-errors.js';
import { isRepoId } from './repo-id.js';
import type { HubSettings } from './settings.js';

/** Codes for failures of a push (beside HubErrorCode). */
export const PushErrorCode = {
  /** No HF_TOKEN (nor saved token): uploading needs one with write access. */
  TokenMissing: 'HUB_TOKEN_MISSING',
  /** The repo exists and holds files this push would not replace. */
  RepoConflict: 'HUB_REPO_CONFLICT',
} as const;

/** Files the Hub puts in every new repo, which a push may find there. */
const HUB_CREATED_FILES = new Set(['.gitattributes']);

export interface PushFile {
  /** Path inside the repo. */
  path: string;
  /** Local file to read (streamed), or UTF-8 text (the model card). */
  source: { file: string } | { text: string };
}

export type PushProgress =
  | { phase: 'repo'; created: boolean }
  | { phase: 'preuploading' | 'uploadingLargeFiles' | 'committing' }
  | { phase: 'file'; path: string; state: 'hashing' | 'uploading'; progress: number };

export interface PushOptions {
  repo: string;
  files: PushFile[];
  /** A new repo is created private. An existing repo keeps its visibility. */
  private: boolean;
  hub: HubSettings;
  commitTitle: string;
  onProgress?: (p: PushProgress) => void;
  signal?: AbortSignal;
}

export interface PushResult {
  /** The repo's page. */
  url: string;
  /** The commit the push made. */
  commit: string;
  /** The repo was created by this push (false: it existed). */
  created: boolean;
  files: string[];
}

function failure(err: unknown, o: PushOptions, step: string): SftError {
  if (err instanceof SftError) return err;
  if (o.signal?.aborted) return new SftError(`push to ${o.repo} stopped while ${step}; nothing was committed unless the Hub answered the commit`, ErrorCode.Aborted);
  if (!(err instanceof HubApiError)) {
    // fetch() rejects with a TypeError whose cause is the socket's error: refused, reset, cut.
    if (err instanceof TypeError && (err as { cause?: unknown }).cause !== undefined) return unreachableError(o.hub.endpoint, err);
    const message = err instanceof Error ? err.message : String(err);
    return new SftError(`${o.hub.endpoint} gave an answer the upload could not use during ${step} for ${o.repo} (${message}); try again, and check that HF_ENDPOINT is a Hugging Face Hub`, HubErrorCode.Network);
  }
  const said = typeof err.data?.error === 'string' ? ` (the Hub said: ${err.data.error.replace(/\s+/g, ' ').slice(0, 300)})` : '';
  const at = `${o.hub.endpoint} refused ${step} for ${o.repo}`;
  if (err.statusCode === 401) {
    return new SftError(`${at} (401 unauthorized)${said}; HF_TOKEN was not accepted: check that it is valid (https://huggingface.co/settings/tokens)`, HubErrorCode.Auth);
  }
  if (err.statusCode === 403) {
    return new SftError(`${at} (403 forbidden)${said}; use an HF_TOKEN with write access to the namespace '${o.repo.split('/')[0]}'`, HubErrorCode.Auth);
  }
  if (err.statusCode === 404) return new SftError(`${at} (404 not found)${said}; check the repo id and that the namespace exists`, HubErrorCode.NotFound);
  return new SftError(`${at}: it answered ${err.statusCode}${said}; try again later (a repeated push re-sends only what the Hub lacks)`, HubErrorCode.Network);
}

/** Creates the repo, or checks that the existing one holds nothing but what this push replaces. */
async function ensureRepo(o: PushOptions, common: { hubUrl: string; accessToken: string; fetch: typeof fetch }): Promise<boolean> {
  try {
    await createRepo({ repo: { type: 'model', name: o.repo }, visibility: o.private ? 'private' : 'public', ...common });
    return true;
  } catch (err) {
    if (!(err instanceof HubApiError && err.statusCode === 409)) throw failure(err, o, 'creating the repo');
  }
  const ours = new Set(o.files.map((f) => f.path));
  const others: string[] = [];
  try {
    for await (const entry of listFiles({ repo: { type: 'model', name: o.repo }, recursive: true, ...common })) {
      if (entry.type === 'file' && !ours.has(entry.path) && !HUB_CREATED_FILES.has(entry.path)) others.push(entry.path);
    }
  } catch (err) {
    throw failure(err, o, 'listing the existing repo');
  }
  if (others.length > 0) {
    const shown = others.slice(0, 5).join(', ') + (others.length > 5 ? `, ... (${others.length} in all)` : '');
    throw new SftError(
      `${o.hub.endpoint}/${o.repo} already exists and holds files this push would not replace (${shown}); ` +
        'push to a new --repo, or delete those files on the Hub first (a repo that holds only an earlier push of the same files is updated)',
      PushErrorCode.RepoConflict,
    );
  }
  return false;
}

export async function pushFiles(o: PushOptions): Promise<PushResult> {
  if (!isRepoId(o.repo)) throw new SftError(`--repo: expected a Hub repo id org/name but received ${JSON.stringify(o.repo)}`, ErrorCode.InvalidArgument);
  if (o.hub.offline) throw new SftError('pushing needs the network but HF_HUB_OFFLINE is set; unset it to push', HubErrorCode.Offline);
  const token = o.hub.token;
  if (token === undefined) {
    throw new SftError(
      `pushing to ${o.hub.endpoint} needs a token with write access: set HF_TOKEN (https://huggingface.co/settings/tokens) or log in with \`hf auth login\``,
      PushErrorCode.TokenMissing,
    );
  }
  if (!token.startsWith('hf_')) {
    throw new SftError("HF_TOKEN (or the saved token) must start with 'hf_'; create one at https://huggingface.co/settings/tokens", ErrorCode.InvalidArgument);
  }
  const signal = o.signal;
  const wrappedFetch: typeof fetch = (input, init) => fetch(input, { ...init, ...(signal ? { signal } : {}) });
  const common = { hubUrl: o.hub.endpoint, accessToken: token, fetch: wrappedFetch };

  const created = await ensureRepo(o, common);
  o.onProgress?.({ phase: 'repo', created });
  const operations: CommitOperation[] = [];
  for (const f of o.files) {
    const content = 'file' in f.source ? await openAsBlob(f.source.file) : new Blob([f.source.text]);
    operations.push({ operation: 'addOrUpdate', path: f.path, content });
  }
  let step = 'uploading';
  try {
    const iterator = commitIter({ repo: { type: 'model', name: o.repo }, operations, title: o.commitTitle, ...common, ...(signal ? { abortSignal: signal } : {}) });
    for (;;) {
      const next = await iterator.next();
      if (next.done) {
        const commit = next.value?.commit.oid;
        if (typeof commit !== 'string') throw new SftError(`${o.hub.endpoint} answered the commit to ${o.repo} without a commit id; is HF_ENDPOINT a Hugging Face Hub?`, HubErrorCode.Network);
        return { url: `${o.hub.endpoint}/${o.repo}`, commit, created, files: o.files.map((f) => f.path) };
      }
      const e = next.value;
      if (e.event === 'phase') {
        step = e.phase === 'committing' ? 'the commit' : e.phase === 'preuploading' ? 'the upload plan (preupload)' : 'the upload of the large files (LFS)';
        o.onProgress?.({ phase: e.phase });
      } else if (e.state !== 'error') {
        o.onProgress?.({ phase: 'file', path: e.path, state: e.state, progress: e.progress });
      }
    }
  } catch (err) {
    throw failure(err, o, step);
  }
}
