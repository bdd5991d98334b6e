// Public API of node-qlora: `import { loadModel, loadTokenizer } from 'node-qlora'`.
export { loadModel, Model } from './model.js';
export type { Device, Dtype, GenerateOptions, LoadModelOptions, Logits, LogitsOptions, ModelInfo } from './model.js';
export { generateText } from './generate-text.js';
export { quantizeCheckpoint } from './quantize.js';
export type { QuantizeOptions, QuantizeResult } from './quantize.js';
export type { GenerateTextOptions, GenerateTextResult } from './generate-text.js';
export { loadTokenizer, Tokenizer } from '../tokenize/tokenizer.js';
export { loadArchConfig, archConfigFromHf } from '../config/hf-config.js';
export type { ArchConfig, Family, LayerConfig, RopeConfig } from '../config/arch.js';
export { SftError, ErrorCode } from '../errors.js';
export { native } from '../native.js';
