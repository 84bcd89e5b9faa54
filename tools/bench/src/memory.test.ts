import { describe, expect, it } from 'vitest';
import { peakRssMb, resetPeakRss, rssMb } from './memory.js';

describe('memory probes', () => {
  it('the peak follows a large allocation and can be reset', () => {
    const before = rssMb();
    let buf: Buffer | null = Buffer.alloc(200 * 2 ** 20, 1); // touched: resident
    expect(peakRssMb()).toBeGreaterThan(before + 150);
    buf = null;
    expect(buf).toBeNull();
    if (resetPeakRss()) {
      // After a reset the peak restarts at the current RSS (the buffer may or may not be freed yet).
      expect(peakRssMb()).toBeLessThanOrEqual(rssMb() + 20);
    } else {
      expect(peakRssMb()).toBeGreaterThan(before + 150);
    }
  });
});
