// Downloads from a local stand-in for the Hub (test/helpers/hub-server.ts) into a temporary
// Hugging Face cache: layout, reuse, resume, auth, errors, offline mode and the environment.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SftError } from '../../src/errors.js';
import { blobPath, findCachedModel, repoCachePath } from '../../src/hub/cache.js';
import type { DownloadProgress } from '../../src/hub/download.js';
import { resolveModel, type ResolveModelOptions } from '../../src/hub/resolve.js';
import type { HubSettings } from '../../src/hub/settings.js';
import { demoRepoFiles, shardedRepoFiles, startHubServer, writePythonCache, type HubServer } from '../helpers/hub-server.js';

const TINY = 'org/tiny';
const QWEN3_4B = 'unsloth/Qwen3-4B-unsloth-bnb-4bit';
const tiny = demoRepoFiles();
const sharded = shardedRepoFiles();
/** What a download of org/tiny must fetch: the checkpoint files, no pickles, gguf, onnx or README. */
const TINY_FETCHED = [
  'additional_chat_templates/tool_use.jinja',
  'config.json',
  'generation_config.json',
  'model.safetensors',
  'special_tokens_map.json',
  'tokenizer.json',
  'tokenizer_config.json',
];

let server: HubServer;
let cacheDir: string;

beforeAll(async () => {
  server = await startHubServer([
    { id: TINY, files: tiny },
    { id: 'org/sharded', files: sharded },
    { id: 'org/gated', files: tiny, gated: true },
    { id: 'org/private', files: tiny, private: true },
    { id: 'org/pickles', files: { 'config.json': tiny['config.json'] as Buffer, 'tokenizer.json': tiny['tokenizer.json'] as Buffer, 'pytorch_model.bin': Buffer.from('x') } },
    { id: QWEN3_4B, files: tiny },
  ]);
});
afterAll(() => server.close());

beforeEach(() => {
  cacheDir = mkdtempSync(join(tmpdir(), 'hub-download-'));
  // Nothing from this machine's environment (a real token, cache or offline flag) leaks in.
  vi.stubEnv('HF_HOME', cacheDir);
  vi.stubEnv('HF_TOKEN', '');
  vi.stubEnv('HF_HUB_CACHE', '');
  vi.stubEnv('HF_HUB_OFFLINE', '');
  vi.stubEnv('HF_ENDPOINT', 'http://127.0.0.1:9'); // tests that mean to use the server say so
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(cacheDir, { recursive: true, force: true });
});

function hub(overrides: Partial<HubSettings> = {}): Partial<HubSettings> {
  return { endpoint: server.url, cacheDir, offline: false, ...overrides };
}

async function resolveFromServer(model: string, options: ResolveModelOptions = {}) {
  return resolveModel(model, { ...options, hub: hub(options.hub) });
}

