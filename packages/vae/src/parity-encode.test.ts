import { describe, expect, it } from 'vitest';
import { runFixture } from '../test/parity-helpers.js';

describe('parity: vae-encode (every run and intermediate)', () => {
  it('matches the reference within the case tolerance', async () => {
    const report = await runFixture('vae-encode');
    expect(report.comparisons.length).toBe(22);
    expect(report.pass).toBe(true);
  }, 300_000); // pure-JS cpu conv3d is slow: see README 'Limits'
});
