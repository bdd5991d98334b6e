// The best validation figure of a run so far and the evaluations since it improved: what
// --save-best keeps and --early-stopping-patience stops on. Its state travels in every
// checkpoint (trainer_state.json `evaluation`), so a resumed run compares against the same best
// and counts the same patience as a run that never stopped.
import { ErrorCode, SftError } from '../errors.js';

/** Validation figures a run can rank its checkpoints by. */
export const BEST_METRICS = ['eval_loss', 'acc', 'resp_acc'] as const;
export type BestMetric = (typeof BEST_METRICS)[number];

/** Lower is better for the loss, higher for the accuracies. */
export const METRIC_DIRECTION: Record<BestMetric, 'min' | 'max'> = { eval_loss: 'min', acc: 'max', resp_acc: 'max' };

/** One evaluation during training; acc and resp_acc only where the rows have labels. */
export interface EvalPoint {
  step: number;
  eval_loss: number;
  acc?: number;
  resp_acc?: number;
}

/** What a checkpoint keeps of the tracker. */
export interface BestState {
  metric: BestMetric;
  /** Best value so far and its step; absent before the first evaluation. */
  best?: { value: number; step: number };
  /** Evaluations since the best one (0 right after an improvement). */
  sinceBest: number;
}

export class BestTracker {
  readonly metric: BestMetric;
  /** Evaluations without improvement that stop the run; undefined: never stop. */
  readonly patience: number | undefined;
  #best: { value: number; step: number } | undefined;
  #sinceBest = 0;

  constructor(metric: BestMetric, patience?: number) {
    this.metric = metric;
    this.patience = patience;
  }

  get best(): { value: number; step: number } | undefined {
    return this.#best;
  }

  get sinceBest(): number {
    return this.#sinceBest;
  }

  /** Whether `value` beats the best so far (any finite value beats none; NaN never does). */
  #beats(value: number): boolean {
    if (!Number.isFinite(value)) return false;
    if (this.#best === undefined) return true;
    return METRIC_DIRECTION[this.metric] === 'min' ? value < this.#best.value : value > this.#best.value;
  }

  /** Records an evaluation; `improved`: it is the new best; `stop`: patience is spent. */
  update(point: EvalPoint): { improved: boolean; stop: boolean } {
    const value = point[this.metric];
    if (value === undefined) {
      throw new SftError(`--best-metric ${this.metric}: the validation pass computed no ${this.metric} (only label rows have acc and resp_acc); use --best-metric eval_loss`, ErrorCode.InvalidArgument);
    }
    const improved = this.#beats(value);
    if (improved) {
      this.#best = { value, step: point.step };
      this.#sinceBest = 0;
    } else {
      this.#sinceBest += 1;
    }
    return { improved, stop: this.patience !== undefined && this.#sinceBest >= this.patience };
  }

  state(): BestState {
    return { metric: this.metric, ...(this.#best ? { best: { ...this.#best } } : {}), sinceBest: this.#sinceBest };
  }

  /** Continues from a checkpoint's state; a checkpoint ranked by another metric is refused. */
  restore(state: BestState, from: string): void {
    if (state.metric !== this.metric) {
      throw new SftError(
        `cannot resume from ${from}: its run kept the best checkpoint by ${state.metric}, this one by ${this.metric}; resume with --best-metric ${state.metric}`,
        ErrorCode.InvalidArgument,
      );
    }
    this.#best = state.best ? { ...state.best } : undefined;
    this.#sinceBest = state.sinceBest;
  }
}
