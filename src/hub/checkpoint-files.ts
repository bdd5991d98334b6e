// Which files of a Hub repo make a checkpoint we can load, shared by the cache lookup (is this
// snapshot complete?) and the download (what to fetch). Only safetensors weights: .bin, .pt and
// .gguf are never fetched, pickles because loading them runs code, gguf because we don't read it.
import { ErrorCode, SftError } from '../errors.js';

/** A snapshot without these is not a checkpoint we can load. */
export const REQUIRED_FILES = ['config.json', 'tokenizer.json'] as const;

/** Fetched when the repo has them: generation defaults, tokenizer settings, chat templates. */
export const OPTIONAL_FILES = [
  'generation_config.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  'chat_template.json',
] as const;

/** Named chat templates live in this folder (transformers 5 reads every *.jinja in it). */
export const EXTRA_TEMPLATES_DIR = 'additional_chat_templates/';

export const SINGLE_WEIGHTS = 'model.safetensors';
export const WEIGHTS_INDEX = 'model.safetensors.index.json';

/** True for the optional files and the extra chat templates. */
export function isOptionalFile(path: string): boolean {
  if ((OPTIONAL_FILES as readonly string[]).includes(path)) return true;
  return path.startsWith(EXTRA_TEMPLATES_DIR) && path.endsWith('.jinja') && !path.slice(EXTRA_TEMPLATES_DIR.length).includes('/');
}

/**
 * A repo-relative path that stays inside the snapshot folder. Paths come from the Hub's listing
 * and from the index file, i.e. from whoever owns the repo, and are joined onto cache paths.
 */
export function isSafeRelativePath(path: string): boolean {
  if (path === '' || path.startsWith('/') || path.includes('\\') || path.includes('\0')) return false;
  return path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/** The shard files an index's weight_map names, in first-use order. */
export function shardsOfIndex(indexText: string, where: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(indexText);
  } catch (e) {
    throw new SftError(`${where} is not valid JSON (${(e as Error).message}); delete it so it is fetched again`, ErrorCode.ConfigInvalid);
  }
  const weightMap = (parsed as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new SftError(`${where} has no "weight_map" object mapping tensor names to shard files`, ErrorCode.ConfigInvalid);
  }
  const shards = [...new Set(Object.values(weightMap))];
  for (const shard of shards) {
    if (typeof shard !== 'string' || !shard.endsWith('.safetensors') || !isSafeRelativePath(shard)) {
      throw new SftError(`${where} names ${JSON.stringify(shard)} as a shard; expected a relative *.safetensors file name`, ErrorCode.ConfigInvalid);
    }
  }
  return shards as string[];
}
