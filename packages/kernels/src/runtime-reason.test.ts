import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);

// The long reason (and fix) the native backend's loader gives when its addon is missing.
const reason =
  '@opensora-ts/tfjs-backend-native: the native addon is not built (its build at install failed: fatal error: cblas.h: No such file or directory). ' +
  'It is compiled at install and needs a C++17 compiler and OpenBLAS. pnpm 10 runs dependency build scripts only when allowed: run `pnpm approve-builds`; ' +
  'npm: `npm rebuild @opensora-ts/tfjs-backend-native --foreground-scripts`.';

/** Runs `script` in a fresh process where the native backend package is one whose addon is missing. */
function runWithoutAddon(script: string): { status: number | null; stdout: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'runtime-reason-'));
  const fake = join(dir, 'fake-native.mjs');
  writeFileSync(fake, `export function registerNativeBackend() { throw new Error(${JSON.stringify(reason + '\nat somewhere')}); }\n`);
  const hooks = join(dir, 'hooks.mjs');
  writeFileSync(
    hooks,
    `export async function resolve(spec, ctx, next) {
      if (spec === '@opensora-ts/tfjs-backend-native') return { url: ${JSON.stringify(pathToFileURL(fake).href)}, shortCircuit: true };
      return next(spec, ctx);
    }\n`,
  );
  const register = join(dir, 'register.mjs');
  writeFileSync(register, `import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  const env = { ...process.env };
  delete env.OPENSORA_BACKEND;
  delete env.OPENSORA_QUIET;
  return spawnSync(process.execPath, ['--import', register, '--import', require.resolve('tsx'), '--input-type=module', '-e', script], { encoding: 'utf8', env });
}

const runtimeUrl = JSON.stringify(fileURLToPath(new URL('./runtime.ts', import.meta.url)));

describe('runtime skip reasons', () => {
  it('keeps the whole first line of a backend that could not start, fix included', () => {
    const r = runWithoutAddon(`import { initRuntime } from ${runtimeUrl};
      try { await initRuntime({ backend: 'native', announce: false }); } catch (e) { console.log(e.message); }`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(reason);
    expect(r.stdout).not.toContain('at somewhere');
  });

  it('the start-up notice carries it whole, and says an absent tfjs-node is an optional peer', () => {
    const r = runWithoutAddon(`import { initRuntime } from ${runtimeUrl}; await initRuntime();`);
    expect(r.status, r.stderr).toBe(0);
    const notice = r.stderr.split('\n').find((l) => l.startsWith('opensora-ts: backend'));
    expect(notice).toBeDefined();
    if (!notice!.startsWith('opensora-ts: backend tensorflow')) {
      expect(notice).toContain(`native (@opensora-ts/tfjs-backend-native): ${reason}`);
      expect(notice).toMatch(/tensorflow \(@tensorflow\/tfjs-node\): (not installed \(an optional peer dependency\)|installed without its libtensorflow binding)/);
    }
  });
});
