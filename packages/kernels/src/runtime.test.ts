import { describe, expect, it } from 'vitest';
import { initRuntime, runtimeNotice } from './runtime.js';

describe('runtime', () => {
  it('rejects an unknown OPENSORA_BACKEND with the choices', async () => {
    await expect(initRuntime({ backend: 'tpu', announce: false })).rejects.toThrow(/'tpu': unknown backend; expected one of tensorflow, native, cpu/);
  });

  it('falls back past tfjs-node without its binding and says so in one line', async () => {
    const lines: string[] = [];
    const rt = await initRuntime({ log: (l) => lines.push(l), announce: true });
    expect(['native', 'cpu', 'tensorflow']).toContain(rt.backend);
    if (rt.backend !== 'tensorflow') {
      expect(rt.skipped.some((s) => s.backend.includes('@tensorflow/tfjs-node'))).toBe(true);
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`backend ${rt.backend}`);
    expect(lines[0]).not.toContain('\n');
  });

  it('formats the notice with thread count and skipped backends', () => {
    expect(runtimeNotice({ backend: 'cpu', threads: 1, source: 'builtin', skipped: [{ backend: 'native (x)', reason: 'not built' }] })).toBe(
      'opensora-ts: backend cpu (1 thread, builtin); skipped native (x): not built',
    );
  });
});
