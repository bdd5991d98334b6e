#!/usr/bin/env node
// Summarizes a Chrome trace of the torch (kineto) profiler: the GPU's busy time against the wall
// span, and the time per kernel name (and per kind: GEMM, flash attention, our kernels, ...).
//   node scripts/gpu/trace-summary.mjs TRACE.json [--top 30]
import { readFileSync } from 'node:fs';

export function summarizeTrace(trace, top = 30) {
  const events = (trace.traceEvents ?? []).filter((e) => e.ph === 'X' && ['kernel', 'gpu_memcpy', 'gpu_memset'].includes(e.cat));
  if (events.length === 0) return 'no GPU events in the trace';
  events.sort((x, y) => x.ts - y.ts);
  const start = events[0].ts;
  let end = start, busy = 0, cursor = start;
  for (const e of events) {
    const s = Math.max(e.ts, cursor), f = e.ts + e.dur;
    if (f > s) busy += f - s;
    cursor = Math.max(cursor, f);
    end = Math.max(end, f);
  }
  const kind = (name) => {
    if (/flash/i.test(name)) return 'flash attention';
    if (/nvjet|gemm|cutlass|xmma|gemv(?!_4bit)|cublas/i.test(name)) return 'GEMM (cuBLAS)';
    if (/dequant/i.test(name)) return 'dequantize 4-bit';
    if (/gemv_4bit|gemv4/i.test(name)) return 'gemv 4-bit';
    if (/rms_?norm/i.test(name)) return 'rms norm';
    if (/rope/i.test(name)) return 'rope';
    if (/glu|gelu|silu/i.test(name)) return 'gated activation';
    if (/softmax|log_softmax|cross_entropy|nll/i.test(name)) return 'softmax / loss';
    if (/Memcpy|memcpy/.test(name)) return 'copy';
    if (/Memset|memset/.test(name)) return 'memset';
    if (/reduce/i.test(name)) return 'reduction';
    return 'other elementwise';
  };
  const short = (name) => name.replace(/\(anonymous namespace\)::/g, '').replace(/\(.*$/s, '').replace(/<.*$/s, '').slice(0, 90);
  const byName = new Map(), byKind = new Map();
  for (const e of events) {
    const n = short(e.name), k = kind(e.name);
    const a = byName.get(n) ?? { us: 0, count: 0, kind: k };
    a.us += e.dur; a.count += 1; byName.set(n, a);
    const b = byKind.get(k) ?? { us: 0, count: 0 };
    b.us += e.dur; b.count += 1; byKind.set(k, b);
  }
  const total = [...byName.values()].reduce((s, a) => s + a.us, 0);
  const ms = (us) => (us / 1000).toFixed(2).padStart(9);
  const lines = [];
  lines.push(`wall span ${ms(end - start)} ms, GPU busy ${ms(busy)} ms (${((100 * busy) / (end - start)).toFixed(1)}%), ${events.length} GPU events, summed ${ms(total)} ms`);
  lines.push('by kind:');
  for (const [k, a] of [...byKind].sort((x, y) => y[1].us - x[1].us)) lines.push(`  ${ms(a.us)} ms ${String(a.count).padStart(6)}x  ${(100 * a.us / total).toFixed(1).padStart(5)}%  ${k}`);
  lines.push(`top ${top} kernels:`);
  for (const [n, a] of [...byName].sort((x, y) => y[1].us - x[1].us).slice(0, top)) {
    lines.push(`  ${ms(a.us)} ms ${String(a.count).padStart(6)}x ${(a.us / a.count).toFixed(1).padStart(8)} us avg  ${n}`);
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: trace-summary.mjs TRACE.json [--top N]');
  const i = process.argv.indexOf('--top');
  console.log(summarizeTrace(JSON.parse(readFileSync(file, 'utf8')), i > 0 ? Number(process.argv[i + 1]) : 30));
}
