// TS-side early check of a checkpoint's tensor list against the shapes an ArchConfig implies,
// so a wrong or mismatched config fails before any weight is read, with a message that names
// the tensor. The native loader checks again; this one exists for the wording.
// bitsandbytes 4-bit tensors are stored packed ([ceil(n/2), 1] uint8 next to a quant_state):
// for those only the element count is comparable.

import type { ArchConfig } from './arch.js';
import { ErrorCode, SftError } from '../errors.js';

export interface TensorInfo {
  name: string;
  shape: readonly number[];
}

type Expected = [name: string, shape: number[]];

function expectedTensors(arch: ArchConfig, prefix: string): Expected[] {
  const { hiddenSize: hidden, intermediateSize: inter, numHeads, numKvHeads, headDim: hd } = arch;
  const q = numHeads * hd;
  const kv = numKvHeads * hd;
  const out: Expected[] = [
    [`${prefix}embed_tokens.weight`, [arch.vocabSize, hidden]],
    [`${prefix}norm.weight`, [hidden]],
  ];
  for (let i = 0; i < arch.numLayers; i++) {
    const layer = `${prefix}layers.${i}.`;
    const add = (name: string, shape: number[]): void => {
      out.push([layer + name, shape]);
    };
    add('input_layernorm.weight', [hidden]);
    add('post_attention_layernorm.weight', [hidden]);
    if (arch.sandwichNorms) {
      add('pre_feedforward_layernorm.weight', [hidden]);
      add('post_feedforward_layernorm.weight', [hidden]);
    }
    if (arch.fusedQkv) {
      add('self_attn.qkv_proj.weight', [q + 2 * kv, hidden]);
      if (arch.qkvBias) add('self_attn.qkv_proj.bias', [q + 2 * kv]);
    } else {
      for (const [proj, rows] of [['q_proj', q], ['k_proj', kv], ['v_proj', kv]] as const) {
        add(`self_attn.${proj}.weight`, [rows, hidden]);
        if (arch.qkvBias) add(`self_attn.${proj}.bias`, [rows]);
      }
    }
    add('self_attn.o_proj.weight', [hidden, q]);
    if (arch.oBias) add('self_attn.o_proj.bias', [hidden]);
    if (arch.qkNorm) {
      add('self_attn.q_norm.weight', [hd]);
      add('self_attn.k_norm.weight', [hd]);
    }
    if (arch.fusedGateUp) {
      add('mlp.gate_up_proj.weight', [2 * inter, hidden]);
      if (arch.mlpBias) add('mlp.gate_up_proj.bias', [2 * inter]);
    } else {
      add('mlp.gate_proj.weight', [inter, hidden]);
      add('mlp.up_proj.weight', [inter, hidden]);
      if (arch.mlpBias) {
        add('mlp.gate_proj.bias', [inter]);
        add('mlp.up_proj.bias', [inter]);
      }
    }
    add('mlp.down_proj.weight', [hidden, inter]);
    if (arch.mlpBias) add('mlp.down_proj.bias', [hidden]);
  }
  return out;
}

const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;
const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/** True when `name` is a bitsandbytes 4-bit weight (it has a quant_state companion). */
function isPacked4bit(name: string, names: ReadonlySet<string>): boolean {
  return (
    names.has(`${name}.quant_state.bitsandbytes__nf4`) ||
    names.has(`${name}.quant_state.bitsandbytes__fp4`)
  );
}

/**
 * Verifies every weight the config implies exists with the implied shape under the first of
 * arch.weightPrefixes the checkpoint uses (and the lm_head unless tied). Extra tensors (vision
 * tower, quantization state) are ignored. Throws SftError CONFIG_INVALID listing the problems.
 */
export function checkWeightShapes(arch: ArchConfig, tensors: readonly TensorInfo[]): void {
  const byName = new Map(tensors.map((t) => [t.name, t.shape] as const));
  const names = new Set(byName.keys());
  const prefix = arch.weightPrefixes.find((p) => byName.has(`${p}embed_tokens.weight`));
  if (prefix === undefined) {
    throw new SftError(
      `checkpoint has no token embedding: expected one of ${arch.weightPrefixes.map((p) => `'${p}embed_tokens.weight'`).join(', ')} ` +
        `for a ${arch.family} model. Check that the weights belong to this config.json.`,
      ErrorCode.ConfigInvalid,
    );
  }
  const expected = expectedTensors(arch, prefix);
  if (!arch.tieWordEmbeddings) {
    const head = arch.lmHeadNames.find((n) => byName.has(n)) ?? arch.lmHeadNames[0] ?? 'lm_head.weight';
    expected.push([head, [arch.vocabSize, arch.hiddenSize]]);
  }

  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const found = byName.get(name);
    if (found === undefined) {
      problems.push(`'${name}' is missing (expected shape ${fmt(shape)})`);
    } else if (isPacked4bit(name, names)) {
      if (numel(found) !== Math.ceil(numel(shape) / 2)) {
        problems.push(`'${name}' (4-bit packed) holds ${numel(found)} bytes, expected ${Math.ceil(numel(shape) / 2)} for shape ${fmt(shape)}`);
      }
    } else if (!sameShape(found, shape)) {
      problems.push(`'${name}': expected shape ${fmt(shape)} but found ${fmt(found)}`);
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).join('; ');
    const more = problems.length > 5 ? `; and ${problems.length - 5} more` : '';
    throw new SftError(
      `checkpoint does not match config.json (${arch.family}, prefix '${prefix}'): ${shown}${more}.`,
      ErrorCode.ConfigInvalid,
    );
  }
}
