// Turns what a user typed for --model into a local checkpoint directory: 'demo' (the bundled
// tiny model) or a local directory. (Presets and Hub downloads come with the Hub client.)
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, SftError } from '../errors.js';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The bundled tiny model (assets/demo/model), made by scripts/make_demo_model.py. */
export const DEMO_MODEL_DIR = join(packageRoot, 'assets', 'demo', 'model');

export function resolveModelDir(model: string): string {
  if (model === 'demo') return DEMO_MODEL_DIR;
  const dir = resolve(model);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new SftError(
      `model '${model}' is neither 'demo' nor a local directory (looked for ${dir}); pass a folder holding config.json and *.safetensors`,
      ErrorCode.FileNotFound,
    );
  }
  if (!existsSync(join(dir, 'config.json'))) {
    throw new SftError(`model directory ${dir} has no config.json; is it a Hugging Face checkpoint folder?`, ErrorCode.FileNotFound);
  }
  return dir;
}
