// The Model class (src/engine/model.ts: the engine handle's owner) as the public API gives it.
export * from '../engine/model.js';