async function expectSftRejection(promise: Promise<unknown>, code: string, ...mentions: string[]): Promise<SftError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected an SftError ${code}`).toBeInstanceOf(SftError);
  const e = err as SftError;
  expect(e.code, e.message).toBe(code);
  for (const m of mentions) expect(e.message).toContain(m);
  return e;
}

/** Buffer.equals, because vitest's deep equality walks a megabyte buffer element by element (seconds). */
function expectBytes(actual: Buffer, expected: Buffer | undefined): void {
  expect(actual.length).toBe(expected?.length);
  expect(expected !== undefined && actual.equals(expected)).toBe(true);
}

const since = (mark: number) => server.requests.slice(mark);
const resolvesOf = (mark: number, file: string) => since(mark).filter((r) => r.path.endsWith(`/resolve/${server.commitOf(TINY)}/${file}`));

describe('download into the Hugging Face cache', () => {
  it('writes blobs named by etag, relative snapshot symlinks and refs/main, fetching only checkpoint files', async () => {
    const mark = server.requests.length;
    const r = await resolveFromServer(TINY);
    const commit = server.commitOf(TINY);
    expect(r).toEqual({ dir: join(repoCachePath(cacheDir, TINY), 'snapshots', commit), source: 'download', repo: TINY, commit });
    expect(readFileSync(join(repoCachePath(cacheDir, TINY), 'refs', 'main'), 'utf8')).toBe(commit);
    for (const file of TINY_FETCHED) {
      const pointer = join(r.dir, file);
      expect(lstatSync(pointer).isSymbolicLink(), file).toBe(true);
      expect(readlinkSync(pointer).startsWith('../')).toBe(true);
      expect(realpathSync(pointer)).toBe(realpathSync(blobPath(cacheDir, TINY, server.etagOf(TINY, file))));
      expectBytes(readFileSync(pointer), tiny[file]);
    }
    // sha256 names the LFS blob, git's blob sha1 the small files (what the Hub's ETag headers say).
    expect(server.etagOf(TINY, 'model.safetensors')).toMatch(/^[0-9a-f]{64}$/);
    expect(server.etagOf(TINY, 'config.json')).toMatch(/^[0-9a-f]{40}$/);
    const fetched = since(mark).filter((q) => q.path.includes('/resolve/')).map((q) => q.path.split(`/resolve/${commit}/`)[1]);
    expect(fetched.sort()).toEqual(TINY_FETCHED);
    for (const never of ['pytorch_model.bin', 'model.gguf', 'README.md', 'onnx/model.onnx']) expect(existsSync(join(r.dir, never))).toBe(false);
  });

  it('resolves from the cache afterwards without a single request', async () => {
    await resolveFromServer(TINY);
    const mark = server.requests.length;
    const again = await resolveFromServer(TINY);
    expect(again.source).toBe('cache');
    expect(again.commit).toBe(server.commitOf(TINY));
    expect(since(mark)).toEqual([]);
  });

  it('reports progress per file and overall, ending at the total', async () => {
    const events: DownloadProgress[] = [];
    await resolveFromServer(TINY, { onProgress: (p) => events.push({ ...p }) });
    const total = TINY_FETCHED.reduce((n, f) => n + (tiny[f] as Buffer).length, 0);
    const last = events.at(-1) as DownloadProgress;
    expect(last).toMatchObject({ repo: TINY, bytes: total, total, filesDone: TINY_FETCHED.length, filesTotal: TINY_FETCHED.length });
    for (let i = 1; i < events.length; i++) expect((events[i] as DownloadProgress).bytes).toBeGreaterThanOrEqual((events[i - 1] as DownloadProgress).bytes);
    const weights = events.filter((e) => e.file === 'model.safetensors');
    expect(weights.length).toBeGreaterThan(2); // the 1.8 MB file reports while it moves, not only at its end
    expect(weights.at(-1)).toMatchObject({ fileBytes: tiny['model.safetensors']?.length, fileTotal: tiny['model.safetensors']?.length });
  });

  it('fetches a sharded checkpoint: the index and every shard it names', async () => {
    const r = await resolveFromServer('org/sharded');
    for (const file of ['model.safetensors.index.json', 'model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']) {
      expectBytes(readFileSync(join(r.dir, file)), sharded[file]);
    }
    expect(findCachedModel(cacheDir, 'org/sharded')?.dir).toBe(r.dir);
  });

  it('maps a preset to its repo', async () => {
    const r = await resolveFromServer('qwen3-4b');
    expect(r.repo).toBe(QWEN3_4B);
    expect(r.source).toBe('download');
  });

  it('reuses a blob another commit already has (no transfer of unchanged weights)', async () => {
    // Python downloaded an older commit; main moved on but model.safetensors is the same blob.
    writePythonCache(cacheDir, TINY, { 'model.safetensors': tiny['model.safetensors'] as Buffer }, { ref: 'old' });
    const mark = server.requests.length;
    const r = await resolveFromServer(TINY);
    expect(resolvesOf(mark, 'model.safetensors')).toEqual([]);
    expectBytes(readFileSync(join(r.dir, 'model.safetensors')), tiny['model.safetensors']);
  });

  it('follows the redirect of large files to a CDN on another origin, without sending the token there', async () => {
    const cdn = await startHubServer([{ id: TINY, files: tiny }]);
    const hubWithCdn = await startHubServer([{ id: TINY, files: tiny }], { redirectLfs: cdn.url });
    try {
      const r = await resolveModel(TINY, { hub: { endpoint: hubWithCdn.url, cacheDir, offline: false, token: hubWithCdn.token } });
      expectBytes(readFileSync(join(r.dir, 'model.safetensors')), tiny['model.safetensors']);
      expect(cdn.requests.map((q) => q.path)).toEqual([`/cdn/${TINY}/${server.etagOf(TINY, 'model.safetensors')}`]);
      expect(cdn.requests[0]?.authorization).toBeUndefined();
      expect(hubWithCdn.requests.every((q) => q.authorization === `Bearer ${hubWithCdn.token}`)).toBe(true);
    } finally {
      await cdn.close();
      await hubWithCdn.close();
    }
  });
});

describe('resume', () => {
  it('continues with a Range request after the connection drops mid-file', async () => {
    const cut = 700_000;
    server.dropNextTransfer(TINY, 'model.safetensors', cut);
    const mark = server.requests.length;
    const r = await resolveFromServer(TINY);
    const gets = resolvesOf(mark, 'model.safetensors');
    expect(gets).toHaveLength(2);
    expect(gets[0]?.range).toBeUndefined();
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(gets[1]?.range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(cut);
    expectBytes(readFileSync(join(r.dir, 'model.safetensors')), tiny['model.safetensors']);
    expect(existsSync(`${blobPath(cacheDir, TINY, server.etagOf(TINY, 'model.safetensors'))}.incomplete`)).toBe(false);
  });

  it('continues a partial blob left by an earlier run (the .incomplete file Python also uses)', async () => {
    const blob = blobPath(cacheDir, TINY, server.etagOf(TINY, 'model.safetensors'));
    mkdirSync(dirname(blob), { recursive: true });
    writeFileSync(`${blob}.incomplete`, (tiny['model.safetensors'] as Buffer).subarray(0, 500_000));
    const mark = server.requests.length;
    const r = await resolveFromServer(TINY);
    expect(resolvesOf(mark, 'model.safetensors').map((q) => q.range)).toEqual(['bytes=500000-']);
    expectBytes(readFileSync(join(r.dir, 'model.safetensors')), tiny['model.safetensors']);
  });

  it('aborting keeps the partial file; the next call resumes it', async () => {
    const controller = new AbortController();
    const err = await expectSftRejection(
      resolveFromServer(TINY, {
        signal: controller.signal,
        onProgress: (p) => p.file === 'model.safetensors' && p.fileBytes > 0 && controller.abort(),
      }),
      'ABORTED',
      'model.safetensors',
      'resume',
    );
    expect(err).toBeInstanceOf(SftError);
    const partial = `${blobPath(cacheDir, TINY, server.etagOf(TINY, 'model.safetensors'))}.incomplete`;
    const kept = lstatSync(partial).size;
    expect(kept).toBeGreaterThan(0);
    const mark = server.requests.length;
    const r = await resolveFromServer(TINY);
    expect(resolvesOf(mark, 'model.safetensors').map((q) => q.range)).toEqual([`bytes=${kept}-`]);
    expectBytes(readFileSync(join(r.dir, 'model.safetensors')), tiny['model.safetensors']);
  });

  it('a partial file that is not a prefix of the blob fails the hash check, is deleted, and the next run succeeds', async () => {
    const blob = blobPath(cacheDir, TINY, server.etagOf(TINY, 'model.safetensors'));
    mkdirSync(dirname(blob), { recursive: true });
    writeFileSync(`${blob}.incomplete`, Buffer.alloc(1000, 7));
    await expectSftRejection(resolveFromServer(TINY), 'HUB_INTEGRITY', 'model.safetensors', 'run again');
    expect(existsSync(`${blob}.incomplete`)).toBe(false);
    expect(existsSync(blob)).toBe(false);
    const r = await resolveFromServer(TINY);
    expectBytes(readFileSync(join(r.dir, 'model.safetensors')), tiny['model.safetensors']);
  });

  it('rejects bytes whose hash differs from the listing, keeping nothing', async () => {
    const corrupt = await startHubServer([{ id: TINY, files: tiny }]);
    corrupt.corrupt(TINY, 'tokenizer.json');
    try {
      await expectSftRejection(resolveModel(TINY, { hub: { endpoint: corrupt.url, cacheDir, offline: false } }), 'HUB_INTEGRITY', 'tokenizer.json');
      expect(existsSync(blobPath(cacheDir, TINY, corrupt.etagOf(TINY, 'tokenizer.json')))).toBe(false);
      expect(findCachedModel(cacheDir, TINY)).toBeUndefined();
    } finally {
      await corrupt.close();
    }
  });
});

describe('auth and errors', () => {
  it('sends HF_TOKEN as a Bearer token on every request and reads a gated repo with it', async () => {
    vi.stubEnv('HF_TOKEN', server.token);
    vi.stubEnv('HF_ENDPOINT', server.url);
    vi.stubEnv('HF_HUB_CACHE', cacheDir);
    const mark = server.requests.length;
    const r = await resolveModel('org/gated');
    expect(r.source).toBe('download');
    expect(since(mark).length).toBeGreaterThan(3);
    for (const q of since(mark)) expect(q.authorization).toBe(`Bearer ${server.token}`);
  });

  it('a gated repo without a token: 401 saying to set HF_TOKEN', async () => {
    await expectSftRejection(resolveFromServer('org/gated'), 'HUB_AUTH', '401', 'HF_TOKEN', 'org/gated');
  });

  it('a gated repo with a token not granted access: 403 saying to accept the license', async () => {
    await expectSftRejection(resolveFromServer('org/gated', { hub: { token: server.tokenWithoutAccess } }), 'HUB_AUTH', '403', 'gated', 'license');
  });

  it('a private repo without a token: 401 saying to set HF_TOKEN or check the repo id', async () => {
    await expectSftRejection(resolveFromServer('org/private'), 'HUB_AUTH', '401', 'HF_TOKEN', 'check the repo id');
  });

  it('a token the Hub does not know: 401 saying the token was not accepted', async () => {
    await expectSftRejection(resolveFromServer(TINY, { hub: { token: 'hf_revoked' } }), 'HUB_AUTH', 'HF_TOKEN was sent but not accepted');
  });

  it('a token without the hf_ prefix is refused before any request', async () => {
    const mark = server.requests.length;
    await expectSftRejection(resolveFromServer(TINY, { hub: { token: 'abc' } }), 'INVALID_ARGUMENT', "start with 'hf_'");
    expect(since(mark)).toEqual([]);
  });

  it('an unknown repo: 404 saying to check the repo id, and that no such local folder exists', async () => {
    await expectSftRejection(resolveFromServer('org/missing'), 'HUB_NOT_FOUND', "'org/missing'", 'check the repo id', 'no local directory');
  });

  it('an unknown revision: 404 naming it', async () => {
    await expectSftRejection(resolveFromServer(TINY, { revision: 'v9' }), 'HUB_NOT_FOUND', "revision 'v9'");
  });

  it('a repo without safetensors weights is refused, its pickles are not fetched', async () => {
    const mark = server.requests.length;
    await expectSftRejection(resolveFromServer('org/pickles'), 'UNSUPPORTED_MODEL', 'pytorch_model.bin', 'safetensors');
    expect(since(mark).filter((q) => q.path.includes('/resolve/'))).toEqual([]);
  });

  it('an unreachable endpoint: says which one, and how to go offline', async () => {
    await expectSftRejection(resolveModel(TINY, { hub: { endpoint: 'http://127.0.0.1:9', cacheDir, offline: false } }), 'HUB_NETWORK', 'http://127.0.0.1:9', 'HF_HUB_OFFLINE');
  });
});

describe('offline mode and the environment', () => {
  it('HF_HUB_OFFLINE=1 uses the cache and sends nothing', async () => {
    await resolveFromServer(TINY);
    vi.stubEnv('HF_HUB_OFFLINE', '1');
    vi.stubEnv('HF_HUB_CACHE', cacheDir);
    vi.stubEnv('HF_ENDPOINT', server.url);
    const mark = server.requests.length;
    const r = await resolveModel(TINY);
    expect(r.source).toBe('cache');
    expect(since(mark)).toEqual([]);
  });

  it('HF_HUB_OFFLINE=true with the model not cached fails without a request, saying so', async () => {
    vi.stubEnv('HF_HUB_OFFLINE', 'true');
    vi.stubEnv('HF_HUB_CACHE', cacheDir);
    vi.stubEnv('HF_ENDPOINT', server.url);
    const mark = server.requests.length;
    await expectSftRejection(resolveModel(TINY), 'HUB_OFFLINE', 'not in the Hugging Face cache', 'HF_HUB_OFFLINE', cacheDir);
    expect(since(mark)).toEqual([]);
  });

  it('HF_ENDPOINT and HF_HUB_CACHE from the environment decide where it downloads from and to', async () => {
    vi.stubEnv('HF_ENDPOINT', `${server.url}/`);
    vi.stubEnv('HF_HUB_CACHE', join(cacheDir, 'elsewhere'));
    const mark = server.requests.length;
    const r = await resolveModel(TINY);
    expect(r.dir.startsWith(join(cacheDir, 'elsewhere', 'models--org--tiny', 'snapshots'))).toBe(true);
    expect(since(mark).some((q) => q.path === `/api/models/${TINY}/revision/main`)).toBe(true);
  });

  it('HF_HOME/hub is the cache when HF_HUB_CACHE is unset', async () => {
    vi.stubEnv('HF_ENDPOINT', server.url);
    const r = await resolveModel(TINY);
    expect(r.dir.startsWith(join(cacheDir, 'hub', 'models--org--tiny'))).toBe(true);
  });
});
