// Tests run against package sources (the `source` export condition), so a change is
// tested without a build. vitest 4 reads SSR conditions, not resolve.conditions.
import { fileURLToPath } from 'node:url';
import { defineProject } from 'vitest/config';

const runtimeSetup = fileURLToPath(new URL('../../packages/kernels/src/testing/runtime-setup.ts', import.meta.url));

export function packageTests(name, extra = {}) {
  return defineProject({
    ssr: { resolve: { conditions: ['source'] } },
    resolve: { conditions: ['source'] },
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 120_000,
      hookTimeout: 120_000,
      pool: 'forks',
      setupFiles: [runtimeSetup],
      ...extra,
    },
  });
}
