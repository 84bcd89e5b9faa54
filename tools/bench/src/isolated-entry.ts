// Child side of ./isolated.ts: reads {suite, job} on stdin, runs the suite's childJob, prints JSON.
import { readFileSync } from 'node:fs';

interface ChildSuite {
  childJob: (job: unknown) => Promise<unknown>;
}

async function main(): Promise<void> {
  const { suite, job } = JSON.parse(readFileSync(0, 'utf8')) as { suite: string; job: unknown };
  const mod = (await import(`./suites/${suite}.js`)) as Partial<ChildSuite>;
  if (typeof mod.childJob !== 'function') throw new Error(`suite '${suite}' has no childJob`);
  const result = await mod.childJob(job);
  process.stdout.write('\n' + JSON.stringify(result) + '\n');
}

main().catch((err) => {
  // The stack for debugging, then one line the parent quotes.
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${err instanceof Error ? (err.stack ?? '') : ''}\nERROR: ${message.split('\n').join(' ')}\n`);
  process.exit(1);
});
