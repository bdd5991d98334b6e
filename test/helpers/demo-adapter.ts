// A LoRA adapter for the demo model without training: q/v adapters from a seed, lora_B set to
// fixed non-zero values (peft's init leaves it 0, which would change nothing), saved in peft's
// format. Enough for tests that need an adapter whose outputs differ from the base model's.
import { loadModel, nativeHandle } from '../../src/api/model.js';
import { DEMO_MODEL_DIR } from '../../src/hub/resolve.js';

export async function makeDemoAdapter(dir: string): Promise<void> {
  await using model = await loadModel(DEMO_MODEL_DIR, { device: 'cpu' });
  await model.addLora({ r: 4, alpha: 8, seed: 5, targets: ['q_proj', 'v_proj'] });
  const handle = nativeHandle(model);
  const tensors = await handle.loraTensors();
  for (const [name, t] of Object.entries(tensors)) {
    if (!name.includes('lora_B')) continue;
    const v = new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4);
    for (let i = 0; i < v.length; i++) v[i] = 0.2 * Math.sin(i + name.length);
  }
  await handle.setLoraTensors(tensors);
  await model.saveAdapter(dir);
}
