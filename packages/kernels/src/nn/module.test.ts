import { describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { Module, ModuleList, StateDictError, withShapesOnly } from './module.js';
import { Linear } from './linear.js';
import { Conv3d } from './conv.js';
import { LayerNorm } from './norms.js';

class Block extends Module {
  readonly qkv = this.registerModule('qkv', new Linear(4, 12));
  readonly norm = this.registerModule('norm', new LayerNorm(4, { affine: false }));
}
class Net extends Module {
  readonly blocks = this.registerModule('blocks', new ModuleList([new Block(), new Block()]));
  readonly conv = this.registerModule('conv', new Conv3d(2, 3, 3));
}

describe('Module', () => {
  it('names state-dict keys as PyTorch does, in PyTorch layout', () => {
    const net = new Net();
    const shapes = net.stateDictShapes();
    expect([...shapes.keys()]).toEqual(['blocks.0.qkv.weight', 'blocks.0.qkv.bias', 'blocks.1.qkv.weight', 'blocks.1.qkv.bias', 'conv.weight', 'conv.bias']);
    expect(shapes.get('conv.weight')).toEqual([3, 2, 3, 3, 3]);
    expect(net.parameterCount()).toBe(2 * (48 + 12) + 162 + 3);
    const sd = net.stateDict();
    expect(sd.get('conv.weight')!.shape).toEqual([3, 2, 3, 3, 3]);
    tf.dispose([...sd.values()]);
    net.dispose();
  });

  it('loads a state dict and converts conv layout once', () => {
    const a = new Net();
    const b = new Net();
    const sd = a.stateDict();
    b.loadStateDict(sd);
    const x = tf.randomNormal([1, 4, 5, 5, 2]) as tf.Tensor5D;
    const ya = a.conv.forward(x);
    const yb = b.conv.forward(x);
    expect(tf.max(tf.abs(tf.sub(ya, yb))).dataSync()[0]).toBe(0);
    tf.dispose([x, ya, yb, ...sd.values()]);
  });

  it('lists every missing, unexpected and misshaped key', () => {
    const net = new Net();
    const sd = net.stateDict();
    sd.delete('conv.bias');
    sd.set('blocks.0.qkv.weight', tf.zeros([12, 5]));
    sd.set('extra.weight', tf.zeros([1]));
    let err: unknown;
    try {
      net.loadStateDict(sd, { source: 'w.safetensors' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateDictError);
    const msg = (err as Error).message;
    expect(msg).toContain("w.safetensors: 1 missing, 1 unexpected, 1 misshaped");
    expect(msg).toContain("missing key 'conv.bias' (expected [3])");
    expect(msg).toContain("key 'blocks.0.qkv.weight' has shape [12,5], expected [12,4]");
    expect(msg).toContain("unexpected key 'extra.weight'");
    const report = net.loadStateDict(sd, { strict: false });
    expect(report.loaded).toBe(4);
  });

  it('counts parameters without allocating under withShapesOnly', () => {
    const before = tf.memory().numTensors;
    const big = withShapesOnly(() => new Linear(4096, 4096));
    expect(big.parameterCount()).toBe(4096 * 4096 + 4096);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('freezes parameters and switches train/eval mode', () => {
    const net = new Net();
    expect(net.trainableVariables().length).toBe(6);
    net.blocks.freeze();
    expect(net.trainableVariables().length).toBe(2);
    const [, convWeight] = [...net.namedParameters()].find(([n]) => n === 'conv.weight')!;
    convWeight.setTrainable(false);
    expect(convWeight.value.trainable).toBe(false);
    expect(net.trainableVariables().length).toBe(1);
    net.train();
    expect(net.blocks.at(1).norm.training).toBe(true);
    net.eval();
    expect(net.conv.training).toBe(false);
  });
});

describe('Module memory', () => {
  it('leaves no tensor behind after construction, load and dispose', () => {
    const before = tf.memory().numTensors;
    const a = new Net();
    const sd = a.stateDict();
    a.loadStateDict(sd);
    tf.dispose([...sd.values()]);
    a.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
