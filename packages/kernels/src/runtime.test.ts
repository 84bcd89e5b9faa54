import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { initRuntime, runtimeNotice, type RuntimeDescription } from './runtime.js';

const require = createRequire(import.meta.url);

describe('runtime', () => {
  it('rejects an unknown OPENSORA_BACKEND with the choices', async () => {
    await expect(initRuntime({ backend: 'tpu', announce: false })).rejects.toThrow(/'tpu': unknown backend; expected one of tensorflow, torch, native, cpu/);
  });

  it('falls back past tfjs-node without its binding and says so in one line on stderr', () => {
    // A fresh process: the choice happens once per process.
    const script = `import { initRuntime } from ${JSON.stringify(fileURLToPath(new URL('./runtime.ts', import.meta.url)))};
      const rt = await initRuntime(); console.log(JSON.stringify(rt));`;
    const env = { ...process.env };
    delete env.OPENSORA_BACKEND;
    delete env.OPENSORA_QUIET;
    const r = spawnSync(process.execPath, ['--import', require.resolve('tsx'), '--input-type=module', '-e', script], { encoding: 'utf8', env });
    expect(r.status, r.stderr).toBe(0);
    const rt = JSON.parse(r.stdout.trim().split('\n').pop()!) as RuntimeDescription;
    expect(['native', 'cpu', 'tensorflow']).toContain(rt.backend);
    if (rt.backend !== 'tensorflow') expect(rt.skipped.some((s) => s.backend.includes('@tensorflow/tfjs-node'))).toBe(true);
    const notices = r.stderr.split('\n').filter((l) => l.startsWith('opensora-ts: backend'));
    expect(notices).toEqual([runtimeNotice(rt)]);
  });

  it('formats the notice with thread count and skipped backends', () => {
    expect(runtimeNotice({ backend: 'cpu', threads: 1, source: 'builtin', skipped: [{ backend: 'native (x)', reason: 'not built' }] })).toBe(
      'opensora-ts: backend cpu (1 thread, builtin); skipped native (x): not built',
    );
  });
});
