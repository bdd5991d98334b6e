// Public API of node-qlora: `import { loadModel, loadTokenizer } from 'node-qlora'`.
export { loadModel, Model } from './model.js';
export type { Device, Dtype, GenerateOptions, LoadModelOptions, Logits, LogitsOptions, ModelInfo } from './model.js';
export { generateText } from './generate-text.js';
export { openChat, ChatSession } from './chat.js';
export type { ChatOptions } from './chat.js';
export { quantizeCheckpoint } from './quantize.js';
export type { QuantizeOptions, QuantizeResult } from './quantize.js';
export type { GenerateTextOptions, GenerateTextResult } from './generate-text.js';
export { loadTokenizer, Tokenizer } from '../tokenize/tokenizer.js';
export { loadArchConfig, archConfigFromHf } from '../config/hf-config.js';
export type { ArchConfig, Family, LayerConfig, RopeConfig } from '../config/arch.js';
export { SftError, ErrorCode } from '../errors.js';
// The engine underneath: build facts, CUDA memory, CPU threads (the raw addon stays internal).
export { buildInfo, cudaMemory, resetCudaPeakMemory, setCpuThreads } from './runtime.js';
export type { BuildInfo, CudaMemory } from './runtime.js';
export { doctor } from './doctor.js';
export { planMemory } from './plan.js';
export type { MemoryPlan, PlanOptions } from './plan.js';
export type { DoctorGpu, DoctorProblem, DoctorReport } from './doctor.js';
export type { ClassifyLogits, LoraInfo, LoraOptions } from './model.js';
export type { ClassifyBatch } from '../engine/classify-batch.js';
export type { LoraSpec } from './adapter-config.js';
export { createTrainer, Trainer } from '../train/trainer.js';
export type { CheckpointPosition, StepLog, TrainerOptions, TrainerState } from '../train/trainer.js';
export { runTraining } from '../train/loop.js';
export type { TrainLoopOptions, TrainLoopResult } from '../train/loop.js';
export { learningRate } from '../train/schedule.js';
export type { Schedule, ScheduleName } from '../train/schedule.js';
export { collate, countTargets, promptResponseExample, IGNORE_INDEX } from '../data/collate.js';
export type { Batch, TokenizedExample } from '../data/collate.js';
// The seed's job: train, evaluate, the bundled demo, and what they read and write.
export { train, latestCheckpoint, TrainingStopped } from './train.js';
export type { TrainResult } from './train.js';
export { evaluate } from './evaluate.js';
export type { EvalResult } from './evaluate.js';
export { evaluateGeneration } from './evaluate-generation.js';
export type { GenerationEvalOptions, GenerationEvalResult } from './evaluate-generation.js';
export type { GenerationEvalReport } from '../eval/generation-task-report.js';
export type { GenerationMetrics, GenerationPredictionLine } from '../eval/generation-task.js';
export { runDemo } from './demo.js';
export type { DemoOptions, DemoResult, SeedTableRow } from './demo.js';
export type { ProgressEvent, RunControl } from './progress.js';
export type { ClassifyLossOptions, DataOptions, EngineOptions, EvalOptions, LoraTarget, OptimizerOptions, TrainOptions } from '../config/option-types.js';
export type { EvalReport, EvalMetrics, ConfusionMatrix, PredictionLine, RunRecord, SkippedRow, TrainLogLine } from '../eval/report-types.js';
export { readRows } from '../data/read-rows.js';
export type { DataRow } from '../data/read-rows.js';
export { createLabelParser, parseLabel } from '../eval/label-parser.js';
export { computeMetrics } from '../eval/metrics.js';
// Text metrics of the generation task: sacrebleu's corpus BLEU and rouge-score's ROUGE, equal to them on committed fixtures.
export { corpusBleu } from '../eval/text-metrics/bleu.js';
export type { BleuOptions, BleuScore } from '../eval/text-metrics/bleu.js';
export { rouge } from '../eval/text-metrics/rouge.js';
export type { RougeF, RougeOptions, RougeResult } from '../eval/text-metrics/rouge.js';
export { evalReportMarkdown, formatEvalSummary } from '../eval/report-md.js';
export { writeRunReport } from '../eval/html-report.js';
export { resolveTemplate } from '../data/templates.js';
// Models by name: presets, Hub repo ids (downloaded into the shared Hugging Face cache), local folders.
export { resolveModel } from '../hub/resolve.js';
export type { ResolvedModel, ResolveModelOptions } from '../hub/resolve.js';
export { MODEL_PRESETS, findPreset } from '../hub/presets.js';
export type { ModelPreset } from '../hub/presets.js';
// GGUF checkpoints (llama.cpp / Ollama files) -> Hugging Face layout.
export { importGguf } from './import-gguf.js';
export type { ImportGgufOptions, ImportGgufResult } from './import-gguf.js';
export { mergeAdapterCheckpoint } from './merge.js';
export type { MergeOptions, MergeResult } from './merge.js';
export { exportGguf } from './export-gguf.js';
export type { ExportGgufOptions, GgufExportResult } from './export-gguf.js';
