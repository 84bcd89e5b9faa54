import { describe, expect, it } from 'vitest';
import { torchRowNote, useBackend } from './backends.js';

describe('useBackend', () => {
  it("starts our torch backend for --backends torch, or says why it cannot; its rows name libtorch, device and precision", async () => {
    expect(await torchRowNote()).toBeUndefined();
    const started = await useBackend('torch', 1);
    if (!started.ok) {
      // No addon built here: skipped with the reason, as the suites print it.
      expect(started.reason).toMatch(/torch/);
      return;
    }
    expect(await torchRowNote()).toMatch(/^libtorch \d+\.\d+\.\d+, (cpu|cuda:\d+), (fp32|tf32|bf16)$/);
    expect((await useBackend('cpu', 1)).ok).toBe(true);
  });

  it('refuses an unknown backend with a reason', async () => {
    const r = await useBackend('tpu', 1);
    expect(r.ok).toBe(false);
  });
});
