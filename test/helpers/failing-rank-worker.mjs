// A data-parallel worker entry for the tests (forked by trainWithWorkers): it serves its rank
// as the real entry does, and throws after the rank's step 2, so the test sees how a failing
// rank stops the run. Runs the compiled dist/ (worker processes are plain node).
import { serveRank } from '../../dist/api/rank-serve.js';

serveRank({
  onProgress: (e) => {
    if (e.phase === 'train' && e.step === 2) throw new Error(`injected failure at step ${e.step}`);
  },
});
