// Entry of a data-parallel worker process (ranks 1..N-1), forked by train/distributed.ts for
// train() (which is why it lives in src/api, next to trainRank, and src/train never imports src/api): it
// waits for its start message, runs its rank of the training run and reports done or the error
// to rank 0. It writes nothing to the run folder (rank 0 does).
//
// NQ_TEST_FAIL_AT="<rank>:<step>" makes that rank throw after that step: the tests' way to
// check that a failing rank stops the run with its error.
import { SftError } from '../errors.js';
import type { RankReport, RankStart } from '../train/distributed.js';
import { trainRank } from './train.js';

// Ctrl-C reaches every process of the terminal's group; rank 0 handles it (stops after the
// step, saves a checkpoint) and ends the workers.
process.on('SIGINT', () => {});
// Rank 0 is gone: nobody will collect this rank's result.
process.on('disconnect', () => process.exit(1));

function report(message: RankReport, code: number): void {
  process.send?.(message, () => process.exit(code));
}

const failAt = /^(\d+):(\d+)$/.exec(process.env.NQ_TEST_FAIL_AT ?? '');

process.once('message', (start: RankStart) => {
  const { context } = start;
  const fail = failAt && Number(failAt[1]) === context.rank ? Number(failAt[2]) : undefined;
  trainRank(start.options, {
    onProgress: (e) => {
      if (e.phase === 'train' && e.step === fail) throw new Error(`injected failure at step ${e.step} (NQ_TEST_FAIL_AT)`);
    },
  }, {}, context).then(
    () => report({ type: 'done' }, 0),
    (err: unknown) => {
      const e = err as Error;
      report({ type: 'error', message: e.message ?? String(err), code: err instanceof SftError ? err.code : 'DIST_RANK_FAILED' }, 1);
    },
  );
});
