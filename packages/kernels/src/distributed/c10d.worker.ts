// One rank of the c10d tests (c10d.test.ts): launched by torchrun (or by the test with torchrun's
// variables set by hand), it runs a scenario and writes what it saw to $C10D_OUT/rank-<RANK>.json.
//   collectives  every collective and averageGradients across the ranks (OPENSORA_BACKEND picks
//                cpu or torch: the torch backend reduces tensors by id)
//   kill         rank $C10D_VICTIM SIGKILLs itself after one all-reduce; the others keep reducing
//                and record the error they get, and when
//   idle         rank $C10D_VICTIM SIGKILLs itself; the others make no collective (local work):
//                the default onLost ('exit') must end them with the error on stderr
//   slow         rank 0 blocks its JS thread (a long checkpoint write) for longer than lostAfterMs
//                while the others wait in a barrier: nobody may be reported lost
//   missing      WORLD_SIZE > 1 with no usable addon: record initProcessGroup's error
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initRuntime } from '../runtime.js';
import { tf } from '../tf.js';
import type { Tensor } from '../tf.js';
import { averageGradients } from './average-gradients.js';
import { initProcessGroup } from './init.js';

const scenario = process.argv[2];
const outDir = process.env.C10D_OUT!;
const rank = Number(process.env.RANK);
// Unset: initProcessGroup's default (20 s).
const lostAfterMs = process.env.C10D_LOST_AFTER_MS ? Number(process.env.C10D_LOST_AFTER_MS) : undefined;
const write = (value: unknown) => writeFileSync(join(outDir, `rank-${rank}.json`), JSON.stringify(value));

async function collectives() {
  const rt = await initRuntime({ announce: false });
  const pg = await initProcessGroup(lostAfterMs ? { lostAfterMs } : {});
  const r = pg.rank;
  const n = pg.worldSize;
  const out: Record<string, unknown> = { rank: r, worldSize: n, backend: pg.backend, tfBackend: rt.backend };
  for (const op of ['sum', 'avg', 'max', 'min'] as const) {
    const a = Float32Array.of(r + 1, -r, 0.5 * r);
    await pg.allReduce(a, op);
    out[`allReduce_${op}`] = [...a];
  }
  const big = new Float32Array(1 << 20).fill(r + 1); // 4 MiB: several Gloo chunks
  await pg.allReduce(big, 'sum');
  out.bigAllReduceDistinct = [...new Set(big)];
  const bf = Float32Array.of(r, r, r);
  await pg.broadcast(bf, n - 1);
  const bi = Int32Array.of(100 + r);
  await pg.broadcast(bi, 0);
  const bu = Uint8Array.of(7 * r, 200);
  await pg.broadcast(bu, n - 1);
  out.broadcast = { f32: [...bf], i32: [...bi], u8: [...bu] };
  out.allGather = {
    f32: (await pg.allGather(Float32Array.of(r, r + 0.25))).map((a) => [...a]),
    i32: (await pg.allGather(Int32Array.of(-r))).map((a) => [...a]),
    u8: (await pg.allGather(Uint8Array.of(r, 255))).map((a) => [...a]),
  };
  out.allGatherJson = await pg.allGatherJson({ rank: r, text: 'é'.repeat(r * 3), list: Array.from({ length: r }, (_, i) => i) });
  await pg.barrier();
  const grads = new Map<string, Tensor>([
    ['w', tf.tensor2d([[r, 2 * r], [3, 4]])],
    ['b', tf.tensor1d([1, r])],
    ['big', tf.fill([1000], r + 1)],
  ]);
  for (const bucketBytes of [8, 1 << 20]) {
    const before = tf.memory().numTensors;
    const avg = await averageGradients(pg, grads, { bucketBytes });
    out[`averageGradients_${bucketBytes}`] = Object.fromEntries([...avg].map(([k, t]) => [k, { shape: t.shape, values: t.size > 16 ? [...new Set(t.dataSync())] : [...t.dataSync()] }]));
    for (const t of avg.values()) t.dispose();
    out[`leak_${bucketBytes}`] = tf.memory().numTensors - before;
  }
  if (pg.allReduceTensor) {
    const x = tf.tensor1d([r, 1, 5 - r]);
    const y = await pg.allReduceTensor(x, 'max');
    out.allReduceTensor = { input: [...x.dataSync()], output: [...y.dataSync()] };
    x.dispose();
    y.dispose();
  }
  await pg.close();
  await pg.barrier().catch((e: Error) => (out.afterClose = e.message));
  write(out);
}

async function kill() {
  const victim = Number(process.env.C10D_VICTIM ?? 1);
  // 'throw': this scenario records the collective's error itself (idle tests the default exit).
  const pg = await initProcessGroup({ ...(lostAfterMs ? { lostAfterMs } : {}), onLost: 'throw' });
  const a = Float32Array.of(1);
  await pg.allReduce(a);
  if (pg.rank === victim) {
    write({ rank, pid: process.pid, killedAt: Date.now() });
    process.kill(process.pid, 'SIGKILL');
  }
  const started = Date.now();
  try {
    for (let i = 0; i < 1000; i++) {
      await pg.allReduce(a);
      await new Promise((res) => setTimeout(res, 50));
    }
    write({ rank, error: null });
  } catch (err) {
    write({ rank, error: (err as Error).message, failedAt: Date.now(), waitedMs: Date.now() - started });
    process.exitCode = 3;
  }
}

async function idle() {
  const victim = Number(process.env.C10D_VICTIM ?? 1);
  const pg = await initProcessGroup(lostAfterMs ? { lostAfterMs } : {});
  await pg.allReduce(Float32Array.of(1));
  if (pg.rank === victim) {
    write({ rank, killedAt: Date.now() });
    process.kill(process.pid, 'SIGKILL');
  }
  await new Promise((res) => setTimeout(res, 120_000)); // local work, no collective
  write({ rank, error: null });
}

async function slow() {
  const blockMs = Number(process.env.C10D_BLOCK_MS ?? 8000);
  const pg = await initProcessGroup(lostAfterMs ? { lostAfterMs } : {});
  await pg.barrier();
  const started = Date.now();
  if (pg.rank === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, blockMs); // the JS thread is stuck
  const a = Float32Array.of(pg.rank + 1);
  await pg.allReduce(a);
  await pg.barrier();
  write({ rank, sum: a[0], waitedMs: Date.now() - started });
  await pg.close();
}

async function missing() {
  try {
    await initProcessGroup();
    write({ rank, error: null });
  } catch (err) {
    write({ rank, error: (err as Error).message });
  }
}

const scenarios: Record<string, () => Promise<void>> = { collectives, kill, idle, slow, missing };
const run = scenarios[scenario ?? ''];
if (!run) throw new Error(`c10d.worker: unknown scenario '${scenario}'`);
run().catch((err) => {
  write({ rank, fatal: err instanceof Error ? err.stack : String(err) });
  process.exit(2);
});
