import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { loadAddon } from './addon.js';
import { TorchBackend } from './backend.js';
import { registerTorchBackend, torchBackendInfo } from './register.js';
import { expectClose, expectSameOnBothBackends, rand, torchAvailable } from './testing.js';

const require = createRequire(import.meta.url);

function onTorch<T>(fn: () => T): T {
  const prev = tf.getBackend();
  tf.setBackend('torch');
  try {
    return fn();
  } finally {
    tf.setBackend(prev);
  }
}

/** The addon's own counts, after the releases the backend defers to its next call. */
const torchMemory = () => {
  (tf.findBackend('torch') as TorchBackend).flushReleases();
  return loadAddon().memory();
};

describe.skipIf(!torchAvailable())('registerTorchBackend', () => {
  it('registers an ATen kernel or a host round trip for every cpu kernel, and is idempotent', () => {
    const info = registerTorchBackend();
    expect(info.kernels.length).toBeGreaterThan(100);
    expect(registerTorchBackend().kernels).toEqual(info.kernels);
    for (const k of tf.getKernelsForBackend('cpu')) expect(tf.getKernel(k.kernelName, 'torch'), k.kernelName).toBeDefined();
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('refuses a device it cannot use, naming it', () => {
    expect(() => registerTorchBackend({ device: 'tpu' })).toThrow(/'tpu': expected cpu, cuda or cuda:N/);
    if (!loadAddon().info().cuda) expect(() => registerTorchBackend({ device: 'cuda' })).toThrow(/device 'cuda': this libtorch .* has no usable CUDA/);
    expect(registerTorchBackend({ device: 'cpu' }).device).toBe('cpu');
  });

  it('sets the thread count', () => {
    expect(registerTorchBackend({ threads: 1 }).threads).toBe(1);
    expect(() => registerTorchBackend({ threads: 0 })).toThrow(/positive integer/);
  });
});

describe.skipIf(!torchAvailable())('TorchBackend storage', () => {
  it('uploads lazily, and frees libtorch storage when the last tensor sharing it is disposed', () => {
    onTorch(() => {
      const before = torchMemory();
      const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
      expect(torchMemory().tensors).toBe(before.tensors); // written, not uploaded
      const y = tf.exp(x); // uploads x, makes y
      expect(torchMemory().tensors).toBe(before.tensors + 2);
      const r = y.reshape([3, 2]); // shares y's storage
      expect(torchMemory().tensors).toBe(before.tensors + 2);
      y.dispose();
      expectClose(r.dataSync(), [1, 2, 3, 4, 5, 6].map(Math.exp), 1e-6, 0);
      expect(r.shape).toEqual([3, 2]);
      tf.dispose([x, r]);
      const after = torchMemory();
      expect(after.tensors).toBe(before.tensors);
      expect(after.bytes).toBe(before.bytes);
    });
  });

  it('reports libtorch bytes and device in tf.memory()', () => {
    onTorch(() => {
      const x = tf.tidy(() => tf.add(tf.ones([256, 256]), 1));
      const m = tf.memory() as tf.MemoryInfo & { numBytesInTorch: number; device: string };
      expect(m.numBytesInTorch).toBeGreaterThanOrEqual(256 * 256 * 4);
      expect(m.device).toBe('cpu');
      x.dispose();
      expect((tf.memory() as unknown as { numBytesInTorch: number }).numBytesInTorch).toBe(m.numBytesInTorch - 256 * 256 * 4);
    });
  });

  it('keeps float32, int32 and bool values exact across the boundary', () => {
    onTorch(() => {
      const f = tf.tensor1d([1.5, -2.25, 3e-8, 1e30]);
      const i = tf.tensor1d([1, -2, 2147483647], 'int32');
      const b = tf.tensor1d([true, false, true], 'bool');
      const [f2, i2, b2] = [tf.neg(tf.neg(f)), tf.neg(tf.neg(i)), tf.logicalNot(tf.logicalNot(b))];
      expect(Array.from(f2.dataSync())).toEqual(Array.from(f.dataSync()));
      expect(i2.dtype).toBe('int32');
      expect(Array.from(i2.dataSync())).toEqual([1, -2, 2147483647]);
      expect(b2.dtype).toBe('bool');
      expect(Array.from(b2.dataSync())).toEqual([1, 0, 1]);
      tf.dispose([f, i, b, f2, i2, b2]);
    });
  });

  it('runs string tensors and kernels without an ATen version through the host, counted by name', () => {
    onTorch(() => {
      const before = torchBackendInfo()!.fallbacks.TopK ?? 0;
      const { values, indices } = tf.topk(tf.tensor1d([3, 1, 4, 1, 5]), 2);
      expect(Array.from(values.dataSync())).toEqual([5, 4]);
      expect(Array.from(indices.dataSync())).toEqual([4, 2]);
      expect(torchBackendInfo()!.fallbacks.TopK).toBe(before + 1);
      const s = tf.tensor1d(['a', 'b']);
      expect(tf.slice(s, [1], [1]).dataSync()).toEqual(['b']);
      tf.dispose([values, indices, s]);
    });
  });

  it('memory stays flat over 100 training steps (tensor count and libtorch bytes)', () => {
    onTorch(() => {
      const w = tf.variable(rand([16, 8], 1, 0.3));
      const f = rand([2, 5, 6, 6, 3], 2);
      const k = tf.variable(rand([3, 3, 3, 3, 4], 3, 0.2));
      const opt = tf.train.adam(1e-2);
      const step = () =>
        opt.minimize(() => {
          const y = tf.conv3d(f as tf.Tensor5D, k as tf.Tensor5D, 1, 'same');
          const z = tf.matMul(tf.reshape(y, [-1, 4]), tf.slice(w, [0, 0], [4, 8]));
          return tf.mean(tf.square(tf.sigmoid(z)));
        }, false);
      step();
      step();
      const t0 = tf.memory().numTensors;
      const m0 = torchMemory();
      for (let i = 0; i < 100; i++) step();
      expect(tf.memory().numTensors).toBe(t0);
      expect(torchMemory().tensors).toBe(m0.tensors);
      expect(torchMemory().bytes).toBe(m0.bytes);
      tf.dispose([w, f, k]);
      opt.dispose();
    });
  });

  it('runs kernels through the shared buffers and releases disposed tensors with the next call', () => {
    onTorch(() => {
      const addon = loadAddon();
      expect(typeof addon.exec).toBe('function'); // this source's addon has the fast path
      const before = torchMemory().tensors;
      const a = tf.tensor1d([1, 2, 3]);
      const x = tf.exp(a); // a's upload and the result
      expect(addon.memory().tensors).toBe(before + 2);
      tf.dispose([a, x]);
      expect(addon.memory().tensors).toBe(before + 2); // their release waits for the next call
      const ones = tf.ones([2]);
      const y = tf.neg(ones); // releases a and x, then uploads ones and makes y
      expect(addon.memory().tensors).toBe(before + 2);
      tf.dispose([ones, y]);
      expect(torchMemory().tensors).toBe(before); // tf.memory() / flushReleases release what waits
    });
  });

  it('op lists longer than the shared buffer, both ways (inputs grow it, outputs come back as an array)', () => {
    expectSameOnBothBackends(() => {
      const many = Array.from({ length: 400 }, (_, i) => tf.fill([1, 2], i)); // 400 inputs of 4 words each
      const pieces = tf.unstack(rand([700, 2], 1)); // 700 outputs of 4 words each
      return [tf.concat(many, 0), tf.stack(pieces.slice(0, 5)), pieces[699]!];
    }, 0, 0);
  });

  it('disposing the backend releases what it still holds', () => {
    const addon = loadAddon();
    const be = new TorchBackend(addon);
    be.flushReleases(); // releases other backends on this addon deferred
    const before = addon.memory().tensors;
    const t = be.makeTensorInfo([3], 'float32', new Float32Array([1, 2, 3]));
    be.run1('Exp', [t]);
    expect(addon.memory().tensors).toBe(before + 2);
    be.dispose();
    expect(addon.memory().tensors).toBe(before);
  });
});

describe.skipIf(!torchAvailable())('OPENSORA_DEBUG_FALLBACK', () => {
  it('prints each kernel that falls back once, by name', () => {
    const register = fileURLToPath(new URL('./register.ts', import.meta.url));
    const script = `import * as tf from '@tensorflow/tfjs'; import { registerTorchBackend } from ${JSON.stringify(register)};
      registerTorchBackend(); await tf.setBackend('torch');
      for (let i = 0; i < 3; i++) tf.topk(tf.tensor1d([1, 2, 3]), 1).values.dataSync();`;
    const r = spawnSync(process.execPath, ['--import', require.resolve('tsx'), '--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, OPENSORA_DEBUG_FALLBACK: '1' },
      cwd: fileURLToPath(new URL('..', import.meta.url)),
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.includes('torch backend:'))).toEqual(['opensora-ts: torch backend: TopK ran on the host (cpu kernel round trip)']);
  });
});
