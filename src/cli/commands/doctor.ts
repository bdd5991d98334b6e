// sft doctor: what this machine gives node-qlora (Node, addon, libtorch, CUDA, GPUs, caches) and,
// for anything wrong, what to do. Prints the report; finding a problem is not a failure.
import type { Command } from 'commander';
import { doctor, type DoctorReport } from '../../api/doctor.js';

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
const size = (bytes: number): string => (bytes >= 2 ** 30 ? gib(bytes) : `${(bytes / 2 ** 20).toFixed(1)} MiB`);
const yesNo = (v: boolean | undefined): string => (v === undefined ? 'unknown' : v ? 'yes' : 'no');

export function formatDoctorReport(r: DoctorReport): string {
  const lines = [
    `node       ${r.node.version} (${r.node.platform}-${r.node.arch})`,
    `addon      ${r.addon.loaded ? `loaded from ${r.addon.file ?? '(path not known on this platform)'}` : 'NOT LOADED'}`,
    ...(r.addon.loaded ? [`           built with CUDA: ${yesNo(r.addon.cudaBuilt)}, NCCL: ${yesNo(r.addon.ncclBuilt)}, CUDA kernels: ${yesNo(r.addon.kernels)}`] : []),
    `libtorch   ${r.libtorch.version ?? 'unknown'}${r.libtorch.dir ? ` in ${r.libtorch.dir}` : ''}`,
    `cuda       ${r.cuda.available ? 'available' : 'not available'}: ${r.cuda.why}${r.cuda.visibleDevices !== undefined ? ` (CUDA_VISIBLE_DEVICES=${r.cuda.visibleDevices})` : ''}`,
    ...r.cuda.gpus.map((g) => `gpu ${g.index}      ${g.name}, driver ${g.driver}, ${gib(g.memoryFreeBytes)} free of ${gib(g.memoryTotalBytes)}`),
    `cpu        ${r.cpu.model}: ${r.cpu.usableCpus} usable CPUs, engine threads ${r.cpu.engineThreads}, ${gib(r.cpu.freeMemoryBytes)} memory free`,
    `hub        ${r.hub.endpoint}, token ${r.hub.token ? 'set' : 'not set'}${r.hub.offline ? ', offline (HF_HUB_OFFLINE)' : ''}`,
    ...r.caches.map((c) => `cache      ${c.name}: ${c.path} ${c.exists ? size(c.bytes) : '(not created yet)'}${c.diskFreeBytes !== undefined ? `, ${gib(c.diskFreeBytes)} free on its disk` : ''}`),
    '',
    ...(r.problems.length === 0 ? ['no problems found'] : [`${r.problems.length} problem(s):`, ...r.problems.flatMap((p) => [`  - ${p.what}`, `    fix: ${p.fix}`])]),
  ];
  return `${lines.join('\n')}\n`;
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check the setup: Node, the native addon and its build (CUDA, NCCL, kernels), libtorch, CUDA and the GPUs, cache folders; says how to fix what is wrong')
    .option('--json', 'print the report as one JSON object')
    .action(async (flags: { json?: boolean }) => {
      const report = await doctor();
      process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : formatDoctorReport(report));
    });
}
