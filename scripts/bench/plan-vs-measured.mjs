// The memory planner (issue 17 point 4) against peaks measured on the GPU machine: for every row
// of the scaling benchmark's results (scaling-ours.mjs: shape, sequence length, rows per step,
// LoRA r 16 on q, k, v, gradient checkpointing on, NF4, bf16; the peak of the CUDA allocator),
// the planner's estimate of the same step (estimateStepMemory over the shape's config.json, as
// `sft plan` builds it) next to the measurement. An estimate passes when it is within 10% of the
// measurement or above it. The shapes' config.json come from make_random_checkpoint.py's SHAPES
// (written by python3 into a temporary folder; no weights).
// usage: node scripts/bench/plan-vs-measured.mjs RESULTS_DIR [--json OUT.json]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planSetup, stepInput } from '../../dist/api/plan.js';
import { estimateStepMemory } from '../../dist/config/memory-estimate.js';

const [dir, flag, jsonOut] = process.argv.slice(2);
if (!dir) throw new Error('usage: plan-vs-measured.mjs RESULTS_DIR [--json OUT.json]');
const GiB = 2 ** 30;
const records = readdirSync(dir).filter((f) => /^ours-scaling-.+\.json$/.test(f)).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
const root = mkdtempSync(join(tmpdir(), 'plan-vs-measured-'));
const rows = [];
for (const r of records) {
  const shapeDir = join(root, r.shape);
  execFileSync('python3', ['-c', `import json, os, sys; sys.path.insert(0, 'scripts/bench'); from make_random_checkpoint import SHAPES; os.makedirs(${JSON.stringify(shapeDir)}, exist_ok=True); json.dump(SHAPES[${JSON.stringify(r.shape)}], open(os.path.join(${JSON.stringify(shapeDir)}, 'config.json'), 'w'))`]);
  const setup = await planSetup(shapeDir, { device: 'cuda', dtype: 'bfloat16', quant: 'nf4' });
  const P = r.protocol;
  for (const m of r.rows) {
    if (m.peakGiB == null) continue;
    const input = { ...stepInput(setup, { loraR: P.loraR, loraTargets: P.loraTargets, loraDropout: 0, freezeLayers: 0, gradientCheckpointing: true }, m.len), microBatch: m.batch };
    const e = estimateStepMemory(input);
    const estimate = e.totalBytes / GiB;
    rows.push({ shape: r.shape, len: m.len, batch: m.batch, measuredGiB: m.peakGiB, estimateGiB: estimate, ratio: estimate / m.peakGiB, ok: estimate >= 0.9 * m.peakGiB });
  }
}
console.log('| shape | length | batch | measured peak GiB | estimate GiB | estimate / measured | within 10% or above |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- |');
for (const x of rows) console.log(`| ${x.shape} | ${x.len} | ${x.batch} | ${x.measuredGiB.toFixed(2)} | ${x.estimateGiB.toFixed(2)} | ${x.ratio.toFixed(2)} | ${x.ok ? 'yes' : 'NO'} |`);
if (flag === '--json' && jsonOut) writeFileSync(jsonOut, `${JSON.stringify(rows, null, 1)}\n`);
process.exitCode = rows.every((x) => x.ok) ? 0 : 1;
