// A Hugging Face checkpoint folder -> one GGUF v3 file, written here in TypeScript (no llama.cpp
// build): the plan is made and checked first (family, tensor names, metadata read back through
// the importer's config builder, tokenizer), then each tensor is read, checked finite, given
// llama.cpp's layout fix and encoded to its type, one at a time.
// 4-bit (bitsandbytes) weights are dequantized by the engine's reference path first.
// Not here: merging an adapter (src/api/merge.ts runs before this), block encoders (quantize-*.ts).

import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ArchConfig } from '../../config/arch.js';
import { archConfigFromHf, readJsonFile } from '../../config/hf-config.js';
import { ErrorCode, SftError } from '../../errors.js';
import { native, type StTensorData } from '../../native.js';
import { readChatTemplates } from '../../tokenize/chat-template.js';
import { GgmlType } from '../dequant.js';
import { GgufErrorCode } from '../errors.js';
import { ggmlTypeName } from '../ggml-types.js';
import { writeGgufFile, type GgufTensorSpec } from './gguf-writer.js';
import { archMetadata, checkMetadataRoundTrip, exportArchSpec, ropeFreqs, type MetaEntry } from './metadata.js';
import { quantizeQ4_K, quantizeQ6_K } from './quantize-k.js';
import { quantizeQ4_0, quantizeQ5_0, quantizeQ8_0 } from './quantize-legacy.js';
import { applyExportFix, FILE_TYPE, planExportTensors, type ExportQuant, type ExportTensor } from './tensor-plan.js';
import { encodeValues, firstNonFinite, tensorValues } from './tensor-values.js';
import { tokenizerMetadata } from './tokenizer-to-gguf.js';

export interface GgufExportCoreOptions {
  quant: ExportQuant;
  /** general.name. Default: the folder's name. */
  name?: string;
  /** A message per stage and about every tenth of the tensors. */
  onMessage?: (message: string) => void;
  signal?: AbortSignal;
}

export interface GgufExportResult {
  file: string;
  /** general.architecture. */
  architecture: string;
  quant: ExportQuant;
  tensors: number;
  bytes: number;
  /** Tensor count per ggml type name. */
  types: Record<string, number>;
  /** What the file cannot carry and llama.cpp's converter drops too (a Mistral sliding window). */
  notes: string[];
}

const BNB_COMPANION = /\.(absmax|quant_map|nested_absmax|nested_quant_map|quant_state\.bitsandbytes__(nf4|fp4))$/;
const ENCODERS: Record<number, (x: Float32Array) => Uint8Array> = {
  [GgmlType.Q8_0]: quantizeQ8_0,
  [GgmlType.Q4_0]: quantizeQ4_0,
  [GgmlType.Q5_0]: quantizeQ5_0,
  [GgmlType.Q4_K]: quantizeQ4_K,
  [GgmlType.Q6_K]: quantizeQ6_K,
};

function encode(values: Float32Array, type: number): Uint8Array {
  if (type === GgmlType.F32) return encodeValues(values, 'float32');
  if (type === GgmlType.F16) return encodeValues(values, 'float16');
  if (type === GgmlType.BF16) return encodeValues(values, 'bfloat16');
  return ENCODERS[type]!(values);
}

interface CheckpointTensor {
  name: string;
  shape: number[];
  file: string;
  /** bitsandbytes 4-bit: dequantized through the engine. */
  fourBit: boolean;
}

/** Every weight of the checkpoint with its file and shape (4-bit weights: the shape in their quant_state). */
function listCheckpoint(dir: string): CheckpointTensor[] {
  const st = native().safetensors;
  const index = join(dir, 'model.safetensors.index.json');
  const files = existsSync(index)
    ? [...new Set(Object.values((JSON.parse(readFileSync(index, 'utf8')) as { weight_map: Record<string, string> }).weight_map))]
    : ['model.safetensors'];
  const out: CheckpointTensor[] = [];
  for (const f of files) {
    const path = join(dir, f);
    const infos = st.inspect(path).tensors;
    const names = new Set(infos.map((t) => t.name));
    for (const t of infos) {
      if (BNB_COMPANION.test(t.name)) continue;
      const state = [...names].find((n) => n.startsWith(`${t.name}.quant_state.bitsandbytes__`));
      if (state) {
        const json = JSON.parse(st.read(path, state).data.toString('utf8')) as { shape: number[] };
        out.push({ name: t.name, shape: json.shape, file: path, fourBit: true });
      } else {
        out.push({ name: t.name, shape: t.shape, file: path, fourBit: false });
      }
    }
  }
  return out;
}

