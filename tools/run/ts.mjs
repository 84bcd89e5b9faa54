// Runs a TypeScript entry of this repository from source: the `source` export condition
// resolves workspace packages to their src/index.ts, so tools and apps need no build step.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

// glibc malloc settings for tensor-sized buffers: keep freed memory in the heap instead of
// returning it to the kernel (mmap/trim thresholds) and back it with transparent huge pages.
// Without them every large op output page-faults afresh; a VAE training step spent half its time
// in the kernel (2.3M minor faults in 3 steps) and ran 3x slower. A value the user set wins.
export const TENSOR_MALLOC_TUNABLES = 'glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967296';

export function runTypeScript(entry, args) {
  const tsx = require.resolve('tsx');
  const env = { ...process.env };
  if (process.platform === 'linux' && env.GLIBC_TUNABLES === undefined) env.GLIBC_TUNABLES = TENSOR_MALLOC_TUNABLES;
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', tsx, entry, ...args], { stdio: 'inherit', env });
  if (r.error) throw r.error;
  process.exit(r.status ?? 1);
}
