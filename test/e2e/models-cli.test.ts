// `sft models` and `sft generate --model org/name` run as a user would (the built CLI), with the
// Hub replaced by test/helpers/hub-server.ts through HF_ENDPOINT and the cache in a temp folder.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sft } from '../helpers/cli.js';
import { demoRepoFiles, startHubServer, writePythonCache, type HubServer } from '../helpers/hub-server.js';

interface ModelsJson {
  cacheDir: string;
  presets: { preset: string; repo: string; family: string; cached: boolean; path?: string; bytes?: number; commit?: string }[];
}

let server: HubServer;
let work: string;
beforeAll(async () => {
  server = await startHubServer([
    { id: 'org/tiny', files: demoRepoFiles() },
    { id: 'org/gated', files: demoRepoFiles(), gated: true },
  ]);
});
afterAll(() => server.close());
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-models-cli-'));
  // The child process inherits these: no real token, cache or offline flag from this machine.
  vi.stubEnv('HF_HUB_CACHE', join(work, 'cache'));
  vi.stubEnv('HF_HOME', work);
  vi.stubEnv('HF_TOKEN', '');
  vi.stubEnv('HF_HUB_OFFLINE', '');
  vi.stubEnv('HF_ENDPOINT', server.url);
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(work, { recursive: true, force: true });
});

describe('sft models', () => {
  it('--json lists every preset and shows the one in the cache as cached, with its path and size', async () => {
    const files = { 'config.json': Buffer.from('{}'), 'tokenizer.json': Buffer.from('{}'), 'model.safetensors': Buffer.alloc(4096, 1) };
    const { snapshot, commit } = writePythonCache(join(work, 'cache'), 'unsloth/Qwen3-1.7B-unsloth-bnb-4bit', files);
    const res = await sft(['models', '--json']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as ModelsJson;
    expect(out.cacheDir).toBe(join(work, 'cache'));
    expect(out.presets.map((p) => p.preset)).toEqual([
      'llama-3.2-1b', 'llama-3.2-3b', 'gemma-3-1b', 'gemma-3-4b', 'qwen3-1.7b', 'qwen3-4b', 'phi-4-mini', 'mistral-7b', 'gemma-2-9b',
    ]);
    expect(out.presets.find((p) => p.preset === 'qwen3-1.7b')).toMatchObject({
      repo: 'unsloth/Qwen3-1.7B-unsloth-bnb-4bit',
      family: 'qwen3',
      cached: true,
      path: snapshot,
      bytes: 4096 + 2, // config.json and tokenizer.json hold the same bytes: one blob
      commit,
    });
    expect(out.presets.filter((p) => p.cached).map((p) => p.preset)).toEqual(['qwen3-1.7b']);
  });

  it('prints a table with the cache folder', async () => {
    writePythonCache(join(work, 'cache'), 'unsloth/Qwen3-4B-unsloth-bnb-4bit', {
      'config.json': Buffer.from('{}'),
      'tokenizer.json': Buffer.from('{}'),
      'model.safetensors': Buffer.alloc(2048),
    });
    const res = await sft(['models']);
    expect(res.code).toBe(0);
    const lines = res.stdout.split('\n');
    expect(lines[0]).toMatch(/^preset\s+repo\s+family\s+cached$/);
    expect(lines.find((l) => l.startsWith('qwen3-4b '))).toMatch(/unsloth\/Qwen3-4B-unsloth-bnb-4bit\s+qwen3\s+yes\s+2\.0 KiB\s+\//);
    expect(lines.find((l) => l.startsWith('mistral-7b '))).toMatch(/\sno$/);
    expect(res.stdout).toContain(`cache: ${join(work, 'cache')}`);
  });
});

describe('sft generate --model org/name', () => {
  it('downloads from HF_ENDPOINT into HF_HUB_CACHE, generates what the same weights generate, then runs from the cache', async () => {
    const args = ['--prompt', 'The movie was', '--max-new-tokens', '8', '--json'];
    const demo = await sft(['generate', '--model', 'demo', ...args]);
    expect(demo.code).toBe(0);

    const mark = server.requests.length;
    const first = await sft(['generate', '--model', 'org/tiny', ...args]);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual(JSON.parse(demo.stdout));
    expect(first.stderr).toContain('download model.safetensors');
    expect(server.requests.slice(mark).some((q) => q.path.endsWith('/model.safetensors'))).toBe(true);

    const again = server.requests.length;
    const second = await sft(['generate', '--model', 'org/tiny', ...args]);
    expect(second.code).toBe(0);
    expect(second.stderr).toBe('');
    expect(second.stdout).toBe(first.stdout);
    expect(server.requests.length).toBe(again);
  });

  it('offline with the model not cached: exit 1, saying offline mode is on', async () => {
    vi.stubEnv('HF_HUB_OFFLINE', '1');
    const mark = server.requests.length;
    const res = await sft(['generate', '--model', 'org/tiny', '--prompt', 'hi', '--json']);
    expect(res.code).toBe(1);
    // --json: the failure is one {"error": {code, message, hint}} line on stdout
    const { error } = JSON.parse(res.stdout.trim());
    expect(error.code).toBe('HUB_OFFLINE');
    expect(`${error.message} ${error.hint}`).toContain('HF_HUB_OFFLINE');
    expect(server.requests.length).toBe(mark);
  });

  it('a gated repo without HF_TOKEN: exit 1, saying to set it; with it, it downloads', async () => {
    const refused = await sft(['generate', '--model', 'org/gated', '--prompt', 'hi', '--json']);
    expect(refused.code).toBe(1);
    const { error } = JSON.parse(refused.stdout.trim());
    expect(error.code).toBe('HUB_AUTH');
    expect(`${error.message} ${error.hint}`).toContain('HF_TOKEN');
    vi.stubEnv('HF_TOKEN', server.token);
    const ok = await sft(['generate', '--model', 'org/gated', '--prompt', 'hi', '--max-new-tokens', '2', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
  });
});
