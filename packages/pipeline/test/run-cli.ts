// Test helper: runs the sample CLI's main() in-process, collecting what it writes to stderr.
import { vi } from 'vitest';
import { main } from '../src/cli.js';

export async function runCli(argv: string[]): Promise<{ code: number; stderr: string }> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (lines.push(String(chunk).trimEnd()), true));
  try {
    return { code: await main(argv), stderr: lines.join('\n') };
  } finally {
    spy.mockRestore();
    write.mockRestore();
  }
}
