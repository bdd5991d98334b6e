// --model -> a local checkpoint folder, reporting downloads as progress events.
import { resolveModelDir } from '../hub/resolve.js';
import type { RunControl } from './progress.js';

export async function resolveModelForRun(model: string, control: RunControl = {}): Promise<{ dir: string }> {
  const dir = resolveModelDir(model);
  control.onProgress?.({ phase: 'model', message: `model ${model}: ${dir}` });
  return { dir };
}
