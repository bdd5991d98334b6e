// Pushing to the local Hub stand-in (test/helpers/hub-server.ts, which speaks the upload protocol
// of @huggingface/hub: repo create, preupload, LFS batch + PUT, NDJSON commit): the files arrive
// byte for byte (read back through the Hub's download endpoint), a re-push updates, and each
// failure has its code: no token, a read-only token, a repo with other content, no network.
import { downloadFile } from '@huggingface/hub';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushFiles, type PushOptions } from '../../src/hub/push.js';
import { adapterPushFiles, mergedPushFiles } from '../../src/hub/push-files.js';
import type { HubSettings } from '../../src/hub/settings.js';
import { startHubServer, type HubServer } from '../helpers/hub-server.js';

let hub: HubServer;
let work: string;
let adapterDir: string;
beforeAll(async () => {
  hub = await startHubServer([{ id: 'someone/other-model', files: { 'config.json': Buffer.from('{}'), 'model.safetensors': Buffer.from('weights') } }]);
  work = mkdtempSync(join(tmpdir(), 'nq-push-'));
  adapterDir = join(work, 'run');
  mkdirSync(adapterDir);
  writeFileSync(join(adapterDir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['q_proj'] }));
  writeFileSync(join(adapterDir, 'adapter_model.safetensors'), randomBytes(300_000));
});
afterAll(async () => {
  await hub.close();
  rmSync(work, { recursive: true, force: true });
});

const settings = (token: string | undefined, endpoint = hub.url): HubSettings => ({ endpoint, cacheDir: join(work, 'cache'), offline: false, ...(token ? { token } : {}) });
const push = (repo: string, extra: Partial<PushOptions> = {}) =>
  pushFiles({ repo, files: [...adapterPushFiles(adapterDir), { path: 'README.md', source: { text: '# card\n' } }], private: false, hub: settings(hub.token), commitTitle: 'test push', ...extra });

async function downloaded(repo: string, path: string): Promise<Buffer> {
  const blob = await downloadFile({ repo, path, hubUrl: hub.url, accessToken: hub.token });
  return Buffer.from(await (blob as Blob).arrayBuffer());
}

