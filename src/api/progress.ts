// What long operations report while they run (train, evaluate, demo, model downloads). The CLI
// draws these on stderr; API users get them through `onProgress`.
import type { TrainLogLine } from '../eval/report-types.js';
import type { EvalLogLine } from '../train/loop.js';

export type ProgressEvent =
  | { phase: 'model'; message: string }
  | { phase: 'download'; file: string; bytes: number; totalBytes: number }
  /** A GGUF file being converted (sft import, or --model FILE.gguf the first time): tensors and output bytes done. */
  | { phase: 'import'; file: string; tensor: string; done: number; count: number; bytes: number; totalBytes: number }
  | { phase: 'data'; message: string }
  | ({ phase: 'train'; totalSteps: number } & TrainLogLine)
  /** An evaluation during training (--eval-every). */
  | ({ phase: 'validation'; totalSteps: number } & EvalLogLine)
  | { phase: 'eval'; which: 'base' | 'adapter'; done: number; total: number }
  | { phase: 'save'; path: string };

export interface RunControl {
  onProgress?: (event: ProgressEvent) => void;
  /** Stops the work at the next step or batch boundary with an ABORTED SftError. */
  signal?: AbortSignal;
}
