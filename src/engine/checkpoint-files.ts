// The files beside a checkpoint's weights that a derived checkpoint (quantized, merged) carries
// over unchanged: tokenizer, chat template, generation defaults.
import { copyFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

const CARRIED_FILES =
  /^(tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|generation_config\.json|chat_template\.(jinja|json)|tokenizer\.model|vocab\.json|merges\.txt)$/;

export async function copyCheckpointSidecars(srcDir: string, outDir: string): Promise<void> {
  for (const file of await readdir(srcDir)) {
    if (CARRIED_FILES.test(file)) await copyFile(join(srcDir, file), join(outDir, file));
  }
}
