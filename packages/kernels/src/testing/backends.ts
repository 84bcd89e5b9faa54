// A backend test registry in the manner of tfjs's: one suite, run once per available backend.
// cpu is always there; 'native' and 'torch' join when @opensora-ts/tfjs-backend-native /
// @opensora-ts/tfjs-backend-torch load (torch on OPENSORA_DEVICE, default cpu); a backend
// named by OPENSORA_BACKEND is required (its absence fails the run). OPENSORA_TEST_BACKENDS
// (comma list) restricts the set. A backend that is not required and cannot start shows as a
// skipped test naming the reason, never silently.
import { beforeAll, describe, it } from 'vitest';
import { tf } from '../tf.js';
import { initRuntime } from '../runtime.js';

export interface TestBackend {
  name: string;
  available: boolean;
  /** Required backends fail the suite when unavailable. */
  required: boolean;
  /** Why it is unavailable. */
  reason?: string;
}

const OPTIONAL = ['native', 'torch'];

let probing: Promise<TestBackend[]> | undefined;

function listFromEnv(name: string): string[] | undefined {
  const raw = process.env[name];
  if (!raw) return undefined;
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

async function probe(): Promise<TestBackend[]> {
  const forced = process.env.OPENSORA_BACKEND || undefined;
  const only = listFromEnv('OPENSORA_TEST_BACKENDS');
  // The backend the test setup chose (the fastest that started) is covered too.
  const active = tf.getBackend();
  const names = only ?? [...new Set(['cpu', ...OPTIONAL, ...(active ? [active] : []), ...(forced ? [forced] : [])])];
  const out: TestBackend[] = [];
  for (const name of names) {
    const required = name === 'cpu' || name === forced || name === active || only !== undefined;
    if (name === 'cpu') {
      out.push({ name, available: true, required });
      continue;
    }
    try {
      await initRuntime({ backend: name, announce: false });
      out.push({ name, available: true, required });
    } catch (err) {
      const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
      out.push({ name, available: false, required, reason });
    }
  }
  // Probing may have switched the active backend; suites pick theirs in beforeAll.
  if (active) await tf.setBackend(active);
  return out;
}

/** The backends this test run covers (probed once per test file). */
export function testBackends(): Promise<TestBackend[]> {
  probing ??= probe();
  return probing;
}

/**
 * Declares `fn`'s tests once per backend, as `name [backend]`, with that backend active.
 * `fn` gets the backend name (for tolerances or backend-specific expectations).
 */
export function describeEachBackend(name: string, fn: (backend: string) => void): void {
  describe(name, async () => {
    for (const b of await testBackends()) {
      if (!b.available) {
        const title = `[${b.name}] unavailable: ${b.reason}`;
        if (b.required) {
          it(title, () => {
            throw new Error(`backend '${b.name}' was asked for (OPENSORA_BACKEND / OPENSORA_TEST_BACKENDS) but could not start: ${b.reason}`);
          });
        } else {
          it.skip(title, () => {});
        }
        continue;
      }
      describe(`[${b.name}]`, () => {
        beforeAll(async () => {
          if (!(await tf.setBackend(b.name))) throw new Error(`tf.setBackend('${b.name}') failed`);
          await tf.ready();
        });
        fn(b.name);
      });
    }
  });
}
