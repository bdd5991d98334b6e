// Entry of a data-parallel worker process (ranks 1..N-1), forked by train/distributed.ts for
// train(): it serves its rank (rank-serve.ts).
import { serveRank } from './rank-serve.js';

serveRank();
