import { packageTests } from '@opensora-ts/build-config/vitest';

export default packageTests('tfjs-backend-torch');
