// The few vitest APIs the torch backend's op tests use (describe / describe.skipIf / it /
// it.skipIf / afterAll / expect with toBe, toEqual, toMatch, toThrow, toBeDefined,
// toBeGreaterThan(OrEqual), toBeLessThan, toHaveBeenCalledTimes, expect.fail, vi.spyOn), so gpu-check can bundle those test files
// and run them on a machine without node_modules. Tests run in registration order; run() reports.
import { isDeepStrictEqual } from 'node:util';

type Fn = () => unknown | Promise<unknown>;
interface Test { name: string; fn: Fn; skip: boolean }
interface Suite { name: string; tests: Test[]; after: Fn[]; skip: boolean }

const suites: Suite[] = [];
let current: Suite | undefined;

function suite(name: string, body: () => void, skip = false): void {
  const s: Suite = { name, tests: [], after: [], skip };
  const prev = current;
  current = s;
  suites.push(s);
  try {
    body();
  } finally {
    current = prev;
  }
}

export const describe = Object.assign((name: string, body: () => void) => suite(name, body), {
  skipIf: (cond: boolean) => (name: string, body: () => void) => suite(name, body, cond),
});

function test(name: string, fn: Fn, skip = false): void {
  if (!current) suite('(top level)', () => undefined);
  (current ?? suites[suites.length - 1]!).tests.push({ name, fn, skip });
}

export const it = Object.assign((name: string, fn: Fn, _timeout?: number) => test(name, fn), {
  skipIf: (cond: boolean) => (name: string, fn: Fn, _timeout?: number) => test(name, fn, cond),
});
export const test_ = it;

export function afterAll(fn: Fn): void {
  current?.after.push(fn);
}
export function beforeAll(fn: Fn): void {
  current?.tests.push({ name: '(beforeAll)', fn, skip: false });
}

class AssertionError extends Error {}

function show(v: unknown): string {
  try {
    return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v, (_k, x) => (ArrayBuffer.isView(x) ? Array.from(x as unknown as number[]) : x))?.slice(0, 200) ?? String(v);
  } catch {
    return String(v);
  }
}

function matchers(actual: unknown, what?: string, negate = false) {
  const check = (ok: boolean, msg: string) => {
    if (ok === negate) throw new AssertionError(`${what ? `${what}: ` : ''}${negate ? 'not ' : ''}${msg}`);
  };
  return {
    toBe: (e: unknown) => check(Object.is(actual, e), `expected ${show(actual)} to be ${show(e)}`),
    toEqual: (e: unknown) => check(isDeepStrictEqual(actual, e), `expected ${show(actual)} to equal ${show(e)}`),
    toBeDefined: () => check(actual !== undefined, 'expected a defined value'),
    toBeGreaterThan: (e: number) => check((actual as number) > e, `expected ${show(actual)} > ${e}`),
    toBeGreaterThanOrEqual: (e: number) => check((actual as number) >= e, `expected ${show(actual)} >= ${e}`),
    toBeLessThan: (e: number) => check((actual as number) < e, `expected ${show(actual)} < ${e}`),
    toHaveBeenCalledTimes: (n: number) => {
      const calls = (actual as Partial<Spy>).mock?.calls.length;
      check(calls === n, `expected ${n} calls, got ${calls ?? 'a value that is not a spy'}`);
    },
    toMatch: (e: RegExp | string) => check(typeof e === 'string' ? String(actual).includes(e) : e.test(String(actual)), `expected ${show(actual)} to match ${e}`),
    toThrow: (e?: RegExp | string) => {
      let threw: unknown;
      try {
        (actual as () => unknown)();
      } catch (err) {
        threw = err ?? new Error('(thrown nothing)');
      }
      const message = threw instanceof Error ? threw.message : String(threw);
      const ok = threw !== undefined && (e === undefined || (typeof e === 'string' ? message.includes(e) : e.test(message)));
      check(ok, threw === undefined ? 'expected a throw' : `expected the error "${message}" to match ${e}`);
    },
  };
}

export const expect = Object.assign(
  (actual: unknown, what?: string) => ({ ...matchers(actual, what), not: matchers(actual, what, true) }),
  {
    fail: (message: string): never => {
      throw new AssertionError(message);
    },
  },
);

interface Spy {
  mock: { calls: unknown[][] };
  mockRestore(): void;
}

/** vi.spyOn: records each call's arguments and calls through to the method; mockRestore puts it back. */
export const vi = {
  spyOn<T extends object>(obj: T, name: keyof T & string): Spy {
    const target = obj as Record<string, unknown>;
    const had = Object.prototype.hasOwnProperty.call(target, name);
    const original = target[name] as (...args: unknown[]) => unknown;
    const spy: Spy = {
      mock: { calls: [] },
      mockRestore: () => {
        if (had) target[name] = original;
        else delete target[name];
      },
    };
    target[name] = function (this: unknown, ...args: unknown[]) {
      spy.mock.calls.push(args);
      return original.apply(this, args);
    };
    return spy;
  },
};

/** Runs every registered test; returns counts and the failures (name: message). */
export async function run(log: (line: string) => void): Promise<{ passed: number; failed: number; skipped: number; failures: string[] }> {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failures: string[] = [];
  for (const s of suites) {
    for (const t of s.tests) {
      if (s.skip || t.skip) {
        skipped++;
        continue;
      }
      try {
        await t.fn();
        passed++;
      } catch (err) {
        failed++;
        const msg = `${s.name} > ${t.name}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
        failures.push(msg);
        log(`FAIL ${msg}`);
      }
    }
    for (const a of s.after) await a();
  }
  return { passed, failed, skipped, failures };
}
