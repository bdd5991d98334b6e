// Moves one file from the Hub into blobs/<etag>, resumably: bytes go to blobs/<etag>.incomplete
// (the name Python uses, so either side continues the other's partial file), a broken connection
// or a later run continues from that file's size with an HTTP Range request, and only a file of
// the listed size whose hash equals the etag is renamed onto the blob.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ErrorCode, SftError } from '../errors.js';
import { HubErrorCode, hubHttpError, unreachableError, type HubFailure } from './hub-errors.js';

export interface TransferRequest {
  /** The /resolve/<commit>/<file> URL. */
  url: string;
  token?: string;
  /** Final blob path; the partial file is `${blob}.incomplete`. */
  blob: string;
  size: number;
  /** sha256 (LFS files) or git blob sha1 (small files): what the content must hash to. */
  etag: string;
  signal?: AbortSignal;
  /** Bytes of this file on disk so far, after every chunk. */
  onBytes?: (done: number) => void;
  /** For error messages. */
  context: Omit<HubFailure, 'status' | 'errorCode' | 'detail'>;
}

/** Consecutive failed attempts (no new bytes) before giving up, as huggingface_hub does. */
const MAX_ATTEMPTS = 5;
const REDIRECTS = [301, 302, 303, 307, 308];

/**
 * Follows redirects by hand so the token goes only to the Hub's own origin, never to the CDN a
 * large file redirects to (the CDN URL is signed; a stray Authorization header can even break it).
 */
async function fetchFollowingRedirects(url: string, headers: Record<string, string>, token: string | undefined, signal?: AbortSignal): Promise<Response> {
  const origin = new URL(url).origin;
  let current = new URL(url);
  for (let hop = 0; hop < 10; hop++) {
    const auth: Record<string, string> = token && current.origin === origin ? { Authorization: `Bearer ${token}` } : {};
    const res = await fetch(current, { headers: { ...headers, ...auth }, redirect: 'manual', ...(signal ? { signal } : {}) });
    const location = res.headers.get('location');
    if (!REDIRECTS.includes(res.status) || location === null) return res;
    await res.body?.cancel();
    current = new URL(location, current);
  }
  throw new SftError(`too many redirects fetching ${url}`, HubErrorCode.Network);
}

/** A hasher for the etag's kind, or undefined when the etag is neither (nothing to check). */
function contentHasher(etag: string, size: number): Hash | undefined {
  if (/^[0-9a-f]{64}$/.test(etag)) return createHash('sha256');
  if (/^[0-9a-f]{40}$/.test(etag)) return createHash('sha1').update(`blob ${size}\0`); // git's object id
  return undefined;
}

async function hashPrefix(hasher: Hash, path: string, bytes: number): Promise<void> {
  if (bytes === 0) return;
  for await (const chunk of createReadStream(path, { start: 0, end: bytes - 1 })) hasher.update(chunk as Buffer);
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

function abortedError(req: TransferRequest, done: number): SftError {
  return new SftError(
    `download of ${req.context.file} from ${req.context.repo} aborted at ${done} of ${req.size} bytes; run again to resume`,
    ErrorCode.Aborted,
  );
}

/** Downloads req.url into req.blob, resuming a partial file; resolves once the blob is in place. */
export async function transferToBlob(req: TransferRequest): Promise<void> {
  const partial = `${req.blob}.incomplete`;
  await mkdir(dirname(partial), { recursive: true });
  let hasher = contentHasher(req.etag, req.size);
  let hashed = 0; // bytes of `partial` the hasher has seen
  let failures = 0;
  let lastError: unknown;

  for (;;) {
    let have = await fileSize(partial);
    if (have > req.size) {
      await rm(partial, { force: true }); // not a prefix of this file: start over
      have = 0;
    }
    if (hashed !== have) {
      // The partial file came from an earlier run (or a failed write): hash what is there.
      hasher = contentHasher(req.etag, req.size);
      if (hasher) await hashPrefix(hasher, partial, have);
      hashed = have;
    }
    if (have === req.size) break;
    if (failures >= MAX_ATTEMPTS) {
      throw new SftError(
        `downloading ${req.context.file} of ${req.context.repo} failed ${failures} times in a row (${(lastError as Error)?.message ?? lastError}); ` +
          `${have} of ${req.size} bytes are kept in ${partial}: run again to resume`,
        HubErrorCode.Network,
      );
    }
    if (failures > 0) await new Promise((r) => setTimeout(r, 250 * 2 ** (failures - 1)));
    if (req.signal?.aborted) throw abortedError(req, have);

    const headers: Record<string, string> = { 'Accept-Encoding': 'identity' }; // byte offsets must be of the file itself
    if (have > 0) headers.Range = `bytes=${have}-`;
    let res: Response;
    try {
      res = await fetchFollowingRedirects(req.url, headers, req.token, req.signal);
    } catch (err) {
      if (req.signal?.aborted) throw abortedError(req, have);
      if (err instanceof SftError) throw err;
      failures++;
      lastError = unreachableError(req.context.endpoint, err);
      continue;
    }

    if (res.status === 416) {
      await res.body?.cancel();
      await rm(partial, { force: true });
      failures++;
      lastError = new Error('the server refused the byte range of the partial file');
      continue;
    }
    if (res.status >= 500 || res.status === 429) {
      failures++;
      lastError = new Error(`HTTP ${res.status}`);
      await res.body?.cancel();
      continue;
    }
    if (!res.ok) {
      const detail = await res.text().catch(() => '');
      throw hubHttpError({ ...req.context, status: res.status, errorCode: res.headers.get('x-error-code'), detail });
    }

    let offset = 0;
    if (res.status === 206) {
      offset = Number(/^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1] ?? NaN);
    }
    if (offset !== have) {
      // A 200 (range ignored) or a range we did not ask for: rewrite the file from the start.
      if (res.status === 206) {
        await res.body?.cancel();
        await rm(partial, { force: true });
        failures++;
        lastError = new Error(`the server sent bytes from ${offset}, not ${have}`);
        continue;
      }
      have = 0;
      hasher = contentHasher(req.etag, req.size);
      hashed = 0;
    }

    const file = await open(partial, have === 0 ? 'w' : 'a');
    const before = have;
    let streamError: unknown = new Error('the connection closed early');
    try {
      if (res.body) {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          if (have + chunk.length > req.size) throw new Error(`the server sent more than the listed ${req.size} bytes`);
          await file.writeFile(chunk); // writes all of it (write() may write less)
          hasher?.update(chunk);
          have += chunk.length;
          hashed = have;
          req.onBytes?.(have);
        }
      }
    } catch (err) {
      if (req.signal?.aborted) throw abortedError(req, have);
      streamError = err;
    } finally {
      await file.close();
    }
    if (have === req.size) continue; // loop top verifies and leaves
    failures = have > before ? 1 : failures + 1; // progress was made: only this drop counts
    lastError = streamError;
  }

  const digest = hasher?.digest('hex');
  if (digest !== undefined && digest !== req.etag) {
    await rm(partial, { force: true });
    throw new SftError(
      `${req.context.file} of ${req.context.repo} downloaded with hash ${digest}, but the Hub lists ${req.etag}; the partial file was deleted: run again`,
      HubErrorCode.Integrity,
    );
  }
  await rename(partial, req.blob);
}
