// Child side of ./isolated.ts: reads {suite, job} on stdin, runs the suite's childJob, prints JSON.
import { readFileSync } from 'node:fs';
import { torchRowNote } from './backends.js';

interface ChildSuite {
  childJob: (job: unknown) => Promise<unknown>;
}

async function main(): Promise<void> {
  const { suite, job } = JSON.parse(readFileSync(0, 'utf8')) as { suite: string; job: unknown };
  const mod = (await import(`./suites/${suite}.js`)) as Partial<ChildSuite>;
  if (typeof mod.childJob !== 'function') throw new Error(`suite '${suite}' has no childJob`);
  let result = await mod.childJob(job);
  // A measurement on the torch backend says which libtorch, device and precision it ran on.
  const runtime = await torchRowNote();
  if (runtime !== undefined && result !== null && typeof result === 'object' && !Array.isArray(result)) result = { ...result, runtime };
  process.stdout.write('\n' + JSON.stringify(result) + '\n');
}

main().catch((err) => {
  // The stack for debugging, then one line the parent quotes.
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${err instanceof Error ? (err.stack ?? '') : ''}\nERROR: ${message.split('\n').join(' ')}\n`);
  process.exit(1);
});
