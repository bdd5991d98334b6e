// config.json -> ArchConfig: the one gate between a Hugging Face checkpoint's config and the
// native engine. Parsing is zod (families.ts holds one schema and builder per model_type);
// rope dicts are reduced in rope.ts; tensor shapes are checked by the native loader (WEIGHT_SHAPE).

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { FAMILIES, type ArchConfig } from './arch.js';
import { describeValue, fromZodError } from './config-error.js';
import { buildArch, hfConfigSchema } from './families.js';
import { ErrorCode, SftError } from '../errors.js';

export { hfConfigSchema, type HfConfig } from './families.js';

/** The model_type values config.json may name. */
export const SUPPORTED_MODEL_TYPES: readonly string[] = FAMILIES;

/**
 * Normalizes a parsed config.json. `source` names the file in error messages.
 * Throws SftError UNSUPPORTED_MODEL (unknown model_type, rope type, activation, layer type)
 * or CONFIG_INVALID (a key of the wrong type, value or length).
 */
export function archConfigFromHf(json: unknown, source = 'config.json'): ArchConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SftError(`${source}: expected a JSON object but received ${describeValue(json)}.`, ErrorCode.ConfigInvalid);
  }
  const modelType = (json as Record<string, unknown>)['model_type'];
  if (typeof modelType !== 'string' || !SUPPORTED_MODEL_TYPES.includes(modelType)) {
    throw new SftError(
      `${source}: model_type ${describeValue(modelType)} is not supported. ` +
        `Supported model_type values: ${SUPPORTED_MODEL_TYPES.join(', ')}.`,
      ErrorCode.UnsupportedModel,
    );
  }
  const parsed = hfConfigSchema.safeParse(json, { reportInput: true });
  if (!parsed.success) throw fromZodError(source, parsed.error);
  return buildArch(parsed.data, source);
}

/** Reads `dir`/config.json and normalizes it (FILE_NOT_FOUND when absent). */
export async function loadArchConfig(dir: string): Promise<ArchConfig> {
  const file = path.join(dir, 'config.json');
  return archConfigFromHf(await readJsonFile(file), file);
}

/** Reads and parses a JSON file; FILE_NOT_FOUND / CONFIG_INVALID name the path. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SftError(`${file} does not exist. Point the model option at a directory holding a Hugging Face checkpoint.`, ErrorCode.FileNotFound);
    }
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new SftError(`${file} is not valid JSON: ${(err as Error).message}`, ErrorCode.ConfigInvalid);
  }
}
