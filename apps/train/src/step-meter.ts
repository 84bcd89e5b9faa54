// What both trainers keep between micro-steps of one optimizer step for the log: the summed loss
// and samples, and the clock, turned into the step's log record when the step ends. (The summed
// gradients are kernels' GradientAccumulator.)

/** One optimizer step's line in log.jsonl. */
export interface StepRecord {
  type: 'step';
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  grad_norm: number;
  samples: number;
  samples_per_sec: number;
}

export class StepMeter {
  /** Micro-steps summed into the current optimizer step. */
  micro = 0;
  private loss = 0;
  private samples = 0;
  private t0 = performance.now();

  addMicro(loss: number, samples: number): void {
    this.loss += loss;
    this.samples += samples;
    this.micro++;
  }

  /** Samples of the current step so far. */
  get stepSamples(): number {
    return this.samples;
  }

  /** The record of the step just taken (mean micro-step loss, throughput since the last one); resets. */
  finish(fields: { step: number; epoch: number; lr: number; grad_norm: number }, extra: Record<string, number> = {}): StepRecord & Record<string, unknown> {
    const now = performance.now();
    const rec = {
      type: 'step' as const,
      step: fields.step,
      epoch: fields.epoch,
      loss: this.loss / this.micro,
      lr: fields.lr,
      grad_norm: fields.grad_norm,
      samples: this.samples,
      samples_per_sec: this.samples / ((now - this.t0) / 1000),
      ...extra,
    };
    this.t0 = now;
    this.loss = 0;
    this.samples = 0;
    this.micro = 0;
    return rec;
  }
}
