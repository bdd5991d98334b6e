// The run report's settings table: what training used (model, weight storage, LoRA, optimizer,
// batch, accumulation, epochs, seed) beside what the evaluation used, one row per setting, so a
// reader sees at a glance whether both ran on the same model, data, sequence length and seed.
// run.json's config and eval.json's settings are read as written (any version): a setting a
// file does not hold shows as a dash.
import type { EvalReport, RunRecord } from './report-types.js';

const DASH = '—';

function text(v: unknown): string {
  if (v === undefined || v === null) return DASH;
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map((x) => String(x)).join(', ');
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** How the base weights were stored: from the config's quant and the engine's count of 4-bit linears. */
function quantization(c: Record<string, unknown>): string {
  const linears = typeof c.quantizedLinears === 'number' ? c.quantizedLinears : undefined;
  const dtype = typeof c.dtype === 'string' ? `, compute ${c.dtype}` : '';
  if (linears !== undefined && linears > 0) return `4-bit (${text(c.quant ?? 'nf4')}), ${linears} linears${dtype}`;
  if (linears === 0) return `none (16/32-bit weights${dtype})`;
  return c.quant !== undefined ? `${text(c.quant)}${dtype}` : DASH;
}

/** [setting, training, evaluation] rows. */
export function settingsRows(run: RunRecord | undefined, report: (Pick<EvalReport, 'model' | 'data' | 'settings'> & { adapter?: { path: string } | undefined }) | undefined): [string, string, string][] {
  const c = run?.config ?? {};
  const e = report?.settings ?? {};
  const has = run !== undefined;
  const t = (v: unknown) => (has ? text(v) : DASH);
  const targets = c.loraTargets ?? (has ? 'default (q_proj, k_proj, v_proj; Phi-3: qkv_proj)' : undefined);
  return [
    ['model', t(run?.model.input), text(report?.model)],
    ['data', t(run?.data.source), text(report?.data)],
    ['device', t(c.device), text(e.device)],
    ['quantization', has ? quantization(c) : DASH, DASH],
    ['LoRA r / alpha', has ? `${text(c.loraR)} / ${text(c.loraAlpha)}${c.useRslora === true ? ' (rsLoRA)' : ''}` : DASH, DASH],
    ['LoRA targets', t(targets), DASH],
    ['LoRA dropout', t(c.loraDropout), DASH],
    ['frozen layers (no adapters)', t(c.freezeLayers ?? 0), DASH],
    ['adapter', DASH, text(report?.adapter?.path ?? (report ? 'none (base model only)' : undefined))],
    ['learning rate', t(c.lr), DASH],
    ['schedule / warmup steps', has ? `${text(c.schedule)} / ${text(c.warmupSteps)}` : DASH, DASH],
    ['batch size', t(c.batchSize), text(e.batchSize)],
    ['micro-batch x grad accumulation', has ? `${text(c.microBatch)} x ${text(c.gradAccum)}${typeof c.worldSize === 'number' && c.worldSize > 1 ? ` x ${c.worldSize} ranks` : ''}` : DASH, DASH],
    ['epochs / steps', has ? `${text(c.epochs)} / ${text(run?.result?.steps ?? c.totalSteps)}` : DASH, DASH],
    ['max sequence length', t(c.maxSeqLen), text(e.maxSeqLen)],
    ['max new tokens', DASH, text(e.maxNewTokens)],
    ['template / chat', has ? `${text(c.template)} / ${text(c.chat)}` : DASH, report ? `${text(e.template)} / ${text(e.chat)}` : DASH],
    ['seed', t(c.seed), text(e.seed)],
    ['split (val / test)', has ? `${text(c.valSplit)} / ${text(c.testSplit)}` : DASH, report ? `${text(e.split)} (${text(e.valSplit)} / ${text(e.testSplit)})` : DASH],
    ['evaluation during training', has ? (c.evalEvery !== undefined ? `every ${text(c.evalEvery)} steps, best by ${text(c.bestMetric)}${c.earlyStoppingPatience !== undefined ? `, patience ${text(c.earlyStoppingPatience)}` : ''}` : 'off') : DASH, DASH],
  ];
}