async function tokenizerEntries(dir: string, config: Record<string, unknown>, vocabRows: number): Promise<MetaEntry[]> {
  const tokPath = join(dir, 'tokenizer.json');
  if (!existsSync(tokPath)) {
    throw new SftError(`${dir} has no tokenizer.json: a GGUF file carries its tokenizer, so the export needs one (copy the base model's tokenizer files into the folder)`, ErrorCode.FileNotFound);
  }
  const tokenizerJson = (await readJsonFile(tokPath)) as Record<string, unknown>;
  const cfgPath = join(dir, 'tokenizer_config.json');
  const tokenizerConfig = existsSync(cfgPath) ? ((await readJsonFile(cfgPath)) as Record<string, unknown>) : {};
  const templates = await readChatTemplates(dir, tokenizerConfig, cfgPath);
  const genPath = join(dir, 'generation_config.json');
  const gen = existsSync(genPath) ? ((await readJsonFile(genPath)) as Record<string, unknown>) : {};
  const firstId = (v: unknown): number | undefined => (typeof v === 'number' ? v : Array.isArray(v) && typeof v[0] === 'number' ? v[0] : undefined);
  const text = (config.text_config as Record<string, unknown> | undefined) ?? {};
  const pick = (key: string) => firstId(config[key]) ?? firstId(text[key]) ?? firstId(gen[key]);
  return tokenizerMetadata({
    tokenizerJson,
    tokenizerConfig,
    modelIds: { bos: pick('bos_token_id'), eos: pick('eos_token_id'), pad: pick('pad_token_id') },
    chatTemplate: templates.get('default')?.source,
    vocabRows,
    source: tokPath,
  });
}

/** The tensor's float32 values, checked finite. */
function readValues(t: CheckpointTensor): Float32Array {
  let data: StTensorData;
  if (t.fourBit) {
    const record = native().quant.readSerialized(join(t.file, '..'), t.name);
    data = native().quant.dequantize(record, { dtype: 'float32', device: 'cpu' });
  } else {
    data = native().safetensors.read(t.file, t.name);
  }
  const values = tensorValues(data, t.name);
  if (!values) throw new SftError(`tensor ${t.name} is stored ${data.dtype}, not a floating-point type`, GgufErrorCode.Unsupported);
  const bad = firstNonFinite(values);
  if (bad >= 0) throw new SftError(`tensor ${t.name} holds ${values[bad]} at element ${bad}; a GGUF file of it would compute NaN`, ErrorCode.MergeNonFinite);
  // The decoded array may view a shared buffer: copy before fixes write into it.
  return values.slice();
}

export async function exportCheckpointToGguf(dir: string, outFile: string, options: GgufExportCoreOptions): Promise<GgufExportResult> {
  const say = options.onMessage ?? (() => {});
  const configPath = join(dir, 'config.json');
  const config = (await readJsonFile(configPath)) as Record<string, unknown>;
  const arch: ArchConfig = archConfigFromHf(config, configPath);
  const spec = exportArchSpec(arch, configPath);
  const checkpoint = listCheckpoint(dir);
  const byName = new Map(checkpoint.map((t) => [t.name, t]));
  const { tensors, skipped } = planExportTensors(spec, arch, checkpoint, options.quant);
  if (skipped.length > 0) say(`export: ${skipped.length} tensors outside the text decoder are not exported (e.g. ${skipped[0]})`);
  const embed = tensors.find((t) => t.gguf === 'token_embd.weight')!;
  const hasQkvBias = tensors.some((t) => /^blk\.\d+\.attn_q\.bias$/.test(t.gguf));

  const name = options.name ?? basename(dir);
  const archEntries = archMetadata(spec, arch, name, FILE_TYPE[options.quant]);
  const { notes } = checkMetadataRoundTrip(spec, arch, archEntries, arch.tieWordEmbeddings, hasQkvBias, configPath);
  for (const n of notes) say(`export: note: ${n}`);
  const metadata = [...archEntries, ...(await tokenizerEntries(dir, config, embed.shape[0]!))];

  const freqs = ropeFreqs(arch);
  const specs: GgufTensorSpec[] = tensors.map((t) => ({ name: t.gguf, shape: [...t.shape].reverse(), type: t.type }));
  if (freqs) specs.push({ name: 'rope_freqs.weight', shape: [freqs.length], type: GgmlType.F32 });
  const types: Record<string, number> = {};
  for (const s of specs) types[ggmlTypeName(s.type)] = (types[ggmlTypeName(s.type)] ?? 0) + 1;
  say(`export: writing ${specs.length} tensors (${Object.entries(types).map(([k, v]) => `${v} ${k}`).join(', ')}) to ${outFile}`);

  let lastTenth = 0;
  const written = await writeGgufFile(outFile, metadata, specs, async (i) => {
    if (options.signal?.aborted) throw new SftError(`export to ${outFile} stopped (aborted)`, ErrorCode.Aborted);
    const tenth = Math.floor(((i + 1) / specs.length) * 10);
    if (tenth > lastTenth && i + 1 < specs.length) {
      lastTenth = tenth;
      say(`export: ${i + 1}/${specs.length} tensors`);
    }
    if (i >= tensors.length) return encode(freqs!, GgmlType.F32);
    const t: ExportTensor = tensors[i]!;
    const values = applyExportFix(readValues(byName.get(t.source)!), t.shape, t.fix);
    // Yield between tensors so a long export keeps the event loop (signals, progress) alive.
    await new Promise((r) => setImmediate(r));
    return encode(values, t.type);
  });
  return { file: outFile, architecture: spec.gguf, quant: options.quant, tensors: specs.length, bytes: written.bytes, types, notes };
}
