// --model -> a local checkpoint folder, reporting downloads and GGUF imports as progress events.
import { resolveModel } from '../hub/resolve.js';
import type { RunControl } from './progress.js';

export async function resolveModelForRun(model: string, control: RunControl = {}): Promise<{ dir: string }> {
  const { onProgress, signal } = control;
  const { dir, source, gguf } = await resolveModel(model, {
    ...(signal ? { signal } : {}),
    ...(onProgress ? { onProgress: (p) => onProgress({ phase: 'download', file: p.file, bytes: p.fileBytes, totalBytes: p.fileTotal }) } : {}),
    ...(onProgress ? { onImport: (p) => onProgress({ phase: 'import', file: model, ...p }) } : {}),
  });
  const how = source === 'cache' || source === 'download' ? ` (${source})` : gguf ? ` (${gguf.imported ? 'imported from' : 'cached import of'} ${gguf.file})` : '';
  onProgress?.({ phase: 'model', message: `model ${model}: ${dir}${how}` });
  return { dir };
}
