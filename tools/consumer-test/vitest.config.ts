import { defineProject } from 'vitest/config';

// The README/example agreement checks; the consumer test itself (run.mjs) is a separate suite of
// tools/test/run.mjs, since it builds, packs and installs.
export default defineProject({
  test: { name: 'consumer-test', include: ['*.test.ts'], testTimeout: 60_000 },
});
