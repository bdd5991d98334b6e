// Kept only for src/api/model.ts, which another change moves to config/parse-options.js; the
// option gate itself lives in src/config so that src/train can use it without importing src/api.
export { parseOptions } from '../config/parse-options.js';
