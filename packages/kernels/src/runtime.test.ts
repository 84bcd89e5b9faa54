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

  it('names device and libtorch version in the torch notice', () => {
    expect(runtimeNotice({ backend: 'torch', threads: 16, source: '@opensora-ts/tfjs-backend-torch', skipped: [], device: 'cuda:0', version: '2.11.0' })).toBe(
      'opensora-ts: backend torch (cuda:0, libtorch 2.11.0, 16 threads, @opensora-ts/tfjs-backend-torch)',
    );
  });

  it('OPENSORA_BACKEND=torch starts torch on the cpu (or says why it cannot), and prefers it automatically only on CUDA', () => {
    const script = `import { initRuntime, describeRuntime, tf } from ${JSON.stringify(fileURLToPath(new URL('./index.ts', import.meta.url)))};
      let forced; try { forced = await initRuntime({ backend: 'torch', announce: false }); } catch (e) { forced = { error: e.message }; }
      if (!forced.error) tf.topk(tf.tensor1d([1, 2, 3]), 1).values.dataSync();
      console.log(JSON.stringify({ forced: forced.error ? forced : await describeRuntime() }));`;
    const env = { ...process.env };
    delete env.OPENSORA_BACKEND;
    delete env.OPENSORA_DEVICE;
    const r = spawnSync(process.execPath, ['--import', require.resolve('tsx'), '--input-type=module', '-e', script], { encoding: 'utf8', env });
    expect(r.status, r.stderr).toBe(0);
    const { forced } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { forced: RuntimeDescription & { error?: string } };
    if (forced.error) {
      // No addon here: the error says which backend and why, and how to get the automatic choice.
      expect(forced.error).toMatch(/backend 'torch' could not start \(torch \(@opensora-ts\/tfjs-backend-torch\): .+\)\. Unset OPENSORA_BACKEND/);
      return;
    }
    expect(forced.backend).toBe('torch');
    expect(forced.device).toBe('cpu');
    expect(forced.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(forced.fallbacks).toEqual({ TopK: 1 });

    const auto = spawnSync(process.execPath, ['--import', require.resolve('tsx'), '--input-type=module', '-e', script.replace("{ backend: 'torch', announce: false }", '{ announce: false }')], { encoding: 'utf8', env });
    const chosen = (JSON.parse(auto.stdout.trim().split('\n').pop()!) as { forced: RuntimeDescription }).forced;
    // On a machine without CUDA the first torch try is skipped for it, and torch on the cpu
    // comes only after native.
    const torchSkip = chosen.skipped.find((s) => s.backend.startsWith('torch'));
    if (chosen.backend !== 'torch') expect(torchSkip?.reason).toMatch(/cuda/i);
    else if (chosen.device === 'cpu') expect(chosen.skipped.map((s) => s.backend.split(' ')[0])).toEqual(expect.arrayContaining(['torch', 'native']));
    else expect(chosen.device).toMatch(/^cuda/);
  });
});
