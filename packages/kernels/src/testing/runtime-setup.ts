// vitest setup for every package: start the runtime once per test file, so suites run on the
// fastest available backend (OPENSORA_BACKEND still forces one) without each test doing it.
import { initRuntime } from '../runtime.js';

await initRuntime({ announce: false });
