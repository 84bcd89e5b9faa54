#!/usr/bin/env node
// README examples are files: a fenced block right after `<!-- example: examples/NAME.ts -->` in a
// package README must be exactly that file (relative to the package). The consumer test runs the
// files; the README shows them. `node tools/consumer-test/examples.mjs --write` copies every file
// into its README block; without --write it lists the blocks that differ and exits 1.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { publishedPackages, root } from '../pack.mjs';

const MARKER = /^<!-- example: (\S+) -->$/;
const LANG = { '.ts': 'ts', '.sh': 'sh' };

/**
 * The examples of one package README, in README order:
 * { pkg, name, file, rel, lang, line, start, end, block } (start/end: the block's line range, 0-based,
 * fences excluded). Throws naming the README line when a marker is not followed by a fenced block.
 */
export function examplesOf({ dir, name }) {
  const readme = join(dir, 'README.md');
  if (!existsSync(readme)) return []; // the unit test requires a README with an example
  const lines = readFileSync(readme, 'utf8').split('\n');
  const found = [];
  for (let i = 0; i < lines.length; i++) {
    const m = MARKER.exec(lines[i].trim());
    if (!m) continue;
    const rel = m[1];
    const lang = LANG[extname(rel)];
    const where = `${relative(root, readme)}:${i + 1}`;
    if (!lang) throw new Error(`${where}: example '${rel}' must be a .ts or .sh file`);
    if (lines[i + 1] !== '```' + lang) throw new Error(`${where}: the line after the marker must open a \`\`\`${lang} block, found '${lines[i + 1] ?? ''}'`);
    const end = lines.indexOf('```', i + 2);
    if (end < 0) throw new Error(`${where}: the \`\`\`${lang} block after the marker is never closed`);
    const block = lines.slice(i + 2, end).join('\n') + '\n';
    found.push({ pkg: name, dir, readme, name: rel.replace(/^examples\//, '').replace(/\.(ts|sh)$/, ''), file: join(dir, rel), rel, lang, line: i + 1, start: i + 2, end, block });
  }
  return found;
}

/** Every published package with its README examples. */
export function allExamples() {
  return publishedPackages().map((p) => ({ ...p, examples: examplesOf(p) }));
}

/** Blocks whose file is missing or differs: [{ where, why }]. With write, README blocks are replaced by the files. */
export function checkReadmes({ write = false } = {}) {
  const problems = [];
  for (const p of allExamples()) {
    if (p.examples.length === 0) continue;
    const readmeLines = readFileSync(join(p.dir, 'README.md'), 'utf8').split('\n');
    // bottom-up, so earlier line numbers stay right while blocks change length
    for (const ex of [...p.examples].reverse()) {
      const where = `${relative(root, ex.readme)}:${ex.line} (${relative(root, ex.file)})`;
      if (!existsSync(ex.file)) {
        problems.push({ where, why: 'the example file does not exist' });
        continue;
      }
      const text = readFileSync(ex.file, 'utf8');
      if (!text.endsWith('\n') || text.includes('```')) {
        problems.push({ where, why: 'the file must end with a newline and hold no ``` fence' });
        continue;
      }
      if (text === ex.block) continue;
      if (write) readmeLines.splice(ex.start, ex.end - ex.start, ...text.slice(0, -1).split('\n'));
      else problems.push({ where, why: 'the README block differs from the file (run `node tools/consumer-test/examples.mjs --write`)' });
    }
    if (write) writeFileSync(join(p.dir, 'README.md'), readmeLines.join('\n'));
  }
  return problems;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const write = process.argv.includes('--write');
  const problems = checkReadmes({ write });
  for (const { where, why } of problems) console.log(`${where}: ${why}`);
  if (write) console.log('README example blocks copied from their files');
  process.exit(problems.length ? 1 : 0);
}
