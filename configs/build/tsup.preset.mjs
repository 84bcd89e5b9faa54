// One build recipe for every published package: dual ESM/CJS with types, so both
// `import` and `require` users resolve (checked by attw --pack).
import { defineConfig } from 'tsup';

export function packageBuild(entry = { index: 'src/index.ts' }, extra = {}) {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    splitting: false,
    treeshake: true,
    ...extra,
  });
}
