// Preloaded (--import) into a worker started by ./ts.mjs: when the launcher disappears (killed with
// SIGKILL, so it could not pass anything on), this process gets SIGTERM instead of running on
// orphaned. A thread of its own watches, so a worker busy in a long synchronous op is stopped too.
import { Worker } from 'node:worker_threads';

const launcher = Number(process.env.OPENSORA_LAUNCHER_PID);
// Only the launcher's direct child watches; processes this worker starts do not inherit the duty.
delete process.env.OPENSORA_LAUNCHER_PID;

if (launcher > 0 && process.ppid === launcher) {
  const watcher = new Worker(
    `const launcher = ${launcher};
     const timer = setInterval(() => {
       // A dead parent's children are re-parented at once (to init or a subreaper).
       if (process.ppid !== launcher) {
         clearInterval(timer);
         require('node:fs').writeSync(2, 'launcher process ' + launcher + ' is gone; stopping (PID ' + process.pid + ').\\n');
         process.kill(process.pid, 'SIGTERM');
       }
     }, 200);`,
    { eval: true, name: 'launcher-watch', stdout: false, stderr: false },
  );
  watcher.unref();
}
