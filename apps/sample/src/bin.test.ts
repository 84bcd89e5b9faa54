// `pnpm sample` is the pipeline package's opensora-sample CLI run from source: the launcher finds it.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../bin.mjs', import.meta.url));

describe('apps/sample bin.mjs', () => {
  it('runs the pipeline package\'s opensora-sample CLI', () => {
    const help = execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(help).toMatch(/^Usage: opensora-sample \[options\]/);
    expect(help).toContain('--weights <folder>');
  });
});
