// The install step when the addon cannot be built: install goes on, one line says why, and the
// loader later gives that reason with the fix for npm and pnpm users (no workspace commands).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const pkg = fileURLToPath(new URL('..', import.meta.url));

/** A copy of the package as npm unpacks it (no build/), sharing this checkout's node_modules. */
function unpackedCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'native-install-'));
  for (const f of ['csrc', 'scripts', 'src', 'binding.gyp', 'package.json']) cpSync(join(pkg, f), join(dir, f), { recursive: true });
  symlinkSync(join(pkg, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

function loaderReason(dir: string): string {
  const script = `import { nativeAddonStatus } from ${JSON.stringify(join(dir, 'src', 'addon.ts'))}; console.log(nativeAddonStatus().reason);`;
  const r = spawnSync(process.execPath, ['--import', require.resolve('tsx'), '--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe('install without a working compiler', () => {
  it('exits 0 with one line naming the failure, and the loader repeats the reason with the npm and pnpm fix', () => {
    const dir = unpackedCopy();
    const env = { ...process.env, CXX: 'false', CC: 'false', npm_config_user_agent: 'pnpm/10.34.9 npm/? node/v20' };
    const r = spawnSync(process.execPath, [join(dir, 'scripts', 'build-addon.cjs')], { cwd: dir, encoding: 'utf8', env });
    expect(r.status).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^@opensora-ts\/tfjs-backend-native: native addon not built \(.*Error.*\); it needs a C\+\+17 compiler and libopenblas-dev/);
    expect(existsSync(join(dir, 'build', 'install-error.txt'))).toBe(true);
    const reason = loaderReason(dir);
    expect(reason).toContain(`its build at install failed: ${readFileSync(join(dir, 'build', 'install-error.txt'), 'utf8').trim()}`);
    expect(reason).toContain('pnpm approve-builds');
    expect(reason).toContain('npm rebuild @opensora-ts/tfjs-backend-native');
    expect(reason).not.toContain('--filter');
  }, 120_000);

  it('says the install script never ran when pnpm skipped it', () => {
    const reason = loaderReason(unpackedCopy());
    expect(reason).toMatch(/not built \(no build\/Release\/opensora_native\.node: its install script did not run \(pnpm 10 skips it until approved/);
    expect(reason).toContain('onlyBuiltDependencies');
  });
});
