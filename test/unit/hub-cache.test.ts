// The Hugging Face cache as Python leaves it (built here with plain fs, not src/hub): lookups find
// complete snapshots through refs and symlinks, and say what an incomplete one lacks.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { findCachedModel, missingCheckpointFiles, repoFolderName, snapshotBytes } from '../../src/hub/cache.js';
import { hubSettingsFromEnv } from '../../src/hub/settings.js';
import { demoRepoFiles, shardedRepoFiles, writePythonCache } from '../helpers/hub-server.js';

let cacheDir: string;
beforeEach(() => {
  cacheDir = mkdtempSync(join(tmpdir(), 'hub-cache-'));
});
afterEach(() => rmSync(cacheDir, { recursive: true, force: true }));

const checkpoint = (): Record<string, Buffer> => {
  const { 'pytorch_model.bin': _bin, 'model.gguf': _gguf, ...files } = demoRepoFiles();
  return files;
};

describe('Hugging Face cache layout', () => {
  it('names repo folders as huggingface_hub does', () => {
    expect(repoFolderName('unsloth/Qwen3-4B-unsloth-bnb-4bit')).toBe('models--unsloth--Qwen3-4B-unsloth-bnb-4bit');
  });

  it('finds a snapshot Python downloaded through refs/main and its symlinks', () => {
    const files = checkpoint();
    const { commit, snapshot } = writePythonCache(cacheDir, 'org/tiny', files);
    const found = findCachedModel(cacheDir, 'org/tiny');
    expect(found).toEqual({ repo: 'org/tiny', revision: 'main', commit, dir: snapshot });
    expect(readFileSync(join(snapshot, 'model.safetensors'))).toEqual(files['model.safetensors']);
    // Each blob once: the snapshot's bytes are the files' bytes.
    expect(snapshotBytes(snapshot)).toBe(Object.values(files).reduce((n, b) => n + b.length, 0));
  });

  it('finds a snapshot by commit sha without a ref, and not by a branch it has no ref for', () => {
    const { commit, snapshot } = writePythonCache(cacheDir, 'org/tiny', checkpoint(), { ref: null });
    expect(findCachedModel(cacheDir, 'org/tiny', commit)?.dir).toBe(snapshot);
    expect(findCachedModel(cacheDir, 'org/tiny', 'main')).toBeUndefined();
    expect(findCachedModel(cacheDir, 'org/other', commit)).toBeUndefined();
  });

  it('follows a non-main ref (refs/pr/1 nests like Python writes it)', () => {
    const { snapshot } = writePythonCache(cacheDir, 'org/tiny', checkpoint(), { ref: 'refs/pr/1' });
    expect(findCachedModel(cacheDir, 'org/tiny', 'refs/pr/1')?.dir).toBe(snapshot);
    expect(findCachedModel(cacheDir, 'org/tiny', 'main')).toBeUndefined();
  });

  it('needs every shard of an index', () => {
    const { snapshot } = writePythonCache(cacheDir, 'org/sharded', shardedRepoFiles());
    expect(findCachedModel(cacheDir, 'org/sharded')?.dir).toBe(snapshot);
    unlinkSync(join(snapshot, 'model-00002-of-00003.safetensors'));
    expect(findCachedModel(cacheDir, 'org/sharded')).toBeUndefined();
    expect(missingCheckpointFiles(snapshot)).toEqual(['model-00002-of-00003.safetensors']);
  });

  it('treats a symlink whose blob is gone as missing', () => {
    const { snapshot, repoDir } = writePythonCache(cacheDir, 'org/tiny', checkpoint());
    rmSync(join(repoDir, 'blobs'), { recursive: true });
    expect(missingCheckpointFiles(snapshot)).toEqual(['config.json', 'tokenizer.json', 'model.safetensors']);
    expect(findCachedModel(cacheDir, 'org/tiny')).toBeUndefined();
  });

  it('a snapshot with only config.json (e.g. AutoConfig ran) is not a checkpoint', () => {
    const { snapshot } = writePythonCache(cacheDir, 'org/tiny', { 'config.json': checkpoint()['config.json'] as Buffer });
    expect(missingCheckpointFiles(snapshot)).toEqual(['tokenizer.json', 'model.safetensors']);
  });

  it('counts a blob two snapshot files share once', () => {
    const { snapshot } = writePythonCache(cacheDir, 'org/tiny', checkpoint());
    mkdirSync(join(snapshot, 'copy'));
    symlinkSync(join('..', readlinkSync(join(snapshot, 'model.safetensors'))), join(snapshot, 'copy', 'model.safetensors'));
    const size = Object.values(checkpoint()).reduce((n, b) => n + b.length, 0);
    expect(snapshotBytes(snapshot)).toBe(size);
  });

  it('ignores a ref that does not hold a commit sha', () => {
    const { repoDir } = writePythonCache(cacheDir, 'org/tiny', checkpoint());
    writeFileSync(join(repoDir, 'refs', 'main'), 'not-a-sha');
    expect(findCachedModel(cacheDir, 'org/tiny')).toBeUndefined();
  });
});

describe('settings from the environment (huggingface_hub names and defaults)', () => {
  it('cache root: HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub', () => {
    expect(hubSettingsFromEnv({ HF_HUB_CACHE: '/c', HF_HOME: '/h' }).cacheDir).toBe('/c');
    expect(hubSettingsFromEnv({ HF_HOME: '/h', XDG_CACHE_HOME: '/x' }).cacheDir).toBe(join('/h', 'hub'));
    expect(hubSettingsFromEnv({ XDG_CACHE_HOME: '/x' }).cacheDir).toBe(join('/x', 'huggingface', 'hub'));
    expect(hubSettingsFromEnv({}).cacheDir).toBe(join(homedir(), '.cache', 'huggingface', 'hub'));
    expect(hubSettingsFromEnv({ HF_HUB_CACHE: '', HF_HOME: '/h' }).cacheDir).toBe(join('/h', 'hub'));
  });

  it('endpoint: HF_ENDPOINT without its trailing slash, default huggingface.co', () => {
    expect(hubSettingsFromEnv({}).endpoint).toBe('https://huggingface.co');
    expect(hubSettingsFromEnv({ HF_ENDPOINT: 'https://hf-mirror.com/' }).endpoint).toBe('https://hf-mirror.com');
  });

  it('offline: HF_HUB_OFFLINE=1/true/yes/on in any case', () => {
    for (const v of ['1', 'true', 'TRUE', 'yes', 'On']) expect(hubSettingsFromEnv({ HF_HUB_OFFLINE: v }).offline).toBe(true);
    for (const v of [undefined, '', '0', 'false', 'no']) expect(hubSettingsFromEnv({ HF_HUB_OFFLINE: v }).offline).toBe(false);
  });

  it('token: HF_TOKEN, else the file `hf auth login` saves under HF_HOME', () => {
    expect(hubSettingsFromEnv({ HF_TOKEN: 'hf_env', HF_HOME: cacheDir }).token).toBe('hf_env');
    expect(hubSettingsFromEnv({ HF_HOME: cacheDir }).token).toBeUndefined();
    writeFileSync(join(cacheDir, 'token'), 'hf_saved\n');
    expect(hubSettingsFromEnv({ HF_HOME: cacheDir }).token).toBe('hf_saved');
    expect(hubSettingsFromEnv({ HF_HOME: cacheDir, HF_TOKEN: 'hf_env' }).token).toBe('hf_env');
  });
});
