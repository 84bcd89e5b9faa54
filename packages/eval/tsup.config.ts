import { packageBuild } from '@opensora-ts/build-config/tsup';

export default packageBuild();
