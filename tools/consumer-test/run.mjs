#!/usr/bin/env node
// The consumer test: what an npm user gets. Builds, packs every published package as `pnpm publish`
// would, installs the tarballs with npm into a fresh project outside the workspace, type-checks every
// README example under a strict `nodenext` tsconfig, runs each one, and runs the packages' bins on the
// demo weights. Each step is one named check, printed as `ok`/`FAIL`.
//
//   node tools/consumer-test/run.mjs [--json FILE] [--keep] [--no-build] [--reuse DIR]
//
// --json FILE writes [{ name, ok, ms, detail }] (tools/test/run.mjs reads it); --keep leaves the project
// folder in place (its path is printed); --no-build skips `pnpm build` (the dist folders must be current);
// --reuse DIR (while editing examples) skips build, pack and install and reruns the rest in a kept project.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { packPackage, root } from '../pack.mjs';
import { allExamples } from './examples.mjs';
import { expectedOutput } from './expect.mjs';

const args = process.argv.slice(2);
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const reuse = args.includes('--reuse') ? args[args.indexOf('--reuse') + 1] : undefined;
const keep = args.includes('--keep') || reuse !== undefined;
const build = !args.includes('--no-build') && reuse === undefined;

// Versions of the tools the consumer project installs: the workspace's own (pnpm-workspace.yaml catalog).
const catalog = Object.fromEntries(
  [...readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8').matchAll(/^\s+"?([@\w/.-]+)"?:\s*(\S+)\s*$/gm)].map((m) => [m[1], m[2]]),
);
const TS_VERSION = catalog.typescript ?? '5.9.3';
const TYPES_NODE_VERSION = catalog['@types/node'] ?? '^20.19.0';
const EXAMPLE_TIMEOUT_MS = 300_000;

const results = [];
const started = Date.now();
const project = reuse ?? mkdtempSync(join(tmpdir(), 'opensora-consumer-'));

/** Runs one named check; fn returns a detail string (ok) or throws (fail, with the message). */
function check(name, fn) {
  const t0 = Date.now();
  let ok = true;
  let detail = '';
  try {
    detail = fn() ?? '';
  } catch (err) {
    ok = false;
    detail = err instanceof Error ? err.message : String(err);
  }
  const ms = Date.now() - t0;
  results.push({ name, ok, ms, detail });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name} (${(ms / 1000).toFixed(1)} s)${ok && detail ? `: ${detail}` : ''}`);
  if (!ok) console.log(detail.split('\n').map((l) => `       ${l}`).join('\n'));
  return ok;
}

/** Marks checks that could not run because an earlier step failed. */
function blocked(names, why) {
  for (const name of names) {
    results.push({ name, ok: false, ms: 0, detail: `not run: ${why}` });
    console.log(`FAIL ${name}: not run: ${why}`);
  }
}

function tail(text, n = 25) {
  const lines = text.trimEnd().split('\n');
  return (lines.length > n ? [`... (${lines.length - n} lines above)`, ...lines.slice(-n)] : lines).join('\n');
}

/** The environment a user's shell would have: no pnpm/npm script variables, no workspace bins on PATH. */
function userEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|pnpm_|PNPM_)/i.test(k)) env[k] = v;
  env.PATH = (process.env.PATH ?? '')
    .split(':')
    .filter((p) => p && !p.startsWith(root) && !p.includes('node-gyp-bin'))
    .join(':');
  delete env.OPENSORA_QUIET; // a user sees the backend notice
  delete env.NODE_OPTIONS;
  return env;
}

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.error) throw new Error(`${cmd} ${argv.join(' ')}: ${r.error.message}`);
  if (r.signal) throw new Error(`${cmd} ${argv.join(' ')}: killed by ${r.signal}${r.signal === 'SIGTERM' && opts.timeout ? ` (over ${opts.timeout / 1000} s)` : ''}\n${tail(out)}`);
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', out };
}

const packages = allExamples();
const short = (name) => name.replace(/^@opensora-ts\//, '');
const exampleChecks = packages.flatMap((p) => p.examples.map((ex) => ({ p, ex, label: `${short(p.name)}/${ex.rel}` })));
const tsExamples = exampleChecks.filter(({ ex }) => ex.lang === 'ts');

// 1. build
if (build) {
  const okBuild = check('pnpm build', () => {
    const r = run('pnpm', ['build'], { cwd: root, env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' } });
    if (r.status !== 0) throw new Error(`pnpm build exited with ${r.status}\n${tail(r.out)}`);
  });
  if (!okBuild) finish();
}

// 3. the consumer project's own files (written again on --reuse, so a changed setting applies)
// skipLibCheck as `tsc --init` writes it: tfjs's and tokenizers' own .d.ts files fail strict nodenext checks
const compilerOptions = {
  target: 'ES2022',
  module: 'nodenext',
  moduleResolution: 'nodenext',
  strict: true,
  noUncheckedIndexedAccess: true,
  skipLibCheck: true,
  types: ['node'],
  rootDir: 'examples',
  outDir: 'out',
};
writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'opensora-consumer', private: true, type: 'module' }, null, 2) + '\n');
writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['examples/**/*.ts'] }, null, 2) + '\n');
const env = userEnv();
if (!reuse) packAndInstall();
else {
  // a kept project: remove what the examples and bins wrote last time, keep the install
  const kept = new Set(['node_modules', 'package.json', 'package-lock.json', 'tsconfig.json', '.tarballs', 'install.log']);
  for (const f of readdirSync(project)) if (!kept.has(f)) rmSync(join(project, f), { recursive: true, force: true });
}

/** Pack every package; install the tarballs with npm into the fresh project. */
function packAndInstall() {
  const packDir = join(project, '.tarballs');
  mkdirSync(packDir);
  const tarballs = [];
  for (const p of packages) {
    check(`pack ${p.name}`, () => {
      const r = packPackage(p.dir, packDir);
      if (!r.ok) throw new Error(r.output);
      // every file the manifest points at must be in the tarball (a build running meanwhile can leave gaps)
      const listed = run('tar', ['tzf', r.tgz]).stdout.split('\n').map((f) => f.replace(/^package\//, ''));
      const manifest = JSON.parse(run('tar', ['xzOf', r.tgz, 'package/package.json']).stdout);
      const wanted = [...JSON.stringify(manifest.exports ?? {}).matchAll(/"\.\/([^"*]+\.[a-z.]+)"/g)].map((m) => m[1]);
      wanted.push(...Object.values(typeof manifest.bin === 'string' ? { bin: manifest.bin } : (manifest.bin ?? {})).map((b) => b.replace(/^\.\//, '')));
      const absent = wanted.filter((f) => !listed.includes(f));
      if (absent.length) throw new Error(`${basename(r.tgz)} lacks ${absent.join(', ')} (run pnpm build; was a build running?)`);
      tarballs.push(r.tgz);
      return basename(r.tgz);
    });
  }
  if (tarballs.length !== packages.length) {
    blocked(['npm install'], 'a package did not pack');
    finish();
  }
  const installed = check('npm install (tarballs, typescript, @types/node)', () => {
    const argv = ['install', '--no-audit', '--no-fund', '--foreground-scripts', ...tarballs, `typescript@${TS_VERSION}`, `@types/node@${TYPES_NODE_VERSION}`];
    const r = run('npm', argv, { cwd: project, env, timeout: 1_800_000 });
    writeFileSync(join(project, 'install.log'), r.out);
    if (r.status !== 0) throw new Error(`npm install exited with ${r.status}\n${tail(r.out)}`);
    // every @opensora-ts package must be the tarball, never a registry copy of the same name
    const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8'));
    const ours = Object.entries(lock.packages).filter(([k]) => /node_modules\/@opensora-ts\//.test(k));
    const foreign = ours.filter(([, v]) => !String(v.resolved ?? '').startsWith('file:'));
    if (foreign.length) throw new Error(`not installed from the tarballs: ${foreign.map(([k, v]) => `${k} (${v.resolved})`).join(', ')}`);
    const notes = r.out.split('\n').filter((l) => /@opensora-ts\/tfjs-backend-(native|torch):/.test(l));
    return `${ours.length} @opensora-ts packages from tarballs${notes.length ? `; install said: ${notes.join(' | ')}` : ''}`;
  });
  if (!installed) {
    blocked(['the install, the examples and the bins'], 'npm install failed');
    finish();
  }
}

// 4. what the install left
const nm = join(project, 'node_modules');
check('no @tensorflow/tfjs-node(-gpu) fetched', () => {
  const found = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'].filter((n) => existsSync(join(nm, n)));
  if (found.length) throw new Error(`installed though they are optional peers: ${found.join(', ')}`);
});
check('native addon built at install', () => {
  const dir = join(nm, '@opensora-ts/tfjs-backend-native/build/Release');
  const built = existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.node'));
  if (!built) {
    const why = join(nm, '@opensora-ts/tfjs-backend-native/build/install-error.txt');
    throw new Error(`no .node file in ${dir}${existsSync(why) ? `: ${readFileSync(why, 'utf8').trim()}` : ''}`);
  }
});
check('initRuntime picks the native backend', () => {
  const r = run(process.execPath, ['--input-type=module', '-e', "import { initRuntime } from '@opensora-ts/kernels'; console.log(JSON.stringify(await initRuntime()));"], {
    cwd: project,
    env,
  });
  if (r.status !== 0) throw new Error(tail(r.out));
  const d = JSON.parse(r.stdout.trim().split('\n').pop());
  if (d.backend !== 'native') throw new Error(`backend '${d.backend}'; skipped: ${JSON.stringify(d.skipped)}\n${tail(r.stderr)}`);
  return `${d.backend}, ${d.threads} thread(s)`;
});

// 5. examples: copy, type-check, run
for (const { p, ex } of exampleChecks) {
  const dest = join(project, 'examples', short(p.name), basename(ex.file));
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(ex.file, dest);
}
const tsc = join(nm, 'typescript/bin/tsc');
const diagnostics = new Map(); // examples/<pkg>/<file>.ts -> lines
let typecheckRan = false;
check('tsc (strict, module nodenext)', () => {
  const r = run(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false'], { cwd: project, env });
  typecheckRan = true;
  const other = [];
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const m = /^(examples\/[^(]+)\(\d+,\d+\)/.exec(line);
    if (m) diagnostics.set(m[1], [...(diagnostics.get(m[1]) ?? []), line]);
    else if (/error TS/.test(line) || !line.startsWith(' ')) other.push(line);
  }
  // errors outside the examples (our .d.ts files under a consumer's strict settings) fail here
  if (other.length) throw new Error(tail(other.join('\n'), 40));
  return r.status === 0 ? 'no errors' : `errors in ${diagnostics.size} example(s), listed under each`;
});
for (const { p, ex, label } of tsExamples) {
  const key = `examples/${short(p.name)}/${basename(ex.file)}`;
  check(`typecheck ${label}`, () => {
    if (!typecheckRan) throw new Error('tsc did not run');
    const d = diagnostics.get(key);
    if (d) throw new Error(d.join('\n'));
  });
}

/** 'width,height,frames' of a video, as ffprobe counts them. */
const frames = (file) => {
  const r = run(process.env.FFPROBE || 'ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,width,height', '-of', 'csv=p=0', file]);
  if (r.status !== 0) throw new Error(`ffprobe ${file}: ${tail(r.out, 3)}`);
  return r.stdout.trim();
};

for (const { p, ex, label } of exampleChecks) {
  check(`run ${label}`, () => {
    const file =
      ex.lang === 'ts'
        ? join(project, 'out', short(p.name), basename(ex.file).replace(/\.ts$/, '.js'))
        : join(project, 'examples', short(p.name), basename(ex.file));
    if (!existsSync(file)) throw new Error(`${file} was not written (see the tsc check)`);
    const r = ex.lang === 'ts' ? run(process.execPath, [file], { cwd: project, env, timeout: EXAMPLE_TIMEOUT_MS }) : run('bash', ['-eo', 'pipefail', file], { cwd: project, env, timeout: EXAMPLE_TIMEOUT_MS });
    writeFileSync(join(project, `${short(p.name)}-${ex.name}.log`), r.out);
    if (r.status !== 0) throw new Error(`exit ${r.status}\n${tail(r.out)}`);
    const expected = expectedOutput[p.name]?.[ex.name];
    if (!expected) throw new Error(`no expected output listed for it in tools/consumer-test/expect.mjs\n${tail(r.out)}`);
    const { stdout = [], videos = {} } = Array.isArray(expected) ? { stdout: expected } : expected;
    const missing = stdout.filter((s) => !r.stdout.includes(s));
    if (missing.length) throw new Error(`its output lacks ${missing.map((s) => JSON.stringify(s)).join(', ')}\n${tail(r.out)}`);
    for (const [file, want] of Object.entries(videos)) {
      if (!existsSync(join(project, file))) throw new Error(`it did not write ${file}`);
      const got = frames(join(project, file));
      if (got !== want) throw new Error(`${file} is ${got} (width,height,frames), expected ${want}`);
    }
    return tail(r.stdout, 1).slice(0, 160);
  });
}

// 6. bins on the demo weights
const W = join(nm, '@opensora-ts/demo-model/weights');
const bin = (name) => join(nm, '.bin', name); // the installed bin itself: npx would look a missing one up on the registry
const bins = join(project, 'bins');
mkdirSync(bins, { recursive: true });
check('bin opensora-vae encode + decode (demo weights)', () => {
  const clip = join(bins, 'clip.mp4');
  const f = run(process.env.FFMPEG || 'ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=0x6e6e6e:s=64x64:r=8,drawbox=x=8:y=24:w=16:h=16:color=blue:t=fill', '-frames:v', '17', '-pix_fmt', 'yuv420p', clip]);
  if (f.status !== 0) throw new Error(`ffmpeg: ${tail(f.out, 5)}`);
  const common = ['--config', join(W, 'model.json'), '--weights', join(W, 'vae.safetensors')];
  const enc = run(bin('opensora-vae'), ['encode', clip, '-o', join(bins, 'z.safetensors'), ...common], { cwd: project, env, timeout: EXAMPLE_TIMEOUT_MS });
  if (enc.status !== 0) throw new Error(`encode exit ${enc.status}\n${tail(enc.out)}`);
  const dec = run(bin('opensora-vae'), ['decode', join(bins, 'z.safetensors'), '-o', join(bins, 'decoded.mp4'), '--fps', '8', ...common], { cwd: project, env, timeout: EXAMPLE_TIMEOUT_MS });
  if (dec.status !== 0) throw new Error(`decode exit ${dec.status}\n${tail(dec.out)}`);
  const got = frames(join(bins, 'decoded.mp4'));
  if (got !== '64,64,17') throw new Error(`decoded.mp4 is ${got} (width,height,frames), expected 64,64,17`);
  return 'decoded.mp4: 17 frames 64x64';
});
check('bin opensora-vae: weights of another config fail in one line', () => {
  const r = run(bin('opensora-vae'), ['reconstruct', join(bins, 'clip.mp4'), '-o', join(bins, 'never.mp4'), '--config', 'tiny', '--weights', join(W, 'vae.safetensors')], { cwd: project, env, timeout: EXAMPLE_TIMEOUT_MS });
  const lines = r.stderr.split('\n').filter((l) => l.trim() && !/^opensora-ts: /.test(l));
  if (r.status !== 1) throw new Error(`exit ${r.status}, expected 1\n${tail(r.out)}`);
  if (!/these weights are config/.test(r.stderr) || lines.length > 2) throw new Error(`expected one line saying which config the weights are, got ${lines.length}:\n${tail(r.stderr, 10)}`);
  if (existsSync(join(bins, 'never.mp4'))) throw new Error('an output was written');
  return lines.at(-1).slice(0, 120);
});
check('bin opensora-sample (demo model)', () => {
  const out = join(bins, 'sample.mp4');
  const r = run(bin('opensora-sample'), ['--prompt', 'a red circle moves to the left', '--out', out], { cwd: project, env, timeout: EXAMPLE_TIMEOUT_MS });
  if (r.status !== 0) throw new Error(`exit ${r.status}\n${tail(r.out)}`);
  if (!existsSync(out)) throw new Error(`${out} was not written\n${tail(r.out)}`);
  return `sample.mp4: ${frames(out)} (width,height,frames)`;
});
check('bin opensora-sample --config SIDECAR reproduces the video', () => {
  const sidecar = join(bins, 'sample.json');
  if (!existsSync(sidecar)) throw new Error(`${sidecar} (the sidecar the README promises) was not written`);
  const again = join(bins, 'again.mp4');
  const r = run(bin('opensora-sample'), ['--config', sidecar, '--out', again], { cwd: project, env, timeout: EXAMPLE_TIMEOUT_MS });
  if (r.status !== 0) throw new Error(`exit ${r.status}\n${tail(r.out)}`);
  const [a, b] = [join(bins, 'sample.mp4'), again].map((f) => {
    const m = run(process.env.FFMPEG || 'ffmpeg', ['-v', 'error', '-i', f, '-f', 'framemd5', '-']);
    if (m.status !== 0) throw new Error(`ffmpeg framemd5 ${f}: ${tail(m.out, 3)}`);
    return m.stdout.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',').pop().trim());
  });
  const differ = a.filter((h, i) => h !== b[i]).length + Math.abs(a.length - b.length);
  if (differ) throw new Error(`again.mp4 differs from sample.mp4 in ${differ} of ${a.length} decoded frames`);
  return `${a.length} decoded frames identical`;
});

finish();

function finish() {
  const failed = results.filter((r) => !r.ok);
  console.log(`consumer test: ${results.length - failed.length} passed, ${failed.length} failed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2) + '\n');
  if (keep || failed.length) console.log(`consumer project kept at ${project}`);
  else rmSync(project, { recursive: true, force: true });
  process.exit(failed.length ? 1 : 0);
}
