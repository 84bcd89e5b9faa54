// A worker for the launcher tests: says its PID, then idles or spins (a long synchronous op).
process.stdout.write(`worker ${process.pid} ${process.env.GLIBC_TUNABLES ?? '-'}\n`);
if (process.argv[2] === 'busy') {
  const t = Date.now();
  while (Date.now() - t < 30_000);
} else if (process.argv[2] === 'exit') {
  process.exit(Number(process.argv[3]));
} else setInterval(() => {}, 1000);
