// sft doctor's findings from given machine facts: why CUDA is or is not usable and what to do,
// an addon that does not load, the libtorch folder from the memory map, nvidia-smi's GPUs.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { doctor, folderBytes, parseNvidiaSmi, type DoctorSources } from '../../src/api/doctor.js';
import { SftError } from '../../src/errors.js';

const work = mkdtempSync(join(tmpdir(), 'nq-doctor-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const cpuBuild = { torchVersion: '2.9.0', cudaBuilt: false, ncclBuilt: false, cudaAvailable: false, threads: 4 };
const cudaBuild = { ...cpuBuild, cudaBuilt: true, ncclBuilt: true, cudaAvailable: true };
const H200 = ['0, NVIDIA H200, 570.86.15, 143771, 140000'];
const noSmi = () => ({ error: 'nvidia-smi is not on PATH', notFound: true });
const MAPS = [
  '7f00-7f01 r-xp 00000000 08:01 123 /usr/lib/x86_64-linux-gnu/libc.so.6',
  '7f02-7f03 r-xp 00000000 08:01 124 /opt/venv/lib/python3.11/site-packages/torch/lib/libtorch_cpu.so',
  '7f04-7f05 r-xp 00000000 08:01 125 /srv/app/node_modules/node-qlora/build/Release/node_qlora.node',
].join('\n');

function sources(over: Partial<DoctorSources>): DoctorSources {
  return { loadAddon: () => cpuBuild, nvidiaSmi: noSmi, memoryMap: () => MAPS, env: { HF_HUB_CACHE: join(work, 'hub'), NQ_CACHE_DIR: join(work, 'nq') }, ...over };
}

describe('doctor', () => {
  it('a CPU build on a machine without GPU: no problem; the addon file and the libtorch folder from the memory map', async () => {
    const r = await doctor(sources({}));
    expect(r.addon).toEqual({ loaded: true, file: '/srv/app/node_modules/node-qlora/build/Release/node_qlora.node', cudaBuilt: false, ncclBuilt: false, kernels: false });
    expect(r.libtorch).toEqual({ version: '2.9.0', dir: '/opt/venv/lib/python3.11/site-packages/torch/lib' });
    expect(r.cuda.available).toBe(false);
    expect(r.cuda.why).toMatch(/built without CUDA.*no GPU found \(nvidia-smi: nvidia-smi is not on PATH\)/);
    expect(r.problems.filter((p) => !/free on the disk/.test(p.what))).toEqual([]);
  });

  it('a CPU build where nvidia-smi lists a GPU: says to rebuild against a CUDA torch', async () => {
    const r = await doctor(sources({ nvidiaSmi: () => ({ lines: H200 }) }));
    expect(r.cuda.gpus).toEqual([{ index: 0, name: 'NVIDIA H200', driver: '570.86.15', memoryTotalBytes: 143771 * 2 ** 20, memoryFreeBytes: 140000 * 2 ** 20 }]);
    expect(r.problems[0]).toMatchObject({ what: expect.stringMatching(/built without CUDA.*nvidia-smi lists 1 GPU/), fix: expect.stringMatching(/npm run build:native/) });
  });

  it('a CUDA build: available; hidden by CUDA_VISIBLE_DEVICES; no driver; a driver libtorch cannot use; several GPUs without NCCL', async () => {
    expect((await doctor(sources({ loadAddon: () => cudaBuild, nvidiaSmi: () => ({ lines: H200 }) }))).cuda).toMatchObject({ available: true, why: expect.stringMatching(/libtorch sees the GPU/) });
    const off = { ...cudaBuild, cudaAvailable: false };
    const hidden = await doctor(sources({ loadAddon: () => off, nvidiaSmi: () => ({ lines: H200 }), env: { CUDA_VISIBLE_DEVICES: '' } }));
    expect(hidden.problems[0]).toMatchObject({ what: 'CUDA_VISIBLE_DEVICES="" hides every GPU', fix: expect.stringMatching(/unset CUDA_VISIBLE_DEVICES/) });
    const noDriver = await doctor(sources({ loadAddon: () => off }));
    expect(noDriver.problems[0]?.what).toMatch(/built with CUDA but no NVIDIA driver found/);
    const broken = await doctor(sources({ loadAddon: () => off, nvidiaSmi: () => ({ error: 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver', notFound: false }) }));
    expect(broken.cuda.why).toMatch(/the NVIDIA driver does not answer \(nvidia-smi: NVIDIA-SMI has failed/);
    const old = await doctor(sources({ loadAddon: () => off, nvidiaSmi: () => ({ lines: H200 }) }));
    expect(old.problems[0]).toMatchObject({ what: expect.stringMatching(/lists 1 GPU\(s\) but libtorch 2\.9\.0 cannot use them/), fix: expect.stringMatching(/update the NVIDIA driver/) });
    const two = await doctor(sources({ loadAddon: () => ({ ...cudaBuild, ncclBuilt: false }), nvidiaSmi: () => ({ lines: [...H200, '1, NVIDIA H200, 570.86.15, 143771, 140000'] }) }));
    expect(two.problems[0]?.what).toMatch(/2 GPUs but the addon was built without NCCL/);
  });

  it('an addon that does not load is a finding with the loader fix, not a failure', async () => {
    const failing = () => {
      throw new SftError('node-qlora: could not load the native addon.\n  tried: x\n  reason: libtorch_cpu.so: cannot open shared object file\n  fix: rebuild with `npm run build:native`\n  diagnose: npx sft doctor', 'ADDON_LOAD');
    };
    const r = await doctor(sources({ loadAddon: failing, memoryMap: () => undefined }));
    expect(r.addon.loaded).toBe(false);
    expect(r.cuda.why).toMatch(/did not load/);
    expect(r.problems[0]).toEqual({ what: 'the native addon does not load: reason: libtorch_cpu.so: cannot open shared object file', fix: 'rebuild with `npm run build:native`' });
    const overridden = await doctor(sources({ loadAddon: failing, env: { NODE_QLORA_ADDON: '/x.node' } }));
    expect(overridden.problems[0]?.fix).toMatch(/NODE_QLORA_ADDON=\/x\.node does not load: unset it/);
  });

  it('cache sizes count files once (symlinks are not followed) and name the folders', async () => {
    const hub = join(work, 'hub', 'models--a--b');
    mkdirSync(join(hub, 'blobs'), { recursive: true });
    mkdirSync(join(hub, 'snapshots', 'c'), { recursive: true });
    writeFileSync(join(hub, 'blobs', 'x'), Buffer.alloc(1000));
    symlinkSync(join(hub, 'blobs', 'x'), join(hub, 'snapshots', 'c', 'model.safetensors'));
    expect(await folderBytes(join(work, 'hub'))).toBe(1000);
    const r = await doctor(sources({}));
    expect(r.caches.map((c) => [c.path, c.exists, c.bytes])).toEqual([[join(work, 'hub'), true, 1000], [join(work, 'nq', 'gguf-import'), false, 0]]);
    expect(parseNvidiaSmi([])).toEqual([]);
  });
});
