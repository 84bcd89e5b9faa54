// Builds the N-API addon at install. Node's own headers are used when they are installed
// beside the running node (Debian and most distributions ship them), so no header download
// is needed offline. A failed build prints one line and exits 0: install goes on and the
// runtime falls back to tfjs's cpu backend.
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join, resolve } = require('node:path');

const args = ['rebuild'];
const prefix = resolve(process.execPath, '..', '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const r = spawnSync(process.execPath, [gyp, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', cwd: resolve(__dirname, '..') });
if (r.status !== 0) {
  const reason = (r.stderr || '').split('\n').find((l) => /error/i.test(l) && !/gyp ERR! (stack|System|command|cwd|node -v|node-gyp -v|not ok)/.test(l)) || 'node-gyp failed';
  process.stderr.write(
    `@opensora-ts/tfjs-backend-native: native addon not built (${reason.trim().slice(0, 200)}); ` +
      "it needs a C++ compiler and libopenblas-dev. The 'native' backend is unavailable and tfjs's cpu backend will be used.\n",
  );
}
