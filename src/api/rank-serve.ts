// Serves one rank of a data-parallel run in a worker process (ranks 1..N-1, forked by
// train/distributed.ts): waits for its start message, runs its rank of the training run and
// reports done or the error to rank 0. It writes nothing to the run folder (rank 0 does). It
// lives in src/api, next to trainRank, so that src/train never imports src/api.
import { SftError } from '../errors.js';
import type { RankReport, RankStart } from '../train/distributed.js';
import type { RunControl } from './progress.js';
import { trainRank } from './train.js';

function report(message: RankReport, code: number): void {
  process.send?.(message, () => process.exit(code));
}

/** Serves this process's rank; `control` receives the rank's progress (and may throw to fail it). @internal */
export function serveRank(control: RunControl = {}): void {
  // Ctrl-C (and SIGHUP, the terminal closing) reaches every process of the terminal's group,
  // a scheduler's SIGTERM may reach them all too; rank 0 handles them (stops after the step,
  // saves a checkpoint) and ends the workers.
  for (const signal of ['SIGINT', 'SIGHUP', 'SIGTERM'] as const) process.on(signal, () => {});
  // Rank 0 is gone: nobody will collect this rank's result.
  process.on('disconnect', () => process.exit(1));
  process.once('message', (start: RankStart) => {
    trainRank(start.options, control, {}, start.context).then(
      () => report({ type: 'done' }, 0),
      (err: unknown) => {
        const e = err as Error;
        report({ type: 'error', message: e.message ?? String(err), code: err instanceof SftError ? err.code : 'DIST_RANK_FAILED' }, 1);
      },
    );
  });
}
