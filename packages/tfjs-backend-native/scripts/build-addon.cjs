// Builds the N-API addon at install. Node's own headers are used when they are installed
// beside the running node (Debian and most distributions ship them), so no header download
// is needed offline. A failed build prints one line and exits 0: install goes on and the
// runtime falls back to tfjs's cpu backend. The reason is also kept in build/install-error.txt,
// so the runtime's notice can say why the addon is missing long after the install scrolled by.
const { spawnSync } = require('node:child_process');
const { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } = require('node:fs');
const { join, resolve } = require('node:path');

const root = resolve(__dirname, '..');
const errorFile = join(root, 'build', 'install-error.txt');
const args = ['rebuild'];
const prefix = resolve(process.execPath, '..', '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}
rmSync(errorFile, { force: true });
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const r = spawnSync(process.execPath, [gyp, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', cwd: root });
if (r.status !== 0) {
  const found = (r.stderr || '')
    .split('\n')
    .find((l) => /error/i.test(l) && !/gyp ERR! (stack|System|command|cwd|node -v|node-gyp -v|not ok)/.test(l));
  const reason = (found || `node-gyp exited with ${r.status ?? r.signal}`).trim().slice(0, 200);
  try {
    mkdirSync(join(root, 'build'), { recursive: true });
    writeFileSync(errorFile, reason + '\n');
  } catch {
    // a read-only package folder: the line below still says it
  }
  const line =
    `@opensora-ts/tfjs-backend-native: native addon not built (${reason}); ` +
    "it needs a C++17 compiler and libopenblas-dev, then `npm rebuild @opensora-ts/tfjs-backend-native` (pnpm: `pnpm rebuild @opensora-ts/tfjs-backend-native`). The 'native' backend is unavailable and tfjs's cpu backend will be used.\n";
  process.stderr.write(line);
  // npm (7+) hides a dependency's install output unless the script fails; this one must not
  // fail the install, so on a terminal the line goes to the terminal as well.
  const ua = process.env.npm_config_user_agent || '';
  if (ua.startsWith('npm/') && process.env.npm_config_foreground_scripts !== 'true' && !process.stderr.isTTY) {
    try {
      const fd = openSync('/dev/tty', 'w');
      writeSync(fd, line);
      closeSync(fd);
    } catch {
      // no terminal (CI): the line is in npm's log and the runtime notice gives the reason
    }
  }
}
