// PEFT adapter_config.json (src/engine/adapter-config.ts) as the public API gives it.
export * from '../engine/adapter-config.js';
