// Builds the N-API addon at install against the libtorch detect-libtorch.cjs finds. Without
// one, or when the build fails, it prints one line and exits 0: install goes on, and
// registerTorchBackend() then throws, so @opensora-ts/kernels keeps another backend.
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join, resolve } = require('node:path');

const root = resolve(__dirname, '..');
const name = '@opensora-ts/tfjs-backend-torch';
const found = spawnSync(process.execPath, [join(__dirname, 'detect-libtorch.cjs'), 'json'], { encoding: 'utf8' });
const lib = found.status === 0 ? JSON.parse(found.stdout) : { found: false, reason: (found.stderr || 'detect-libtorch failed').trim().split('\n').pop() };
if (!lib.found) {
  const earlier = existsSync(join(root, 'build', 'Release', 'opensora_torch.node'));
  const effect = earlier ? 'the addon built earlier stays in place' : "the 'torch' backend is unavailable";
  process.stderr.write(`${name}: no libtorch found, addon not built (${lib.reason}); ${effect}. Set LIBTORCH or OPENSORA_PYTHON, or install libtorch-dev.\n`);
  process.exit(0);
}
const args = ['rebuild', '--jobs=1'];
const prefix = resolve(process.execPath, '..', '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const verbose = process.argv.includes('--verbose');
const r = spawnSync(process.execPath, [gyp, ...args], { stdio: ['ignore', verbose ? 'inherit' : 'ignore', verbose ? 'inherit' : 'pipe'], encoding: 'utf8', cwd: root });
if (r.status !== 0) {
  const reason = (r.stderr || '').split('\n').find((l) => /error/i.test(l) && !/gyp ERR! (stack|System|command|cwd|node -v|node-gyp -v|not ok)/.test(l)) || 'node-gyp failed';
  process.stderr.write(`${name}: addon not built against libtorch ${lib.version} from ${lib.source} (${reason.trim().slice(0, 200)}); the 'torch' backend is unavailable.\n`);
} else if (verbose) {
  process.stdout.write(`${name}: addon built against libtorch ${lib.version} from ${lib.source}\n`);
}
