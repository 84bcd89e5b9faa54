// OPENSORA_PRECISION / registerTorchBackend({precision}): fp32 is the default and exact (parity);
// tf32 is refused off CUDA; bf16 computes matmul, conv and attention in bfloat16 while tfjs sees
// float32, so their results move by about bf16's 8-bit mantissa (relative 2^-8) and no further.
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { registerTorchBackend, torchBackendInfo } from './register.js';
import { rand, runOn, torchAvailable } from './testing.js';

const device = process.env.OPENSORA_DEVICE || 'cpu';

function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

const CASES: Record<string, () => tf.Tensor> = {
  matMul: () => tf.matMul(rand([3, 64, 96], 1), rand([3, 96, 48], 2)),
  conv3d: () => tf.conv3d(rand([1, 5, 8, 8, 16], 3) as tf.Tensor5D, rand([3, 3, 3, 16, 8], 4, 0.2) as tf.Tensor5D, 1, 'same'),
  conv2dBackpropInput: () => tf.grad((x: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, rand([3, 3, 8, 8], 6, 0.2) as tf.Tensor4D, 1, 'same'))))(rand([1, 8, 8, 8], 5)),
  // The fused kernel (scaled_dot_product_attention) and its backward (dq of the same call).
  OpensoraAttention: () => fusedAttention('OpensoraAttention')[0]!,
  OpensoraAttentionGrad: () => fusedAttention('OpensoraAttentionGrad')[0]!,
};

function fusedAttention(kernel: 'OpensoraAttention' | 'OpensoraAttentionGrad'): tf.Tensor[] {
  const q = rand([1, 2, 16, 32], 7);
  const k = rand([1, 2, 24, 32], 8);
  const v = rand([1, 2, 24, 32], 9);
  const mask = tf.ones([1, 24]);
  const attrs = { scale: 1 / Math.sqrt(32), causal: 0 } as unknown as tf.NamedAttrMap;
  const inputs: tf.NamedTensorMap = kernel === 'OpensoraAttention' ? { q, k, v, mask } : { dy: rand([1, 2, 16, 32], 11), q, k, v, mask };
  const out = tf.engine().runKernel(kernel, inputs, attrs) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}

describe.skipIf(!torchAvailable())('precision', () => {
  afterAll(() => {
    registerTorchBackend({ device, precision: 'fp32' });
  });

  it('is fp32 by default and refuses what it does not know', () => {
    expect(registerTorchBackend({ device }).precision).toBe(process.env.OPENSORA_PRECISION || 'fp32');
    expect(registerTorchBackend({ device, precision: 'fp32' }).precision).toBe('fp32');
    expect(() => registerTorchBackend({ device, precision: 'fp16' as never })).toThrow(/OPENSORA_PRECISION='fp16': expected fp32, tf32 or bf16/);
    expect(torchBackendInfo()!.precision).toBe('fp32');
  });

  it.skipIf(device !== 'cpu')('refuses tf32 on the cpu, saying why', () => {
    expect(() => registerTorchBackend({ device, precision: 'tf32' })).toThrow(/precision 'tf32': TF32 is a CUDA tensor-core mode and the device is cpu/);
    expect(torchBackendInfo()!.precision).toBe('fp32');
  });

  it('bf16: matmul, conv, conv backprop and attention stay float32 to tfjs and within bf16 rounding of fp32', () => {
    for (const [name, fn] of Object.entries(CASES)) {
      registerTorchBackend({ device, precision: 'fp32' });
      const [exact] = runOn('torch', fn);
      if (!name.startsWith('Opensora')) {
        // (The fused kernels' cpu versions live in @opensora-ts/kernels; fused.test.ts compares them.)
        const [cpu] = runOn('cpu', fn);
        expect(relL2(exact!.values, cpu!.values), `${name} fp32 vs cpu`).toBeLessThan(1e-5);
      }
      registerTorchBackend({ device, precision: 'bf16' });
      expect(torchBackendInfo()!.precision).toBe('bf16');
      const [low] = runOn('torch', fn);
      expect(low!.dtype, name).toBe('float32');
      expect(low!.shape, name).toEqual(exact!.shape);
      const d = relL2(low!.values, exact!.values);
      // bf16 keeps 8 mantissa bits: inputs round by up to 2^-9 each; sums of products land near 2^-8.
      expect(d, `${name} bf16 vs fp32`).toBeGreaterThan(1e-4);
      expect(d, `${name} bf16 vs fp32`).toBeLessThan(2e-2);
    }
    // Back to fp32: exact again.
    registerTorchBackend({ device, precision: 'fp32' });
    const [again] = runOn('torch', CASES.matMul!);
    const [cpu] = runOn('cpu', CASES.matMul!);
    expect(relL2(again!.values, cpu!.values)).toBeLessThan(1e-5);
  });

  it('bf16: elementwise kernels and reductions are untouched (float32)', () => {
    const fn = () => tf.sum(tf.exp(tf.mul(rand([4, 33], 10), 0.5)), 1);
    registerTorchBackend({ device, precision: 'bf16' });
    const [low] = runOn('torch', fn);
    registerTorchBackend({ device, precision: 'fp32' });
    const [exact] = runOn('torch', fn);
    expect(Array.from(low!.values)).toEqual(Array.from(exact!.values));
  });
});
