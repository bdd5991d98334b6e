// Which files of a local folder `sft push` uploads: a PEFT adapter's two files, or a merged
// checkpoint's weights, config, tokenizer and generation files. A folder that lacks what makes
// it loadable is refused before anything is sent. Run bookkeeping (run.json with its local paths,
// logs, predictions, checkpoints/) stays local; the model card summarizes it.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ErrorCode, SftError } from '../errors.js';
import type { PushFile } from './push.js';

export const ADAPTER_FILES = ['adapter_config.json', 'adapter_model.safetensors'] as const;

/** Files of a run folder that describe the run rather than the model. */
const RUN_BOOKKEEPING = new Set(['run.json', 'log.jsonl', 'eval.json', 'eval.md', 'predictions.jsonl', 'report.html', 'README.md']);
/** What a merged checkpoint folder holds: weights, index, configs, tokenizer files. */
const CHECKPOINT_FILE = /\.(safetensors|json|jinja|model|txt)$/;

function checkFolder(dir: string, flag: string): string {
  const abs = resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new SftError(`${flag} ${dir}: no such folder`, ErrorCode.FileNotFound);
  return abs;
}

export function adapterPushFiles(dir: string): PushFile[] {
  const abs = checkFolder(dir, '--adapter');
  const missing = ADAPTER_FILES.filter((f) => !existsSync(join(abs, f)));
  if (missing.length > 0) {
    throw new SftError(`--adapter ${dir} is not a PEFT adapter folder: ${missing.join(' and ')} missing (an \`sft train --out\` folder holds both)`, ErrorCode.FileNotFound);
  }
  return ADAPTER_FILES.map((f) => ({ path: f, source: { file: join(abs, f) } }));
}

export function mergedPushFiles(dir: string): PushFile[] {
  const abs = checkFolder(dir, '--merged');
  const names = readdirSync(abs)
    .filter((f) => CHECKPOINT_FILE.test(f) && !RUN_BOOKKEEPING.has(f) && !f.startsWith('.') && statSync(join(abs, f)).isFile())
    .sort();
  const missing = [...(names.includes('config.json') ? [] : ['config.json']), ...(names.some((f) => f.endsWith('.safetensors')) ? [] : ['*.safetensors weights'])];
  if (missing.length > 0) {
    throw new SftError(`--merged ${dir} is not a checkpoint folder: ${missing.join(' and ')} missing (\`sft merge --out\` writes one)`, ErrorCode.FileNotFound);
  }
  return names.map((f) => ({ path: f, source: { file: join(abs, f) } }));
}
