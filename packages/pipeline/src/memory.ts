// Peak memory per phase of a generation. Linux keeps a process's high-water RSS (VmHWM), which can
// be reset by writing 5 to /proc/self/clear_refs: reset at a phase's start, read at its end, it is
// that phase's own peak. The reset also lowers getrusage's maxrss, so the process-wide peak is
// kept here as the largest value ever read. Elsewhere (no /proc) phases report the process peak so far.
import { readFileSync, writeFileSync } from 'node:fs';
import { tf } from '@opensora-ts/kernels';

export interface PhaseMemory {
  /** 'load', 'text', 'encode' (reference images/videos), 'denoise', 'decode'. */
  phase: string;
  seconds: number;
  /** Highest resident set size of the process during this phase, MiB. */
  peakRssMiB: number;
  /** 'phase': peakRssMiB is this phase's own peak; 'process': the process's peak so far (no per-phase counter on this OS). */
  peakRssScope: 'phase' | 'process';
  /** Bytes held by tensors (the backend's, GPU memory on CUDA) at the phase's end, MiB. */
  tensorMiB: number;
  /** The most tensor memory seen at the phase's step boundaries, MiB. */
  tensorPeakMiB: number;
  /** The models in memory during the phase ('text', 'dit', 'vae'). */
  models: string[];
}

const MiB = 1024 * 1024;
let processPeakKiB = 0;

function readHwmKiB(): number | null {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function resetHwm(): boolean {
  const before = readHwmKiB();
  if (before === null) return false;
  processPeakKiB = Math.max(processPeakKiB, before);
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** Peak resident set size of this process so far, in MiB (survives the per-phase resets). */
export function peakRssMiB(): number {
  const hwm = readHwmKiB();
  const ru = process.resourceUsage().maxRSS;
  processPeakKiB = Math.max(processPeakKiB, hwm ?? 0, ru);
  return processPeakKiB / 1024;
}

function tensorBytes(): number {
  return tf.memory().numBytes;
}

/** Measures one phase: call `sample()` at step boundaries, `end()` once. */
export class PhaseMeter {
  private readonly t0 = performance.now();
  private readonly scope: 'phase' | 'process';
  private tensorPeak = tensorBytes();

  constructor(
    private readonly phase: string,
    private readonly models: () => string[],
  ) {
    this.scope = resetHwm() ? 'phase' : 'process';
  }

  sample(): void {
    this.tensorPeak = Math.max(this.tensorPeak, tensorBytes());
  }

  end(): PhaseMemory {
    this.sample();
    const hwm = this.scope === 'phase' ? readHwmKiB() : null;
    const peak = hwm !== null ? hwm / 1024 : peakRssMiB();
    if (hwm !== null) processPeakKiB = Math.max(processPeakKiB, hwm);
    const round = (x: number) => Number(x.toFixed(1));
    return {
      phase: this.phase,
      seconds: Number(((performance.now() - this.t0) / 1000).toFixed(2)),
      peakRssMiB: round(peak),
      peakRssScope: this.scope,
      tensorMiB: round(tensorBytes() / MiB),
      tensorPeakMiB: round(this.tensorPeak / MiB),
      models: this.models(),
    };
  }
}
