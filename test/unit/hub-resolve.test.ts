// What --model accepts and in which order: 'demo', a local folder, a preset, a repo id; names
// that are none of these fail with the list of presets. No network here (see hub-download).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { MODEL_PRESETS, findPreset } from '../../src/hub/presets.js';
import { isRepoId } from '../../src/hub/repo-id.js';
import { DEMO_MODEL_DIR, resolveModel, resolveModelDir } from '../../src/hub/resolve.js';
import { expectSftError } from '../helpers/errors.js';
import { demoRepoFiles, writePythonCache } from '../helpers/hub-server.js';

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'hub-resolve-'));
  vi.stubEnv('HF_HUB_CACHE', join(work, 'cache'));
  vi.stubEnv('HF_HUB_OFFLINE', '');
  vi.stubEnv('HF_TOKEN', '');
  vi.stubEnv('HF_ENDPOINT', 'http://127.0.0.1:9'); // nothing listens: a request would fail loudly
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(work, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<() => never> {
  const err = await promise.then(
    () => new Error('resolved'),
    (e: unknown) => e,
  );
  return () => {
    throw err;
  };
}

describe('presets', () => {
  it('have unique names and valid repo ids, as in DESIGN.md', () => {
    expect(new Set(MODEL_PRESETS.map((p) => p.name)).size).toBe(MODEL_PRESETS.length);
    for (const p of MODEL_PRESETS) expect(isRepoId(p.repo), p.repo).toBe(true);
    expect(findPreset('qwen3-4b')).toMatchObject({ repo: 'unsloth/Qwen3-4B-unsloth-bnb-4bit', family: 'qwen3' });
    expect(findPreset('gemma-3-4b')?.family).toBe('gemma3');
    expect(findPreset('unsloth/Qwen3-4B-unsloth-bnb-4bit')).toBeUndefined();
  });
});

describe('repo ids', () => {
  it.each(['unsloth/Qwen3-4B-unsloth-bnb-4bit', 'org/tiny', 'a_b/c.d-e'])('%s is one', (id) => expect(isRepoId(id)).toBe(true));
  it.each(['qwen3-4b', './org/tiny', '/abs/dir', 'a/b/c', 'org/', '/name', 'org/na--me', 'org/..x', 'org/-x', 'org/x.', 'models/', 'a b/c'])('%s is not', (id) =>
    expect(isRepoId(id)).toBe(false),
  );
});

describe('resolveModel', () => {
  it("'demo' is the bundled model", async () => {
    expect(await resolveModel('demo')).toEqual({ dir: DEMO_MODEL_DIR, source: 'demo' });
    expect(resolveModelDir('demo')).toBe(DEMO_MODEL_DIR);
  });

  it('an existing folder wins, even one shaped like a repo id', async () => {
    const dir = join(work, 'org', 'tiny');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), '{}');
    const cwd = process.cwd();
    process.chdir(work);
    try {
      expect(await resolveModel('org/tiny')).toEqual({ dir, source: 'local' });
      expect(resolveModelDir(relative(work, dir))).toBe(dir);
    } finally {
      process.chdir(cwd);
    }
  });

  it('a folder without config.json, and a file, are refused with what to pass instead', async () => {
    mkdirSync(join(work, 'empty'));
    writeFileSync(join(work, 'weights.safetensors'), '');
    expectSftError(await rejection(resolveModel(join(work, 'empty'))), 'FILE_NOT_FOUND', 'has no config.json');
    expectSftError(await rejection(resolveModel(join(work, 'weights.safetensors'))), 'FILE_NOT_FOUND', 'is a file');
  });

  it('an unknown name lists the presets and the other forms', async () => {
    const err = expectSftError(await rejection(resolveModel('qwen9-4b')), 'FILE_NOT_FOUND', "model 'qwen9-4b'", 'local directory', 'org/name', 'sft models');
    for (const p of MODEL_PRESETS) expect(err.message).toContain(p.name);
    expectSftError(await rejection(resolveModel('./missing/dir')), 'FILE_NOT_FOUND', 'qwen3-4b');
  });

  it('a preset and its repo id come from the cache Python filled, without network', async () => {
    const { snapshot, commit } = writePythonCache(join(work, 'cache'), 'unsloth/Qwen3-4B-unsloth-bnb-4bit', {
      'config.json': demoRepoFiles()['config.json'] as Buffer,
      'tokenizer.json': demoRepoFiles()['tokenizer.json'] as Buffer,
      'model.safetensors': Buffer.from('weights'),
    });
    const expected = { dir: snapshot, source: 'cache', repo: 'unsloth/Qwen3-4B-unsloth-bnb-4bit', commit };
    expect(await resolveModel('qwen3-4b')).toEqual(expected);
    expect(await resolveModel('unsloth/Qwen3-4B-unsloth-bnb-4bit')).toEqual(expected);
    expect(resolveModelDir('qwen3-4b')).toBe(snapshot);
    expect(await resolveModel('qwen3-4b', { revision: commit })).toEqual(expected);
  });

  it('resolveModelDir (sync) cannot download: it says to use resolveModel, or that offline mode is on', () => {
    expectSftError(() => resolveModelDir('qwen3-4b'), 'FILE_NOT_FOUND', 'unsloth/Qwen3-4B-unsloth-bnb-4bit', 'resolveModel');
    vi.stubEnv('HF_HUB_OFFLINE', '1');
    expectSftError(() => resolveModelDir('org/tiny'), 'HUB_OFFLINE', 'HF_HUB_OFFLINE');
  });

  it('a revision that could escape refs/ is refused', async () => {
    expectSftError(await rejection(resolveModel('org/tiny', { revision: '../../x' })), 'INVALID_ARGUMENT', 'revision');
  });
});
