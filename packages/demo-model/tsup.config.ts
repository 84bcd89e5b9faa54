import { packageBuild } from '@opensora-ts/build-config/tsup';

// shims: import.meta.url in the CJS build (the weights are found next to the module).
export default packageBuild(undefined, { shims: true });
