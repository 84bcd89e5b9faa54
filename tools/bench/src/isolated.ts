// One measurement per child process, so each row's peak RSS is its own (a process's peak never
// goes down) and one case's garbage cannot slow the next. The child is this same Node with the
// same loader flags (tsx, `source` condition) running ./isolated-entry.ts, which calls the
// suite module's `childJob(job)` and prints its JSON result as the last stdout line.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('./isolated-entry.ts', import.meta.url));

/** Runs `childJob(job)` of suites/<suite>.ts in a fresh process; throws with the child's last stderr lines. */
export function runIsolated<T>(suite: string, job: unknown, env: NodeJS.ProcessEnv = {}): T {
  const r = spawnSync(process.execPath, [...process.execArgv, ENTRY], {
    input: JSON.stringify({ suite, job }),
    stdio: ['pipe', 'pipe', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, OPENSORA_QUIET: '1', ...env },
    maxBuffer: 64 << 20,
  });
  const stderr = (r.stderr || '').trim();
  if (r.status !== 0) {
    const why = r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
    const lines = stderr.split('\n');
    const error = lines.filter((l) => l.startsWith('ERROR: ')).pop()?.slice('ERROR: '.length);
    throw new Error(`${suite} child (${why}): ${error ?? (lines.slice(-4).join(' | ') || 'no output')}`);
  }
  // Relay the child's remarks, minus tfjs's banner suggesting tfjs-node.
  const remarks = stderr.split('\n').filter((l) => l.trim() && !/^=+$|looks like you are running TensorFlow\.js in Node/.test(l.trim()));
  if (remarks.length) process.stderr.write(remarks.map((l) => `  | ${l}`).join('\n') + '\n');
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`${suite} child printed no JSON result (last line: ${last.slice(0, 200)})`);
  }
}
