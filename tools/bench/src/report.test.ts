import { describe, expect, it } from 'vitest';
import { formatCaseTable, makeCaseRow, withCaseTorchRatios } from './report.js';

describe('case rows', () => {
  it('fills ratio_to_torch from the torch row of the same case (torch ms / our ms)', () => {
    const rows = withCaseTorchRatios([
      makeCaseRow('stdit', 'mid.fwd', 'native', 2, 200, 300),
      makeCaseRow('stdit', 'mid.fwd', 'pytorch', 2, 300, 350),
      makeCaseRow('stdit', 'tiny.fwd', 'native', 2, 10, 100),
      makeCaseRow('vae', 'stream.17f', 'native', 2, null, 500),
    ]);
    expect(rows.map((r) => r.ratio_to_torch)).toEqual([1.5, 1, null, null]);
  });

  it('prints one line per row with the RSS and the note', () => {
    const table = formatCaseTable([makeCaseRow('vae', 'tiny.encode', 'native', 2, 1234.5, 456.7, 'rss at start 200')]);
    const lines = table.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^case\s+backend\s+threads\s+ms\s+peak RSS MiB\s+vs pytorch\s+note$/);
    expect(lines[2]).toMatch(/^tiny\.encode\s+native\s+2\s+1235\s+457\s+-\s+rss at start 200$/);
  });
});
