// Starting our backends for a suite: 'native' through @opensora-ts/tfjs-backend-native (skipped
// with its reason when the addon is not built), 'torch' (@opensora-ts/tfjs-backend-torch, on
// OPENSORA_DEVICE, default cpu, at OPENSORA_PRECISION, default fp32; started through
// @opensora-ts/kernels' initRuntime, skipped with its reason when its addon is not built) and
// tfjs's pure-JS 'cpu'. The PyTorch rows of the suites are named 'pytorch'.
import { describeRuntime, initRuntime, tf } from '@opensora-ts/kernels';
import { registerNativeBackend } from '@opensora-ts/tfjs-backend-native';

/** What the torch backend runs on in this process, e.g. 'libtorch 1.13.0, cpu, fp32'; undefined before it started. */
let torchLabel: string | undefined;

export async function useBackend(name: string, threads: number): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    if (name === 'native') registerNativeBackend({ threads });
    if (name === 'torch') {
      // initRuntime registers torch with OPENSORA_THREADS (the cli sets it to --threads).
      process.env.OPENSORA_THREADS = String(threads);
      const d = await initRuntime({ backend: 'torch', announce: false });
      const precision = process.env.OPENSORA_PRECISION || 'fp32';
      torchLabel = `libtorch ${d.version ?? '?'}, ${d.device ?? 'cpu'}, ${precision}`;
    }
    if (!(await tf.setBackend(name))) return { ok: false, reason: 'tf.setBackend failed' };
    await tf.ready();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message.split('\n')[0]! : String(err) };
  }
}

/**
 * For a row of the torch backend: which libtorch, device and precision it ran on, and the kernels
 * that fell back to the host (none expected); undefined when torch did not run in this process.
 */
export async function torchRowNote(): Promise<string | undefined> {
  if (torchLabel === undefined) return undefined;
  const fallbacks = Object.entries((await describeRuntime()).fallbacks ?? {});
  return fallbacks.length ? `${torchLabel}; host fallbacks: ${fallbacks.map(([k, n]) => `${k} x${n}`).join(', ')}` : torchLabel;
}
