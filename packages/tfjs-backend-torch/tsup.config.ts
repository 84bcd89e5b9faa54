import { packageBuild } from '@opensora-ts/build-config/tsup';

// shims: the CJS build needs import.meta.url to find build/Release/opensora_torch.node.
export default packageBuild(undefined, { shims: true });
