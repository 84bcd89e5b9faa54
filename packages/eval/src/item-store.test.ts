import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ItemStore } from './item-store.js';

const dir = mkdtempSync(join(tmpdir(), 'item-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ItemStore', () => {
  it('returns a stored item only for the same inputs (run fingerprint and item tag)', () => {
    const a = new ItemStore<{ x: number }>(join(dir, 'p'), 'run1');
    a.put('item-1', { x: 1 }, ':fileA');
    expect(a.get('item-1', ':fileA')).toEqual({ x: 1 });
    expect(a.get('item-1', ':fileB')).toBeUndefined();
    expect(new ItemStore(join(dir, 'p'), 'run2').get('item-1', ':fileA')).toBeUndefined();
    expect(a.get('item-2')).toBeUndefined();
    // Written atomically: no temporary file is left beside it.
    expect(readdirSync(join(dir, 'p'))).toEqual(['item-1.json']);
    // A torn or foreign file is computed again, not trusted.
    writeFileSync(join(dir, 'p', 'item-3.json'), '{"fingerprint": "run1", "key": "item-3", "val');
    expect(a.get('item-3')).toBeUndefined();
    expect(() => a.put('../x', { x: 0 })).toThrow(/key '\.\.\/x' may hold only/);
  });

  it('removeOwn deletes only its own files, and the folder once empty', () => {
    const p = join(dir, 'q');
    const r0 = new ItemStore<number>(p, 'f');
    const r1 = new ItemStore<number>(p, 'f');
    r0.put('a', 1);
    r1.put('b', 2);
    // A write killed before its rename (pid 2^22 + 1 is above Linux's pid_max, so never alive).
    writeFileSync(join(p, `.c.json.${2 ** 22 + 1}.1.tmp.json`), '{"fing');
    expect(r0.keys().sort()).toEqual(['a', 'b']);
    r0.removeOwn();
    expect(readdirSync(p)).toEqual(['b.json']);
    r1.removeOwn();
    expect(existsSync(p)).toBe(false);
  });
});
