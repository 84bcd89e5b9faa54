// Runs PyTorch (CPU) in a child python3 on the same shapes, at the same thread count.
// Each case is Python source that defines `step()`; the embedded driver times it with the same
// policy as ./timing.ts (warm-up, repetitions within a budget, the fastest). OPENSORA_REFERENCE
// (a checkout of the reference Open-Sora) is put on sys.path, so model suites can import it;
// ../python (the bench's own helpers: python/opensora_reference.py) is on PYTHONPATH. Per case
// the driver also reports the peak RSS of its timed calls (VmHWM, reset after setup: meaningful
// when a run holds one case) and, when the setup defines `check()`, what it returns.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The bench's Python helpers (importable from a case's setup). */
export const BENCH_PYTHON_DIR = fileURLToPath(new URL('../python', import.meta.url));

export interface TorchCase {
  op: string;
  /** Python that defines `step()` (torch, F = torch.nn.functional are in scope). */
  setup: string;
}

export interface TorchTiming {
  warmup: number;
  minReps: number;
  maxReps: number;
  budgetMs: number;
}

const DRIVER = String.raw`
import json, os, sys, time
spec = json.loads(sys.stdin.read())
ref = os.environ.get("OPENSORA_REFERENCE")
if ref:
    sys.path.insert(0, ref)
import torch
import torch.nn.functional as F
torch.set_num_threads(spec["threads"])
torch.manual_seed(0)
t = spec["timing"]
out = {"version": torch.__version__, "ms": {}, "peak_rss_mb": {}, "info": {}}
def hwm_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
# --clock cpu (OPENSORA_BENCH_CLOCK=cpu): process CPU time, as our side measures then.
clock = time.process_time if os.environ.get("OPENSORA_BENCH_CLOCK") == "cpu" else time.perf_counter
for case in spec["cases"]:
    ns = {"torch": torch, "F": F}
    exec(case["setup"], ns)
    step = ns["step"]
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    for _ in range(t["warmup"]):
        step()
    times = []
    start = time.perf_counter()
    while len(times) < t["minReps"] or (len(times) < t["maxReps"] and (time.perf_counter() - start) * 1e3 < t["budgetMs"]):
        t0 = clock()
        step()
        times.append((clock() - t0) * 1e3)
    out["ms"][case["op"]] = min(times)
    out["peak_rss_mb"][case["op"]] = hwm_mb()
    if "check" in ns:
        out["info"][case["op"]] = ns["check"]()
    del ns
print(json.dumps(out))
`;

/** A python3 that imports torch: OPENSORA_PYTHON, else Debian's /usr/bin/python3, else python3 on PATH. */
export function findTorchPython(): { python: string } | { python: null; reason: string } {
  const candidates = [process.env.OPENSORA_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => Boolean(p));
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
    if (r.status === 0) return { python };
  }
  return { python: null, reason: `no python3 with torch found (tried ${candidates.join(', ')}); install python3-torch or set OPENSORA_PYTHON` };
}

export interface TorchResult {
  version: string;
  /** Fastest call per case. */
  ms: Record<string, number>;
  /** Peak RSS during each case's timed calls (null off Linux). */
  peak_rss_mb: Record<string, number | null>;
  /** What each case's `check()` returned. */
  info: Record<string, unknown>;
}

/** Milliseconds per case (the fastest repetition), or an Error naming what failed. */
export function runTorch(python: string, cases: TorchCase[], threads: number, timing: TorchTiming): TorchResult {
  const n = String(threads);
  // torch.set_num_threads does not reach OpenBLAS (Debian's torch BLAS), which would otherwise
  // use every core for matmuls: pin all the thread pools.
  const pythonPath = [BENCH_PYTHON_DIR, process.env.PYTHONPATH].filter(Boolean).join(delimiter);
  const env = { ...process.env, OMP_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n, MKL_NUM_THREADS: n, PYTHONPATH: pythonPath, PYTHONDONTWRITEBYTECODE: '1' };
  const r = spawnSync(python, ['-c', DRIVER], {
    input: JSON.stringify({ threads, timing, cases }),
    encoding: 'utf8',
    env,
    maxBuffer: 16 << 20,
  });
  if (r.status !== 0) throw new Error(`PyTorch run failed (${python}, exit ${r.status}): ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchResult;
}

/**
 * The reference checkout for model suites: OPENSORA_REFERENCE must name a checkout of
 * hpcaitech/Open-Sora v1.3 (no reference code lives in this repository).
 */
export function findReference(): { root: string } | { root: null; reason: string } {
  const root = process.env.OPENSORA_REFERENCE;
  if (!root) return { root: null, reason: 'reference not available (set OPENSORA_REFERENCE to a checkout of hpcaitech/Open-Sora v1.3)' };
  if (!existsSync(join(root, 'opensora', 'models', 'stdit', 'stdit3.py'))) {
    return { root: null, reason: `reference not available: OPENSORA_REFERENCE=${root} holds no opensora/models/stdit/stdit3.py (expected a checkout of hpcaitech/Open-Sora v1.3)` };
  }
  return { root };
}
