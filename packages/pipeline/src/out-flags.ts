// --out and --save-dir checked before any model is loaded, in the words the user typed: a name
// ending in '/' or naming a folder is not a file, and nothing can be written under a file.
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The nearest existing ancestor of `dir` (itself included) when it is a file, else null. */
function fileOnTheWay(dir: string): string | null {
  let d = resolve(dir);
  for (;;) {
    if (existsSync(d)) return isDir(d) ? null : d;
    const up = dirname(d);
    if (up === d) return null;
    d = up;
  }
}

export function checkOutFlags(o: { out: string | null; save_dir: string }): void {
  if (o.out !== null) {
    const out = o.out;
    if (out.trim() === '') throw new Error("--out '': give the file to write, e.g. --out red.mp4.");
    if (/[\\/]$/.test(out) || isDir(out)) {
      const folder = out.replace(/[\\/]+$/, '') || out;
      throw new Error(`--out ${out}: ${/[\\/]$/.test(out) ? "ends in '/'" : 'is a folder'}, but --out names the file to write, e.g. --out ${join(folder, 'sample.mp4')}. To write sample_0000.mp4, ... into a folder, pass --save-dir ${folder} instead.`);
    }
    const file = fileOnTheWay(dirname(out));
    if (file) throw new Error(`--out ${out}: ${file} is a file, not a folder, so nothing can be written under it; choose another --out.`);
    return;
  }
  const file = fileOnTheWay(o.save_dir);
  if (file) {
    throw new Error(
      resolve(file) === resolve(o.save_dir)
        ? `--save-dir ${o.save_dir}: is a file, not a folder; to write that file, pass --out ${o.save_dir} (or choose another --save-dir).`
        : `--save-dir ${o.save_dir}: ${file} is a file, not a folder, so nothing can be written under it; choose another --save-dir.`,
    );
  }
}