describe('pushFiles', () => {
  it('creates the repo and commits the files; the large one through LFS; they download byte for byte', async () => {
    const phases: string[] = [];
    const r = await push('me/adapter-a', { private: true, onProgress: (p) => phases.push(p.phase) });
    expect(r).toMatchObject({ url: `${hub.url}/me/adapter-a`, created: true, files: ['adapter_config.json', 'adapter_model.safetensors', 'README.md'] });
    expect(r.commit).toBe(hub.commitOf('me/adapter-a'));
    expect(phases).toEqual(expect.arrayContaining(['repo', 'preuploading', 'uploadingLargeFiles', 'committing']));
    const paths = hub.requests.map((q) => `${q.method} ${q.path}`);
    expect(paths).toContain('POST /api/repos/create');
    expect(paths).toContain('POST /me/adapter-a.git/info/lfs/objects/batch');
    expect(paths.filter((p) => p.startsWith('PUT /lfs-objects/'))).toHaveLength(1); // only the .safetensors goes through LFS
    expect(hub.repos.get('me/adapter-a')?.private).toBe(true);
    for (const f of ['adapter_config.json', 'adapter_model.safetensors']) {
      expect((await downloaded('me/adapter-a', f)).equals(readFileSync(join(adapterDir, f))), f).toBe(true);
    }
    expect((await downloaded('me/adapter-a', 'README.md')).toString()).toBe('# card\n');
  });

  it('a repo holding only an earlier push of the same files is updated (a new commit; the stored LFS object is not sent again)', async () => {
    await push('me/adapter-b');
    const first = hub.commitOf('me/adapter-b');
    const puts = hub.requests.filter((q) => q.method === 'PUT').length;
    const r = await push('me/adapter-b', { files: [...adapterPushFiles(adapterDir), { path: 'README.md', source: { text: '# card v2\n' } }] });
    expect(r.created).toBe(false);
    expect(r.commit).not.toBe(first);
    expect(hub.requests.filter((q) => q.method === 'PUT').length).toBe(puts);
    expect((await downloaded('me/adapter-b', 'README.md')).toString()).toBe('# card v2\n');
  });

  it('refusals: no token, a read-only token, an unknown token, a repo with other content, a bad repo id', async () => {
    await expect(push('me/x', { hub: settings(undefined) })).rejects.toMatchObject({ code: 'HUB_TOKEN_MISSING', message: expect.stringMatching(/set HF_TOKEN/) });
    await expect(push('me/x', { hub: settings(hub.tokenWithoutAccess) })).rejects.toMatchObject({ code: 'HUB_AUTH', message: expect.stringMatching(/403 forbidden.*write access to the namespace 'me'/) });
    await expect(push('me/x', { hub: settings('hf_not_a_known_token') })).rejects.toMatchObject({ code: 'HUB_AUTH', message: expect.stringMatching(/401/) });
    await expect(push('someone/other-model')).rejects.toMatchObject({
      code: 'HUB_REPO_CONFLICT',
      message: expect.stringMatching(/already exists and holds files this push would not replace \(config\.json, model\.safetensors\)/),
    });
    expect(hub.repos.get('someone/other-model')?.files['adapter_config.json']).toBeUndefined();
    await expect(push('not a repo')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(push('me/x', { hub: { ...settings(hub.token), offline: true } })).rejects.toMatchObject({ code: 'HUB_OFFLINE' });
  });

  it('network: an unreachable endpoint, and a connection cut during the LFS upload (nothing committed)', async () => {
    const closed = await startHubServer([]);
    const deadUrl = closed.url;
    await closed.close();
    await expect(push('me/y', { hub: settings(hub.token, deadUrl) })).rejects.toMatchObject({ code: 'HUB_NETWORK', message: expect.stringMatching(/cannot reach the Hub/) });
    // New weights, so that the Hub does not hold their LFS object yet.
    const fresh = join(work, 'fresh');
    mkdirSync(fresh);
    writeFileSync(join(fresh, 'adapter_config.json'), '{}');
    writeFileSync(join(fresh, 'adapter_model.safetensors'), randomBytes(200_000));
    hub.dropNextUpload();
    await expect(push('me/z', { files: adapterPushFiles(fresh) })).rejects.toMatchObject({ code: 'HUB_NETWORK' });
    expect(hub.repos.get('me/z')?.files['adapter_model.safetensors']).toBeUndefined();
    const again = await push('me/z', { files: adapterPushFiles(fresh) }); // the repo the failed push created holds nothing else: the retry completes it
    expect(again.created).toBe(false);
    expect((await downloaded('me/z', 'adapter_model.safetensors')).equals(readFileSync(join(fresh, 'adapter_model.safetensors')))).toBe(true);
  });

  it('folders: an adapter folder needs both PEFT files; a merged folder config.json and weights (run files stay local)', () => {
    expect(() => adapterPushFiles(join(work, 'nope'))).toThrow(/no such folder/);
    const empty = join(work, 'empty');
    mkdirSync(empty);
    expect(() => adapterPushFiles(empty)).toThrow(/adapter_config\.json and adapter_model\.safetensors missing/);
    expect(() => mergedPushFiles(empty)).toThrow(/config\.json and \*\.safetensors weights missing/);
    const merged = join(work, 'merged');
    mkdirSync(merged);
    for (const f of ['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json', 'tokenizer.json', 'run.json', 'log.jsonl', 'README.md']) {
      writeFileSync(join(merged, f), 'x');
    }
    expect(mergedPushFiles(merged).map((f) => f.path)).toEqual(['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json', 'tokenizer.json']);
  });
});
