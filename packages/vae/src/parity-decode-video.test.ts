import { describe, expect, it } from 'vitest';
import { runFixture } from '../test/parity-helpers.js';

describe('parity: vae-decode video run (overlapping chunks, boundary frames)', () => {
  it('matches the reference within the case tolerance', async () => {
    const report = await runFixture('vae-decode', ['video']);
    expect(report.comparisons.length).toBe(6);
    expect(report.pass).toBe(true);
  }, 300_000); // pure-JS cpu conv3d is slow: see README 'Limits'
});
