// --model -> a local checkpoint folder, reporting downloads as progress events.
import { resolveModel } from '../hub/resolve.js';
import type { RunControl } from './progress.js';

export async function resolveModelForRun(model: string, control: RunControl = {}): Promise<{ dir: string }> {
  const { onProgress, signal } = control;
  const { dir, source } = await resolveModel(model, {
    ...(signal ? { signal } : {}),
    ...(onProgress ? { onProgress: (p) => onProgress({ phase: 'download', file: p.file, bytes: p.fileBytes, totalBytes: p.fileTotal }) } : {}),
  });
  onProgress?.({ phase: 'model', message: `model ${model}: ${dir}${source === 'cache' || source === 'download' ? ` (${source})` : ''}` });
  return { dir };
}
