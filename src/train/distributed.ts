// Data-parallel training on one host, as torchrun does it: the calling process is rank 0 and
// forks worker processes for ranks 1..N-1 (the caller's worker entry, api/rank-worker.ts), each handed the run's
// options as JSON. Every rank loads the model, joins the process group (rank 0 hosts the
// rendezvous store on a free local port) and trains on its share of each step (trainer.ts);
// only rank 0 writes logs, checkpoints and the adapter.
//
// Failure: a worker that throws reports its error and exits; one that dies exits. Either way
// rank 0 aborts its own collectives, ends the other workers and throws an SftError naming the
// rank and its message. Workers exit when rank 0's process goes away (IPC disconnect).
// Not here: what a rank trains (api/train.ts), how gradients are summed (native distributed).
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, SftError } from '../errors.js';
import { PACKAGE_ROOT } from '../package-info.js';

/** What every rank needs to join the run (sent to workers as JSON). */
export interface RankContext {
  rank: number;
  worldSize: number;
  host: string;
  port: number;
  /** Rendezvous and collective timeout. */
  timeoutMs: number;
  /** The model folder rank 0 resolved (downloaded once, not by every rank). */
  modelDir: string;
  /** The checkpoint all ranks resume from; absent for a fresh run. */
  resumeFrom?: string;
}

/** Rank 0's context: `abort` is set once its process group exists. */
export interface LocalRank extends RankContext {
  abort: () => void;
}

export interface RankStart {
  type: 'start';
  options: unknown;
  context: RankContext;
}
export type RankReport = { type: 'done' } | { type: 'error'; message: string; code: string };

export const DIST_RANK_FAILED = 'DIST_RANK_FAILED';
const HOST = '127.0.0.1';
const TIMEOUT_MS = 600_000;

/** A port that was free a moment ago (the store binds it right after). */
async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * The compiled worker entry `name` (a .js file) next to `moduleUrl`, the caller's module: in
 * dist/ (or dist/cjs/) beside it, or in dist/ when the caller runs from src/ (tests).
 */
export function workerEntryNear(moduleUrl: string, name: string): string {
  const here = fileURLToPath(new URL('.', moduleUrl));
  const candidates = [join(here, name), join(PACKAGE_ROOT, 'dist', basename(here), name)];
  const found = candidates.find((file) => existsSync(file));
  if (found) return found;
  throw new SftError(`data-parallel training forks ${candidates[1]}, which is not built; run \`npm run build:ts\``, DIST_RANK_FAILED);
}

/** CUDA_VISIBLE_DEVICES for a worker: its own GPU (the rank-th of those visible to rank 0). */
function deviceEnv(rank: number, worldSize: number, device: string | undefined): Record<string, string> {
  if (device === 'cpu') return {};
  const visible = process.env.CUDA_VISIBLE_DEVICES?.split(',').filter((d) => d !== '');
  if (visible && visible.length < worldSize) {
    throw new SftError(`world size ${worldSize} needs ${worldSize} GPUs but CUDA_VISIBLE_DEVICES lists ${visible.length}`, ErrorCode.InvalidArgument);
  }
  return { CUDA_VISIBLE_DEVICES: visible ? (visible[rank] as string) : String(rank) };
}

class Workers {
  readonly failure: Promise<never>;
  readonly #children: ChildProcess[] = [];
  readonly #done = new Set<number>();
  #fail!: (err: SftError) => void;
  #allDone!: () => void;
  readonly #finished: Promise<void>;
  #stopping = false;
  error: SftError | undefined;

  constructor(entry: string, options: unknown, base: Omit<RankContext, 'rank'>, device: string | undefined) {
    this.failure = new Promise<never>((_, reject) => {
      this.#fail = (err) => {
        if (this.error || this.#stopping) return;
        this.error = err;
        reject(err);
      };
    });
    this.failure.catch(() => {}); // observed through race() and `error`
    this.#finished = new Promise((resolveDone) => {
      this.#allDone = resolveDone;
    });
    for (let rank = 1; rank < base.worldSize; rank++) {
      const child = fork(entry, [], { env: { ...process.env, ...deviceEnv(rank, base.worldSize, device) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      let reported: RankReport | undefined;
      child.on('message', (m: RankReport) => {
        reported = m;
        if (m.type === 'error') this.#fail(new SftError(`rank ${rank} of ${base.worldSize} failed: ${m.message}`, m.code || DIST_RANK_FAILED));
      });
      child.on('error', (err) => this.#fail(new SftError(`rank ${rank} of ${base.worldSize} could not start: ${err.message}`, DIST_RANK_FAILED)));
      child.on('exit', (code, signal) => {
        if (reported?.type === 'done' && code === 0) {
          this.#done.add(rank);
          if (this.#done.size === base.worldSize - 1) this.#allDone();
        } else if (reported?.type !== 'error') {
          this.#fail(new SftError(`rank ${rank} of ${base.worldSize} exited (${signal ?? `code ${code}`}) before finishing its run`, DIST_RANK_FAILED));
        }
      });
      const start: RankStart = { type: 'start', options, context: { ...base, rank } };
      child.send(start);
      this.#children.push(child);
    }
    if (base.worldSize === 1) this.#allDone();
  }

  /** Resolves when every worker finished its run; rejects with the first failure. */
  finished(): Promise<void> {
    return Promise.race([this.#finished, this.failure]);
  }

  kill(): void {
    this.#stopping = true;
    for (const child of this.#children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/**
 * Runs `run` as rank 0 of `worldSize` with workers for the other ranks, and returns its result
 * once every rank finished. `options` are handed to the workers (processes running `entry`),
 * which call `run` likewise.
 */
export async function runDataParallel<T>(
  entry: string,
  worldSize: number,
  options: unknown,
  shared: { modelDir: string; resumeFrom?: string; device?: string },
  run: (rank: LocalRank) => Promise<T>,
): Promise<T> {
  const base = {
    worldSize,
    host: HOST,
    port: await freePort(),
    timeoutMs: TIMEOUT_MS,
    modelDir: shared.modelDir,
    ...(shared.resumeFrom !== undefined ? { resumeFrom: shared.resumeFrom } : {}),
  };
  const workers = new Workers(entry, options, base, shared.device);
  const local: LocalRank = { ...base, rank: 0, abort: () => {} };
  const mine = run(local);
  try {
    const result = await Promise.race([mine, workers.failure]);
    await workers.finished();
    return result;
  } catch (err) {
    // Whoever failed first, rank 0 stops waiting for its peers and its run unwinds (the model
    // is disposed) before the error is thrown.
    const workerError = workers.error;
    local.abort();
    workers.kill();
    await mine.catch(() => {});
    throw workerError ?? err;
  } finally {
    workers.kill();
  }
}
