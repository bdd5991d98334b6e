// Reads the transformers reference outputs written by scripts/reference/make_fixtures.py.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../../src/native.js';

export const MODEL_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'models');
/** bitsandbytes 4-bit checkpoints and their fp32 twins (scripts/reference/make_bnb_fixtures.py). */
export const BNB_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'bnb', 'models');

export interface GreedyCase {
  prompt: number[];
  max_new_tokens: number;
  min_new_tokens: number;
  eos_token_id: number[] | number | null;
  output: number[];
}

export interface GreedyBatchCase {
  prompts: number[][];
  max_new_tokens: number;
  min_new_tokens: number;
  eos_token_id: number[] | number | null;
  outputs: number[][];
}

export interface ModelReference {
  case: string;
  sequences: number[][];
  batch: { input_ids: number[][]; attention_mask: number[][] };
  logits_scale: number;
  greedy: GreedyCase[];
  greedy_batch: GreedyBatchCase[];
  min_margin: number;
}

export function modelCases(root = MODEL_FIXTURES): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'reference.json')))
    .map((d) => d.name)
    .sort();
}

export function readReference(name: string, root = MODEL_FIXTURES): ModelReference {
  return JSON.parse(readFileSync(join(root, name, 'reference.json'), 'utf8')) as ModelReference;
}

/** A float32 tensor from the case's reference.safetensors, with its shape. */
export function readReferenceTensor(name: string, tensor: string, root = MODEL_FIXTURES): { shape: number[]; data: Float32Array } {
  const t = native().safetensors.read(join(root, name, 'reference.safetensors'), tensor);
  if (t.dtype !== 'F32') throw new Error(`${name}/${tensor}: expected F32, got ${t.dtype}`);
  const copy = new Float32Array(t.data.byteLength / 4);
  new Uint8Array(copy.buffer).set(t.data);
  return { shape: t.shape, data: copy };
}

export function eosList(eos: number[] | number | null): number[] {
  if (eos === null) return [];
  return Array.isArray(eos) ? eos : [eos];
}

/** Largest |a - b| over rows [rowStart, rowEnd) of two [rows, vocab] views. */
export function maxAbsDiff(a: Float32Array, aOffset: number, b: Float32Array, bOffset: number, count: number): number {
  let worst = 0;
  for (let i = 0; i < count; i++) {
    const d = Math.abs((a[aOffset + i] as number) - (b[bOffset + i] as number));
    if (!(d <= worst)) worst = d; // NaN propagates as a failure
  }
  return worst;
}
