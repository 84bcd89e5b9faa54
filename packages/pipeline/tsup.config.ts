import { packageBuild } from '@opensora-ts/build-config/tsup';

export default packageBuild({ index: 'src/index.ts', cli: 'src/cli.ts' });
