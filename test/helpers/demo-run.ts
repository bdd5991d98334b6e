// The resume tests' run: the bundled demo model and data, fp32 on CPU, small enough for seconds.
// 48 rows, 8 per step: 6 optimizer steps per epoch, 12 in 2 epochs; checkpoints at steps 4, 6,
// 8 and 12 (every 4 steps and at epoch ends).
import { join } from 'node:path';
import { native } from '../../src/native.js';

/** The bundled demo task as train() takes it: model, data, chat template, labels, row length. */
export const demoTask = {
  model: 'demo',
  data: 'demo',
  template: 'demo',
  chat: true,
  labelMap: 'positive=positive,negative=negative',
  maxSeqLen: 96,
};

export const demoRunOptions = (out: string) => ({
  ...demoTask,
  limit: 48,
  batchSize: 8,
  epochs: 2,
  saveEvery: 4,
  lr: 1e-3,
  warmupSteps: 2,
  loraR: 8,
  loraDropout: 0.1,
  gradientCheckpointing: false,
  device: 'cpu' as const,
  out,
});

/** Every tensor of dir/adapter_model.safetensors as [name, raw bytes in base64], for bit-for-bit comparison. */
export function adapterTensors(dir: string): [string, string][] {
  const st = native().safetensors;
  const file = join(dir, 'adapter_model.safetensors');
  return st.inspect(file).tensors.map((t) => [t.name, Buffer.from(st.read(file, t.name).data.buffer).toString('base64')]);
}
