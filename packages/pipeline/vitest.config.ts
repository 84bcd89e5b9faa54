import { packageTests } from '@opensora-ts/build-config/vitest';

export default packageTests('pipeline');
