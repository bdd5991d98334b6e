// `sft doctor` on the GPU machine (issue 17 point 8): the CUDA side of the report, checked against
// torch (Python) and nvidia-smi on the same machine, and the reason given when CUDA_VISIBLE_DEVICES
// hides the GPUs. Needs the built addon and dist/ (scripts/gpu/prepare.sh builds both).
//   node scripts/gpu/doctor-check.mjs [OUT.json]
// Prints one JSON object and exits 1 when a check fails.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const sft = (env) => JSON.parse(execFileSync(process.execPath, ['dist/cli/bin.js', 'doctor', '--json'], { encoding: 'utf8', env: { ...process.env, ...env } }));
const torch = JSON.parse(
  execFileSync('python3', ['-c', 'import json, torch; print(json.dumps({"version": torch.__version__, "count": torch.cuda.device_count(), "names": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())], "free": [torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count())]}))'], { encoding: 'utf8' }),
);
const visible = sft({});
const hidden = sft({ CUDA_VISIBLE_DEVICES: '' });
const checks = {
  cudaBuilt: visible.addon.cudaBuilt === true,
  kernels: visible.addon.kernels === true,
  cudaAvailable: visible.cuda.available === true,
  libtorchVersion: torch.version.startsWith(visible.libtorch.version),
  gpuCount: visible.cuda.gpus.length === torch.count,
  gpuNames: visible.cuda.gpus.every((g, i) => g.name === torch.names[i]),
  // nvidia-smi's free memory vs cudaMemGetInfo, both read now: within 2 GiB (other processes move it).
  freeMemory: visible.cuda.gpus.every((g, i) => Math.abs(g.memoryFreeBytes - torch.free[i]) < 2 * 2 ** 30),
  noProblems: visible.problems.length === 0,
  hiddenReason: hidden.cuda.available === false && /CUDA_VISIBLE_DEVICES="" hides every GPU/.test(hidden.problems.map((p) => p.what).join('\n')),
};
const result = { checks, torch, report: visible, hiddenProblems: hidden.problems };
if (process.argv[2]) writeFileSync(process.argv[2], `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify({ checks, ncclBuilt: visible.addon.ncclBuilt, gpus: visible.cuda.gpus, problems: visible.problems }, null, 2));
process.exitCode = Object.values(checks).every(Boolean) ? 0 : 1;
