import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
// plain .mjs tools (run by node in CI), without declarations
import { allExamples, checkReadmes } from './examples.mjs';
import { expectedOutput } from './expect.mjs';
import { root } from '../pack.mjs';

interface Example { pkg: string; name: string; file: string; rel: string; lang: 'ts' | 'sh' }
interface Pkg { name: string; dir: string; examples: Example[] }
const packages: Pkg[] = allExamples();
const expected: Record<string, Record<string, unknown>> = expectedOutput;

/** Casts and escapes from the type checker, which a README example must not need. */
function casts(file: string): string[] {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const at = (n: ts.Node) => `${relative(root, file)}:${src.getLineAndCharacterOfPosition(n.getStart()).line + 1}: '${n.getText().slice(0, 60)}'`;
  const visit = (n: ts.Node): void => {
    if (ts.isAsExpression(n) && !(ts.isTypeReferenceNode(n.type) && n.type.getText() === 'const')) found.push(`${at(n)} (an 'as' cast)`);
    else if (ts.isTypeAssertionExpression(n)) found.push(`${at(n)} (a <T> cast)`);
    else if (ts.isNonNullExpression(n)) found.push(`${at(n)} (a non-null assertion)`);
    else if (n.kind === ts.SyntaxKind.AnyKeyword) found.push(`${at(n)} ('any')`);
    ts.forEachChild(n, visit);
  };
  visit(src);
  if (/@ts-(ignore|expect-error|nocheck)/.test(src.text)) found.push(`${relative(root, file)}: a @ts- directive`);
  return found;
}

describe('README examples', () => {
  it('every published package README shows at least one example file', () => {
    const without = packages.filter((p) => p.examples.length === 0).map((p) => p.name);
    expect(without, 'packages whose README has no `<!-- example: examples/NAME.ts -->` block').toEqual([]);
  });

  it('each README block is exactly its file', () => {
    expect(checkReadmes()).toEqual([]);
  });

  it('every file in a package examples/ folder is shown in its README', () => {
    const unshown: string[] = [];
    for (const p of packages) {
      const dir = join(p.dir, 'examples');
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir)) if (!p.examples.some((e) => e.rel === `examples/${f}`)) unshown.push(relative(root, join(dir, f)));
    }
    expect(unshown).toEqual([]);
  });

  it('TypeScript examples use no casts, non-null assertions, any or @ts- directives', () => {
    const found = packages.flatMap((p) => p.examples.filter((e) => e.lang === 'ts').flatMap((e) => casts(e.file)));
    expect(found).toEqual([]);
  });

  it('shell examples parse (bash -n)', () => {
    const bad = packages.flatMap((p) => p.examples.filter((e) => e.lang === 'sh'))
      .map((e) => ({ e, r: spawnSync('bash', ['-n', e.file], { encoding: 'utf8' }) }))
      .filter(({ r }) => r.status !== 0)
      .map(({ e, r }) => `${relative(root, e.file)}: ${r.stderr.trim()}`);
    expect(bad).toEqual([]);
  });

  it('every example has its expected output listed for the consumer test', () => {
    const missing = packages.flatMap((p) => p.examples.filter((e) => !expected[p.name]?.[e.name]).map((e) => `${p.name} ${e.rel}`));
    expect(missing, 'add them to tools/consumer-test/expect.mjs').toEqual([]);
    const stale = Object.entries(expected).flatMap(([pkg, byName]) =>
      Object.keys(byName).filter((n) => !packages.some((p) => p.name === pkg && p.examples.some((e) => e.name === n))).map((n) => `${pkg} ${n}`),
    );
    expect(stale, 'expectations for examples that no README shows').toEqual([]);
  });

  it('the cast check finds casts', () => {
    const probe = join(root, 'tools/consumer-test/test-fixtures/casts.ts');
    expect(casts(probe).map((c) => c.replace(/^.*\((.*)\)$/, '$1'))).toEqual(["an 'as' cast", 'a non-null assertion', "'any'"]);
  });
});
