// Turns what a user typed for --model into a local checkpoint directory. In order:
//   'demo'                      the bundled tiny model
//   an existing directory       used as it is (it must hold config.json)
//   a .gguf file                imported once into a cache folder (src/gguf/import-cache.ts)
//   a preset (qwen3-4b)         its Hub repo id, then as below
//   a repo id (org/name)        the Hugging Face cache if a complete snapshot is there (no
//                               network at all), else a download into that cache
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ErrorCode, SftError } from '../errors.js';
import { PACKAGE_ROOT } from '../package-info.js';
import type { ConvertProgress } from '../gguf/convert.js';
import { findImportedGguf, ggufImportDir, importGgufCached, isGgufFile } from '../gguf/import-cache.js';
import { findCachedModel } from './cache.js';
import { downloadModel, type DownloadProgress } from './download.js';
import { HubErrorCode, offlineError } from './hub-errors.js';
import { findPreset, presetNames } from './presets.js';
import { isRepoId, isValidRevision } from './repo-id.js';
import { hubSettingsFromEnv, type HubSettings } from './settings.js';

/** The bundled tiny model (assets/demo/model), made by scripts/make_demo_model.py. */
export const DEMO_MODEL_DIR = join(PACKAGE_ROOT, 'assets', 'demo', 'model');

export type ModelSource = 'demo' | 'local' | 'cache' | 'download' | 'gguf';

export interface ResolvedModel {
  /** A checkpoint folder: config.json, tokenizer files, *.safetensors. */
  dir: string;
  source: ModelSource;
  /** Hub repo id, for presets and repo ids. */
  repo?: string;
  /** Commit sha of the snapshot, for presets and repo ids. */
  commit?: string;
  /** The GGUF file the folder was imported from, and whether this call imported it (false: cached). */
  gguf?: { file: string; imported: boolean };
}

export interface ResolveModelOptions {
  /** Branch, tag or commit sha of a Hub repo. @default 'main' */
  revision?: string;
  /** Called while files download (not called when the model is local or cached). @default none */
  onProgress?: (progress: DownloadProgress) => void;
  /** Stops a download (the partial file is kept and the next call resumes it) or a GGUF import. @default none */
  signal?: AbortSignal;
  /** Called per tensor while a .gguf file is imported (not called when its import is cached). @default none */
  onImport?: (progress: ConvertProgress) => void;
  /** Overrides of what the environment says (HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE / HF_HOME, HF_HUB_OFFLINE). @default the environment's */
  hub?: Partial<HubSettings>;
}

type ModelRef =
  | { kind: 'demo' }
  | { kind: 'local'; dir: string }
  | { kind: 'gguf'; file: string }
  | { kind: 'repo'; repo: string; preset: boolean };

function checkedLocalDir(model: string, dir: string): string {
  if (!statSync(dir).isDirectory()) {
    throw new SftError(`model '${model}' is a file (${dir}); pass the folder holding config.json and *.safetensors`, ErrorCode.FileNotFound);
  }
  if (!existsSync(join(dir, 'config.json'))) {
    throw new SftError(`model directory ${dir} has no config.json; is it a Hugging Face checkpoint folder?`, ErrorCode.FileNotFound);
  }
  return dir;
}

/** Decides what kind of name `model` is; touches only the local file system. */
function classify(model: string): ModelRef {
  if (model === 'demo') return { kind: 'demo' };
  const dir = resolve(model);
  if (isGgufFile(dir)) return { kind: 'gguf', file: dir };
  if (existsSync(dir)) return { kind: 'local', dir: checkedLocalDir(model, dir) };
  const preset = findPreset(model);
  if (preset) return { kind: 'repo', repo: preset.repo, preset: true };
  if (isRepoId(model)) return { kind: 'repo', repo: model, preset: false };
  throw new SftError(
    `model '${model}' is not 'demo', a local directory or .gguf file (looked for ${dir}), a preset (${presetNames()}) or a Hub repo id (org/name); ` +
      "run 'sft models' to list the presets",
    ErrorCode.FileNotFound,
  );
}

function hubSettings(overrides: Partial<HubSettings> | undefined): HubSettings {
  return { ...hubSettingsFromEnv(), ...overrides };
}

function checkRevision(revision: string): void {
  if (!isValidRevision(revision)) throw new SftError(`'${revision}' is not a valid revision (a branch, tag or commit sha)`, ErrorCode.InvalidArgument);
}

export async function resolveModel(model: string, options: ResolveModelOptions = {}): Promise<ResolvedModel> {
  const ref = classify(model);
  if (ref.kind === 'demo') return { dir: DEMO_MODEL_DIR, source: 'demo' };
  if (ref.kind === 'local') return { dir: ref.dir, source: 'local' };
  if (ref.kind === 'gguf') {
    const { dir, imported } = await importGgufCached(ref.file, {
      ...(options.onImport ? { onProgress: options.onImport } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return { dir, source: 'gguf', gguf: { file: ref.file, imported } };
  }

  const revision = options.revision ?? 'main';
  checkRevision(revision);
  const hub = hubSettings(options.hub);
  const cached = findCachedModel(hub.cacheDir, ref.repo, revision);
  if (cached) return { dir: cached.dir, source: 'cache', repo: ref.repo, commit: cached.commit };
  if (hub.offline) throw offlineError(ref.repo, revision, hub.cacheDir);
  try {
    const downloaded = await downloadModel(ref.repo, {
      revision,
      hub,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return { dir: downloaded.dir, source: 'download', repo: ref.repo, commit: downloaded.commit };
  } catch (err) {
    // 'runs/qwen' may have been meant as a folder that is not there yet: say so beside the Hub's answer.
    if (!ref.preset && err instanceof SftError && (err.code === HubErrorCode.NotFound || err.code === HubErrorCode.Auth)) {
      throw new SftError(`${err.message} (there is no local directory ${resolve(model)} either)`, err.code);
    }
    throw err;
  }
}

/**
 * Synchronous resolution for callers that cannot await: 'demo', a local directory, a .gguf file
 * already imported, or a preset or repo id already complete in the Hugging Face cache. Anything
 * that needs a download or an import throws; use resolveModel for that.
 */
export function resolveModelDir(model: string, revision = 'main'): string {
  const ref = classify(model);
  if (ref.kind === 'demo') return DEMO_MODEL_DIR;
  if (ref.kind === 'local') return ref.dir;
  if (ref.kind === 'gguf') {
    const dir = findImportedGguf(ref.file);
    if (dir) return dir;
    throw new SftError(`${ref.file} has not been imported yet (it would go to ${ggufImportDir(ref.file)}); resolveModel() imports it`, ErrorCode.FileNotFound);
  }
  checkRevision(revision);
  const hub = hubSettingsFromEnv();
  const cached = findCachedModel(hub.cacheDir, ref.repo, revision);
  if (cached) return cached.dir;
  if (hub.offline) throw offlineError(ref.repo, revision, hub.cacheDir);
  throw new SftError(`${ref.repo}@${revision} is not in the Hugging Face cache (${hub.cacheDir}); resolveModel() downloads it`, ErrorCode.FileNotFound);
}
