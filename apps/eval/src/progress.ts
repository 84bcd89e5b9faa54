// Progress of a command: a cli-progress bar on a terminal, plain lines otherwise (CI logs).
import cliProgress from 'cli-progress';

export class Progress {
  private bar?: cliProgress.SingleBar;
  private lastLine = 0;

  constructor(private readonly label: string, total: number, private readonly quiet = false) {
    if (quiet) return;
    if (process.stderr.isTTY) {
      this.bar = new cliProgress.SingleBar(
        { format: `${label} [{bar}] {value}/{total} {detail} | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { detail: '' });
    }
  }

  update(value: number, total: number, detail = ''): void {
    if (this.quiet) return;
    if (this.bar) {
      this.bar.setTotal(total);
      this.bar.update(value, { detail });
      return;
    }
    // Plain lines, at most one every 2 s (and the last one).
    const now = Date.now();
    if (value === total || now - this.lastLine > 2000) {
      this.lastLine = now;
      process.stderr.write(`${this.label}: ${value}/${total} ${detail}\n`);
    }
  }

  stop(): void {
    this.bar?.stop();
  }
}
