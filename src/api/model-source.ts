// --model -> a local checkpoint folder, reporting downloads and GGUF imports as progress events.
import { basename } from 'node:path';
import type { ConvertProgress } from '../gguf/convert.js';
import { resolveModel } from '../hub/resolve.js';
import type { ProgressEvent, RunControl } from './progress.js';

/** A GGUF import as 'model' messages: the start, each tenth of the bytes, the end. */
function importMessages(model: string, onProgress: (event: ProgressEvent) => void): (p: ConvertProgress) => void {
  let lastTenth = -1;
  return (p) => {
    const tenth = p.totalBytes > 0 ? Math.floor((p.bytes / p.totalBytes) * 10) : 10;
    if (p.done === 1) onProgress({ phase: 'model', message: `importing ${basename(model)} (once; later runs reuse the import): ${p.count} tensors` });
    if (tenth === lastTenth && p.done !== p.count) return;
    lastTenth = tenth;
    const mib = (b: number) => (b / 2 ** 20).toFixed(0);
    onProgress({ phase: 'model', message: `import ${p.done}/${p.count} tensors, ${mib(p.bytes)}/${mib(p.totalBytes)} MiB` });
  };
}

export async function resolveModelForRun(model: string, control: RunControl = {}): Promise<{ dir: string }> {
  const { onProgress, signal } = control;
  const { dir, source, gguf } = await resolveModel(model, {
    ...(signal ? { signal } : {}),
    ...(onProgress ? { onProgress: (p) => onProgress({ phase: 'download', file: p.file, bytes: p.fileBytes, totalBytes: p.fileTotal }) } : {}),
    ...(onProgress ? { onImport: importMessages(model, onProgress) } : {}),
  });
  const how = source === 'cache' || source === 'download' ? ` (${source})` : gguf ? ` (${gguf.imported ? 'imported from' : 'cached import of'} ${gguf.file})` : '';
  onProgress?.({ phase: 'model', message: `model ${model}: ${dir}${how}` });
  return { dir };
}
