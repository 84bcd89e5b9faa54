import { defineProject } from 'vitest/config';

// The launcher's tests start real processes and send them signals; no tensor runtime needed.
export default defineProject({
  test: { name: 'run-ts', include: ['test/**/*.test.ts'], testTimeout: 60_000, pool: 'forks' },
});
