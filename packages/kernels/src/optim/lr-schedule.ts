// Learning-rate schedules of the reference's training script, indexed by optimizer update:
// - none (warmup_steps null, no cosine): constant lr;
// - LinearWarmupLR: initial_lr + (lr - initial_lr)(s+1)/(W+1) while s < W, then lr;
// - cosine (use_cosine_scheduler): linear warmup lr(s+1)/W over W steps, then cosine from lr to
//   0 over the remaining total - W steps (ColossalAI's CosineAnnealingWarmupLR).

export interface LrScheduleOptions {
  lr: number;
  warmupSteps: number | null;
  cosine: boolean;
  /** Total updates of the run (cosine only). */
  totalSteps?: number;
  initialLr?: number;
  etaMin?: number;
}

export type LrSchedule = (step: number) => number;

export function lrSchedule(o: LrScheduleOptions): LrSchedule {
  const { lr } = o;
  if (o.cosine) {
    const W = o.warmupSteps ?? 0;
    const total = o.totalSteps;
    if (!total || total <= W) throw new Error(`use_cosine_scheduler needs a total step count above warmup_steps ${W} (got ${total ?? 'none'}); set epochs or max_steps.`);
    const etaMin = o.etaMin ?? 0;
    return (s) => {
      if (s < W) return (lr * (s + 1)) / W;
      const p = Math.min(1, (s - W) / (total - W));
      return etaMin + ((lr - etaMin) * (1 + Math.cos(Math.PI * p))) / 2;
    };
  }
  if (o.warmupSteps === null || o.warmupSteps === 0) return () => lr;
  const W = o.warmupSteps;
  const init = o.initialLr ?? 1e-6;
  return (s) => (s < W ? init + ((s + 1) / (W + 1)) * (lr - init) : lr);
}
