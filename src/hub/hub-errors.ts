// What the Hub's refusals mean for the user and what to do about them. HTTP statuses (and the
// X-Error-Code the Hub sets) become SftErrors with stable codes and a next step.
import { SftError } from '../errors.js';
import { presetNames } from './presets.js';

/** Codes for failures talking to the Hub (beside the shared ErrorCode list). */
export const HubErrorCode = {
  /** 401/403: private or gated repo, missing or insufficient token. */
  Auth: 'HUB_AUTH',
  /** 404: no such repo, revision or file. */
  NotFound: 'HUB_NOT_FOUND',
  /** HF_HUB_OFFLINE is set and the model is not in the cache. */
  Offline: 'HUB_OFFLINE',
  /** The Hub could not be reached or answered with an unexpected status. */
  Network: 'HUB_NETWORK',
  /** A downloaded file's size or hash differs from what the Hub listed. */
  Integrity: 'HUB_INTEGRITY',
} as const;

export interface HubFailure {
  status: number;
  /** The Hub's X-Error-Code header (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo). */
  errorCode?: string | null;
  /** The Hub's own explanation, when it sent one. */
  detail?: string;
  repo: string;
  revision: string;
  file?: string;
  endpoint: string;
  hadToken: boolean;
}

export function hubHttpError(f: HubFailure): SftError {
  const detail = f.detail ? ` (the Hub said: ${f.detail.replace(/\s+/g, ' ').trim().slice(0, 300)})` : '';
  const what = f.file ? `${f.file} of ${f.repo}` : f.repo;
  if (f.status === 401) {
    const step = f.hadToken
      ? 'HF_TOKEN was sent but not accepted: check that it is valid and can read this repo, and that the repo id is right'
      : 'if the repo is private or gated, set HF_TOKEN to a token that can read it (https://huggingface.co/settings/tokens); otherwise check the repo id';
    return new SftError(`${f.endpoint} refused ${what} (401 unauthorized)${detail}; ${step}`, HubErrorCode.Auth);
  }
  if (f.status === 403) {
    const gated = f.errorCode === 'GatedRepo' ? ' It is a gated repo: accept its license on the repo page first.' : '';
    return new SftError(
      `${f.endpoint} forbids access to ${what} (403 forbidden)${detail}; use an HF_TOKEN whose account was granted access to ${f.endpoint}/${f.repo}.${gated}`,
      HubErrorCode.Auth,
    );
  }
  if (f.status === 404) {
    if (f.errorCode === 'RevisionNotFound') {
      return new SftError(`${f.repo} has no revision '${f.revision}' on ${f.endpoint}${detail}; check the branch, tag or commit`, HubErrorCode.NotFound);
    }
    if (f.file && f.errorCode === 'EntryNotFound') {
      return new SftError(`${f.repo}@${f.revision} has no file ${f.file}${detail}`, HubErrorCode.NotFound);
    }
    return new SftError(
      `no model repo '${f.repo}' on ${f.endpoint} (404)${detail}; check the repo id (org/name as on the Hub), or use a preset: ${presetNames()}`,
      HubErrorCode.NotFound,
    );
  }
  return new SftError(`${f.endpoint} answered ${f.status} for ${what}${detail}; try again later`, HubErrorCode.Network);
}

/** fetch() rejected before any answer: DNS, refused connection, TLS, proxy. */
export function unreachableError(endpoint: string, err: unknown): SftError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (err as Error).message;
  return new SftError(
    `cannot reach the Hub at ${endpoint} (${why}); check the network connection or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use only cached models`,
    HubErrorCode.Network,
  );
}

export function offlineError(repo: string, revision: string, cacheDir: string): SftError {
  return new SftError(
    `${repo}@${revision} is not in the Hugging Face cache (${cacheDir}) and offline mode is on (HF_HUB_OFFLINE); ` +
      'download it once with HF_HUB_OFFLINE unset, or point HF_HUB_CACHE / HF_HOME at a cache that holds it',
    HubErrorCode.Offline,
  );
}
