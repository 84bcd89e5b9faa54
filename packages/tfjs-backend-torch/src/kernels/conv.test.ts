import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { conv3dPaddedComposite, type Conv3dPads } from '../../../kernels/src/fused/conv3d.js';
import { expectClose, expectSameOnBothBackends, rand, runOn, sumAtol, torchAvailable } from '../testing.js';

const require = createRequire(import.meta.url);

/** Forward and both gradients (input and filter) of a conv with a random upstream gradient. */
function convAndGrads(conv: (x: tf.Tensor, f: tf.Tensor) => tf.Tensor, xShape: number[], fShape: number[]): tf.Tensor[] {
  const x = rand(xShape, 1);
  const f = rand(fShape, 2, 0.5);
  const y = conv(x, f);
  const dy = rand(y.shape, 3);
  const [gx, gf] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a, b), dy)))([x, f]);
  return [y, gx!, gf!];
}

describe.skipIf(!torchAvailable())('Conv3D on torch (NDHWC, forward and both backprops)', () => {
  const cases: { strides: number | [number, number, number]; pad: 'same' | 'valid'; k: [number, number, number] }[] = [
    { strides: 1, pad: 'same', k: [3, 3, 3] },
    { strides: 1, pad: 'valid', k: [3, 3, 3] },
    { strides: 2, pad: 'same', k: [3, 3, 3] },
    { strides: [1, 2, 2], pad: 'valid', k: [2, 3, 3] },
    { strides: 1, pad: 'same', k: [2, 2, 2] }, // unequal same-padding
    { strides: 1, pad: 'same', k: [1, 1, 1] },
  ];
  for (const { strides, pad, k } of cases) {
    it(`kernel ${k.join('x')} strides ${strides} pad ${pad}`, () => {
      expectSameOnBothBackends(
        () => convAndGrads((x, f) => tf.conv3d(x as tf.Tensor5D, f as tf.Tensor5D, strides, pad), [2, 5, 7, 6, 3], [...k, 3, 4]),
        1e-4,
        sumAtol(300, 3),
      );
    });
  }
  it('wide channels, 24 -> 40 (the filter is re-laid out by blocked transposes, partial tiles included)', () => {
    // 3x3x3x24x40 = 25,920 weights: ATen's cache-blocked 2-D transpose copy only starts at 3,600
    // elements, so the small filters above go through its other copy path.
    expectSameOnBothBackends(
      () => convAndGrads((x, f) => tf.conv3d(x as tf.Tensor5D, f as tf.Tensor5D, 1, 'same'), [1, 3, 5, 4, 24], [3, 3, 3, 24, 40]),
      1e-4,
      sumAtol(27 * 40, 3),
    );
    expectSameOnBothBackends(
      () => convAndGrads((x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'), [1, 5, 4, 40], [3, 3, 40, 24]),
      1e-4,
      sumAtol(9 * 40, 3),
    );
  });
  it('strided inputs (a slice along time and channels, a transposed H/W) reach the convolution as views', () => {
    expectSameOnBothBackends(() => {
      const x = rand([2, 6, 5, 4, 6], 1);
      const f = rand([3, 3, 3, 3, 4], 2, 0.5) as tf.Tensor5D;
      const sliced = tf.slice(x, [0, 1, 0, 0, 1], [2, 4, 5, 4, 3]) as tf.Tensor5D;
      const transposed = tf.transpose(tf.slice(x, [0, 0, 0, 0, 0], [2, 6, 5, 4, 3]), [0, 1, 3, 2, 4]) as tf.Tensor5D;
      return [tf.conv3d(sliced, f, 1, 'same'), tf.conv3d(transposed, f, [1, 2, 1], 'valid')];
    }, 1e-4, sumAtol(81, 3));
  });
  it('dilations 2 (forward)', () => {
    expectSameOnBothBackends(() => tf.conv3d(rand([1, 7, 8, 9, 2], 1) as tf.Tensor5D, rand([3, 3, 3, 2, 5], 2) as tf.Tensor5D, 1, 'same', 'NDHWC', 2), 1e-4, sumAtol(54));
  });
});

describe.skipIf(!torchAvailable())('Conv2D on torch (NHWC and NCHW, forward and both backprops)', () => {
  const cases: { strides: number; pad: 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]] }[] = [
    { strides: 1, pad: 'same' },
    { strides: 2, pad: 'same' },
    { strides: 1, pad: 'valid' },
    { strides: 2, pad: 1 },
    { strides: 1, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  ];
  for (const { strides, pad } of cases) {
    it(`strides ${strides} pad ${JSON.stringify(pad)}`, () => {
      expectSameOnBothBackends(
        () => convAndGrads((x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, strides, pad), [2, 9, 8, 3], [3, 3, 3, 5]),
        1e-4,
        sumAtol(300, 3),
      );
    });
  }
  it('dilations 2, and NCHW', () => {
    expectSameOnBothBackends(() => tf.conv2d(rand([1, 9, 9, 2], 1) as tf.Tensor4D, rand([3, 3, 2, 4], 2) as tf.Tensor4D, 1, 'same', 'NHWC', 2), 1e-4, sumAtol(18));
    expectSameOnBothBackends(() => tf.conv2d(rand([1, 2, 7, 6], 1) as tf.Tensor4D, rand([3, 3, 2, 4], 2) as tf.Tensor4D, 1, 'valid', 'NCHW'), 1e-4, sumAtol(18));
  });
  it('1x1 kernels (stride 1: a matrix product over positions) with gradients, dilation 2, stride 2, NCHW', () => {
    expectSameOnBothBackends(() => convAndGrads((x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'valid'), [2, 5, 4, 6], [1, 1, 6, 3]), 1e-4, sumAtol(20, 3));
    expectSameOnBothBackends(() => tf.conv2d(rand([2, 5, 4, 6], 1) as tf.Tensor4D, rand([1, 1, 6, 3], 2) as tf.Tensor4D, 1, 'valid', 'NHWC', 2), 1e-4, sumAtol(6));
    expectSameOnBothBackends(() => convAndGrads((x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 2, 'same'), [2, 5, 4, 6], [1, 1, 6, 3]), 1e-4, sumAtol(20, 3));
    expectSameOnBothBackends(() => tf.conv2d(rand([1, 6, 5, 4], 1) as tf.Tensor4D, rand([1, 1, 6, 3], 2) as tf.Tensor4D, 1, 'valid', 'NCHW'), 1e-4, sumAtol(6));
  });
  it('depthwise, with multiplier 2, and its gradients', () => {
    expectSameOnBothBackends(
      () => convAndGrads((x, f) => tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'), [2, 6, 5, 3], [3, 3, 3, 2]),
      1e-4,
      sumAtol(100, 3),
    );
  });
  it('conv2dTranspose (the backprop-input kernel as an op)', () => {
    expectSameOnBothBackends(() => tf.conv2dTranspose(rand([1, 4, 4, 5], 1) as tf.Tensor4D, rand([3, 3, 2, 5], 2) as tf.Tensor4D, [1, 8, 8, 2], 2, 'same'), 1e-4, sumAtol(45));
  });
});

describe.skipIf(!torchAvailable())('pooling on torch (forward; padded cells left out of averages)', () => {
  it('maxPool / avgPool 2-D: same (unequal padding), valid, strides', () => {
    for (const pad of ['same', 'valid'] as const) {
      for (const [k, s] of [[2, 2], [3, 1], [3, 2]] as const) {
        expectSameOnBothBackends(() => [tf.maxPool(rand([2, 7, 6, 3], 1) as tf.Tensor4D, k, s, pad), tf.avgPool(rand([2, 7, 6, 3], 1) as tf.Tensor4D, k, s, pad)], 1e-6, 1e-6, `${pad} k${k} s${s}`);
      }
    }
  });
  it('maxPool3d / avgPool3d: same and valid', () => {
    for (const pad of ['same', 'valid'] as const) {
      expectSameOnBothBackends(() => [
        tf.maxPool3d(rand([1, 5, 6, 7, 2], 2) as tf.Tensor5D, [2, 3, 3], [1, 2, 2], pad),
        tf.avgPool3d(rand([1, 5, 6, 7, 2], 2) as tf.Tensor5D, [2, 3, 3], [1, 2, 2], pad),
      ], 1e-6, 1e-6, pad);
    }
  });
});

describe.skipIf(!torchAvailable())('OpensoraConv3d on torch (padding and bias inside the convolution)', () => {
  const cases: { what: string; k: [number, number, number]; strides: [number, number, number]; pads: Conv3dPads; bias: boolean }[] = [
    { what: 'causal 3x3x3 with bias', k: [3, 3, 3], strides: [1, 1, 1], pads: [[2, 0], [1, 1], [1, 1]], bias: true },
    { what: 'strided, asymmetric spatial padding, no bias', k: [3, 3, 3], strides: [1, 2, 2], pads: [[2, 0], [0, 1], [0, 1]], bias: false },
    { what: '1x1x1 with bias (a matrix product)', k: [1, 1, 1], strides: [1, 1, 1], pads: [[0, 0], [0, 0], [0, 0]], bias: true },
  ];
  for (const c of cases) {
    it(`${c.what}: the composite's values (pad, conv3d, add)`, () => {
      const inputs = () => ({ x: rand([2, 4, 6, 5, 3], 1) as tf.Tensor5D, f: rand([...c.k, 3, 4], 2, 0.5) as tf.Tensor5D, b: c.bias ? rand([4], 3) : null });
      const fused = runOn('torch', () => {
        const { x, f, b } = inputs();
        const ins: tf.NamedTensorMap = { x, filter: f };
        if (b) ins.bias = b;
        expect(tf.getKernel('OpensoraConv3d', 'torch')).toBeDefined();
        return tf.engine().runKernel('OpensoraConv3d', ins, { strides: c.strides, pads: c.pads.flat(), hasBias: b ? 1 : 0 } as unknown as tf.NamedAttrMap) as tf.Tensor;
      });
      const ref = runOn('cpu', () => {
        const { x, f, b } = inputs();
        return conv3dPaddedComposite(x, f, b, c.strides, c.pads);
      });
      expect(fused[0]!.shape).toEqual(ref[0]!.shape);
      expectClose(fused[0]!.values, ref[0]!.values, 1e-4, 1e-5);
    });
  }
});

const onCpuFp32 = (process.env.OPENSORA_DEVICE || 'cpu') === 'cpu' && (process.env.OPENSORA_PRECISION || 'fp32') === 'fp32';

// The child process runs TypeScript through tsx: absent where these tests run bundled (tools/device's gpu-check).
const tsx = (() => {
  try {
    return require.resolve('tsx');
  } catch {
    return null;
  }
})();

describe.skipIf(!torchAvailable() || !onCpuFp32 || tsx == null)('Conv3D on torch: small 3-D convs go to oneDNN', () => {
  it("32 -> 64 at 17x32x32 runs as a oneDNN convolution (ATen's own rule sends it to its single-thread Slow3d)", () => {
    // ATen picks oneDNN for a 3-D conv only when N*C*D*H of the input is large enough (W is left out), so
    // the VAE's small convs ran its im2col path, 3-7x slower. oneDNN's verbose log names every primitive
    // it runs: the conv must be one of them. A child process, because oneDNN reads the variable once.
    const register = fileURLToPath(new URL('../register.ts', import.meta.url));
    const script = `import * as tf from '@tensorflow/tfjs'; import { registerTorchBackend } from ${JSON.stringify(register)};
      registerTorchBackend(); await tf.setBackend('torch');
      const x = tf.ones([1, 17, 32, 32, 32]); const f = tf.ones([3, 3, 3, 32, 64]);
      process.stderr.write('conv start\\n');
      tf.conv3d(x, f, 1, 'same').dataSync();`;
    const r = spawnSync(process.execPath, ['--import', tsx!, '--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, ONEDNN_VERBOSE: '1', DNNL_VERBOSE: '1' },
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    expect(r.status, r.stderr).toBe(0);
    const convs = r.stdout.split('\n').filter((l) => /^onednn_verbose,(v\d+,)?(primitive,)?exec,cpu,convolution,/.test(l));
    expect(convs.length, `oneDNN's log:\n${r.stdout.slice(0, 2000)}`).toBe(1);
  });
});
