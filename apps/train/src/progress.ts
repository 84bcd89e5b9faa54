// Progress of a run: a cli-progress bar (step, loss, samples/s, ETA) on a terminal, plain lines
// every `every` steps otherwise (CI, log files).
import cliProgress from 'cli-progress';

export interface ProgressUpdate {
  step: number;
  loss: number;
  samplesPerSec: number;
  lr: number;
}

export interface Progress {
  start(total: number, startStep: number): void;
  update(u: ProgressUpdate): void;
  /** A message line that does not break the bar. */
  log(line: string): void;
  stop(): void;
}

function eta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export function formatLoss(v: number): string {
  return Number.isFinite(v) ? (Math.abs(v) >= 0.01 ? v.toFixed(4) : v.toExponential(3)) : String(v);
}

class BarProgress implements Progress {
  private bar = new cliProgress.SingleBar(
    { format: 'train |{bar}| {value}/{total} steps | loss {loss} | {sps} samples/s | lr {lr} | ETA {etaStr}', hideCursor: true, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  private t0 = 0;
  private s0 = 0;
  private total = 0;
  start(total: number, startStep: number): void {
    this.total = total;
    this.t0 = performance.now();
    this.s0 = startStep;
    this.bar.start(total, startStep, { loss: '-', sps: '-', lr: '-', etaStr: '?' });
  }
  update(u: ProgressUpdate): void {
    const elapsed = (performance.now() - this.t0) / 1000;
    const rate = (u.step - this.s0) / Math.max(elapsed, 1e-9);
    this.bar.update(u.step, { loss: formatLoss(u.loss), sps: u.samplesPerSec.toFixed(2), lr: u.lr.toExponential(2), etaStr: eta((this.total - u.step) / rate) });
  }
  log(line: string): void {
    // Clear the bar's line, print, and let the next update redraw the bar below.
    process.stderr.write(`\r\x1b[2K${line}\n`);
  }
  stop(): void {
    this.bar.stop();
  }
}

class LineProgress implements Progress {
  private t0 = 0;
  private s0 = 0;
  private total = 0;
  constructor(
    private readonly every: number,
    private readonly write: (line: string) => void,
  ) {}
  start(total: number, startStep: number): void {
    this.total = total;
    this.s0 = startStep;
    this.t0 = performance.now();
    this.write(`train: steps ${startStep}/${total}`);
  }
  update(u: ProgressUpdate): void {
    if (u.step % this.every !== 0 && u.step !== this.total) return;
    const elapsed = (performance.now() - this.t0) / 1000;
    const rate = (u.step - this.s0) / Math.max(elapsed, 1e-9);
    this.write(`step ${u.step}/${this.total} loss ${formatLoss(u.loss)} ${u.samplesPerSec.toFixed(2)} samples/s lr ${u.lr.toExponential(2)} ETA ${eta((this.total - u.step) / rate)}`);
  }
  log(line: string): void {
    this.write(line);
  }
  stop(): void {}
}

/** A bar on a TTY (unless `plain`), plain lines otherwise. */
export function createProgress(options: { every: number; plain?: boolean; write?: (line: string) => void }): Progress {
  const write = options.write ?? ((l: string) => process.stderr.write(l + '\n'));
  if (!options.plain && process.stderr.isTTY && !options.write) return new BarProgress();
  return new LineProgress(options.every, write);
}
