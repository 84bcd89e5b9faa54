// Starting our backends for a suite: 'native' through @opensora-ts/tfjs-backend-native (skipped
// with its reason when the addon is not built) and tfjs's pure-JS 'cpu'.
import { tf } from '@opensora-ts/kernels';
import { registerNativeBackend } from '@opensora-ts/tfjs-backend-native';

export async function useBackend(name: string, threads: number): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    if (name === 'native') registerNativeBackend({ threads });
    if (!(await tf.setBackend(name))) return { ok: false, reason: 'tf.setBackend failed' };
    await tf.ready();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message.split('\n')[0]! : String(err) };
  }
}
