// Runs a TypeScript entry of this repository from source: the `source` export condition
// resolves workspace packages to their src/index.ts, so tools and apps need no build step.
//
// The entry runs in a worker process (glibc reads GLIBC_TUNABLES only when a process starts, and
// `--conditions` is a start-up flag), so this launcher behaves as the worker would:
// - SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGUSR2 sent to the launcher go to the worker, and the
//   launcher exits as the worker did (its exit code, or the same signal);
// - the worker stops (SIGTERM) when the launcher disappears, even by SIGKILL (./worker-watch.mjs);
// - when started by a package manager script (`pnpm train`), the launcher stops the worker when
//   the package manager is killed;
// - a worker ended by a signal nobody sent through the launcher (the OOM killer's SIGKILL) makes the
//   launcher say so.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

// glibc malloc settings for tensor-sized buffers: keep freed memory in the heap instead of
// returning it to the kernel (mmap/trim thresholds) and back it with transparent huge pages.
// Without them every large op output page-faults afresh; a VAE training step spent half its time
// in the kernel (2.3M minor faults in 3 steps) and ran 3x slower. A value the user set wins.
export const TENSOR_MALLOC_TUNABLES = 'glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967296';

/** Signals passed on to the worker. */
export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

const WATCH = fileURLToPath(new URL('./worker-watch.mjs', import.meta.url));
const SHELLS = new Set(['sh', 'dash', 'bash', 'zsh', 'ash', 'ksh', 'fish']);

function procStat(pid) {
  // "PID (comm) STATE PPID ...": comm may hold spaces and parentheses; the last ')' ends it.
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const close = s.lastIndexOf(')');
  const rest = s.slice(close + 2).split(' ');
  return { comm: s.slice(s.indexOf('(') + 1, close), state: rest[0], ppid: Number(rest[1]) };
}

/**
 * The chain of parents up to the package manager that ran this launcher as a script
 * (`[sh, pnpm]` or `[pnpm]`), or null when no package manager started it. Linux only (/proc);
 * elsewhere the direct parent.
 */
function packageManagerChain() {
  if (!process.env.npm_lifecycle_event) return null;
  const chain = [process.ppid];
  try {
    for (let i = 0; i < 4; i++) {
      const pid = chain.at(-1);
      if (!SHELLS.has(procStat(pid).comm)) return chain;
      chain.push(procStat(pid).ppid);
    }
    return chain;
  } catch {
    return [process.ppid];
  }
}

/** Whether each process of the chain is still the parent of the one before it. */
function chainIntact(chain) {
  if (process.ppid !== chain[0]) return false;
  for (let i = 0; i + 1 < chain.length; i++) {
    try {
      const st = procStat(chain[i]);
      if (st.state === 'Z' || st.ppid !== chain[i + 1]) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * Runs `entry` with tsx in a worker process and mirrors it: signals forwarded, the worker's exit
 * status (or signal) passed on. `name` prefixes the launcher's own messages.
 */
export function runTypeScript(entry, args, options = {}) {
  const name = options.name ?? basename(dirname(dirname(entry)));
  const tsx = require.resolve('tsx');
  const env = { ...process.env, OPENSORA_LAUNCHER_PID: String(process.pid) };
  if (process.platform === 'linux' && env.GLIBC_TUNABLES === undefined) env.GLIBC_TUNABLES = TENSOR_MALLOC_TUNABLES;
  const child = spawn(process.execPath, ['--conditions=source', '--import', tsx, '--import', WATCH, entry, ...args], { stdio: 'inherit', env });

  const sent = new Set();
  const forward = (signal) => {
    sent.add(signal);
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const s of FORWARDED_SIGNALS) process.on(s, forward);

  const chain = packageManagerChain();
  const watch = chain
    ? setInterval(() => {
        if (chainIntact(chain)) return;
        clearInterval(watch);
        process.stderr.write(`${name}: the package manager that started this run (PID ${chain.at(-1)}) is gone; stopping worker ${child.pid}.\n`);
        forward('SIGTERM');
      }, 200)
    : null;
  watch?.unref();

  child.on('error', (err) => {
    process.stderr.write(`${name}: could not start ${process.execPath}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (watch) clearInterval(watch);
    if (signal === null) process.exit(code ?? 1);
    const n = constants.signals[signal] ?? 0;
    if (!sent.has(signal)) {
      const who = signal === 'SIGKILL' ? ' (sent by another process, or by the kernel when memory ran out: see `dmesg`)' : '';
      process.stderr.write(`${name}: worker process ${child.pid} was ended by ${signal}${who}; its work stopped there.\n`);
    }
    // End the way the worker ended, so a calling shell sees the signal (Ctrl-C stops a loop).
    for (const s of FORWARDED_SIGNALS) process.removeListener(s, forward);
    if (FORWARDED_SIGNALS.includes(signal)) {
      process.kill(process.pid, signal);
      setTimeout(() => process.exit(128 + n), 1000);
    } else process.exit(128 + n);
  });
  return child;
}
