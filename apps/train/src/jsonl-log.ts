// The run's JSON-lines log: one object per line (step records, events). On resume the lines
// after the checkpoint's step are dropped, so the file reads as one uninterrupted run.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { describeWriteError, writeFileAtomic } from '@opensora-ts/kernels';

export interface LogRecord {
  type: string;
  step?: number;
  [key: string]: unknown;
}

export class JsonlLog {
  constructor(readonly path: string) {}

  write(record: LogRecord): void {
    try {
      appendFileSync(this.path, JSON.stringify(record) + '\n');
    } catch (err) {
      throw describeWriteError(err, this.path);
    }
  }

  read(): LogRecord[] {
    if (!existsSync(this.path)) return [];
    const out: LogRecord[] = [];
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as LogRecord);
      } catch {
        // a line cut by a crash: skip it
      }
    }
    return out;
  }

  /** Keeps records up to `step` (records without a step are kept); rewritten atomically. */
  truncateAfter(step: number): void {
    const kept = this.read().filter((r) => r.step === undefined || r.step <= step);
    writeFileAtomic(this.path, kept.map((r) => JSON.stringify(r) + '\n').join(''));
  }
}
