// Token ids a generation stops on (and bos/pad), as the checkpoint declares them:
// generation_config.json first, then config.json (top level, then gemma3's text_config).
// Not here: tokenizer special tokens (src/tokenize decides how these combine with them).

import { access } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { fromZodError } from './config-error.js';
import { readJsonFile } from './hf-config.js';

export interface GenerationDefaults {
  /** De-duplicated, in the order the file lists them; empty when no file names one. */
  eosTokenIds: number[];
  bosTokenId?: number;
  padTokenId?: number;
}

const tokenId = z.number().int().nonnegative();
const idsSchema = z.looseObject({
  eos_token_id: z.union([tokenId, z.array(tokenId)]).nullish(),
  bos_token_id: tokenId.nullish(),
  pad_token_id: tokenId.nullish(),
});
type Ids = z.infer<typeof idsSchema>;
const configSchema = idsSchema.extend({ text_config: idsSchema.nullish() });

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

async function readIds<S extends z.ZodType>(file: string, schema: S): Promise<z.infer<S>> {
  const parsed = schema.safeParse(await readJsonFile(file), { reportInput: true });
  if (!parsed.success) throw fromZodError(file, parsed.error);
  return parsed.data;
}

export async function loadGenerationDefaults(dir: string): Promise<GenerationDefaults> {
  const sources: Ids[] = [];
  const generationFile = path.join(dir, 'generation_config.json');
  if (await exists(generationFile)) sources.push(await readIds(generationFile, idsSchema));
  const config = await readIds(path.join(dir, 'config.json'), configSchema);
  sources.push(config);
  if (config.text_config != null) sources.push(config.text_config);

  const first = <K extends keyof Ids>(key: K): Ids[K] | undefined => sources.find((s) => s[key] != null)?.[key];
  const eos = first('eos_token_id');
  const eosTokenIds = [...new Set(eos == null ? [] : Array.isArray(eos) ? eos : [eos])];
  const bos = first('bos_token_id');
  const pad = first('pad_token_id');
  return {
    eosTokenIds,
    ...(bos != null ? { bosTokenId: bos } : {}),
    ...(pad != null ? { padTokenId: pad } : {}),
  };
}
