import { defineConfig } from 'vitest/config';

// Every package, app and tool with its own vitest.config.ts is one project.
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'apps/*/vitest.config.ts', 'tools/*/vitest.config.ts'],
  },
});
