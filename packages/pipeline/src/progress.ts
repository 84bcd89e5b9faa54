// Progress of a run: a cli-progress bar per phase on a terminal, plain lines elsewhere (CI, logs,
// tests).
import cliProgress from 'cli-progress';

export interface Progress {
  /** Starts (or continues) a phase; `update` moves it to done/total. */
  update(phase: string, done: number, total: number): void;
  /** Ends the current bar so log lines do not interleave with it. */
  stop(): void;
}

/** Bars on a TTY, else one line per ~10% (and the last step) of each phase. */
/** `label` prefixes every line (a rank's "[rank 1/2] " under torchrun). */
export function createProgress(stream: NodeJS.WriteStream = process.stderr, forcePlain = false, label = ''): Progress {
  if (stream.isTTY && !forcePlain) {
    let bar: cliProgress.SingleBar | null = null;
    let current = '';
    return {
      update(phase, done, total) {
        if (phase !== current || !bar) {
          bar?.stop();
          current = phase;
          bar = new cliProgress.SingleBar({ format: `${label}${phase.padEnd(8)} [{bar}] {value}/{total} | {duration_formatted} | eta {eta_formatted}`, stream, hideCursor: true }, cliProgress.Presets.shades_classic);
          bar.start(total, 0);
        }
        bar.setTotal(total);
        bar.update(done);
        if (done >= total) {
          bar.stop();
          bar = null;
          current = '';
        }
      },
      stop() {
        bar?.stop();
        bar = null;
        current = '';
      },
    };
  }
  const last = new Map<string, number>();
  return {
    update(phase, done, total) {
      const tenth = Math.floor((10 * done) / total);
      if (done === total || tenth !== last.get(phase)) {
        last.set(phase, tenth);
        stream.write(`${label}${phase} ${done}/${total}\n`);
      }
      if (done === total) last.delete(phase);
    },
    stop() {},
  };
}
