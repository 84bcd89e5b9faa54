// The kernels the project dispatches, measured with a spy on tf.engine().runKernel while the
// parity cases (STDiT3 t2v/i2v/odd/xmask, VAE encode/decode/posterior, rectified-flow
// sample/loss, T5 encoder) and the DiT and VAE training end-to-end tests ran on the cpu
// backend (forward and backward, AdamW, EMA, grad clipping). Each must run as ATen calls on
// torch: none may reach the host round trip. A new kernel in the models shows up as a
// fallback (OPENSORA_DEBUG_FALLBACK=1 names it); add it here once it has an ATen version.
import { describe, expect, it } from 'vitest';
import { registerTorchBackend } from './register.js';
import { torchAvailable } from './testing.js';

const CENSUS = [
  'Abs', 'Add', 'AddN', 'BatchMatMul', 'Cast', 'ClipByValue', 'Concat', 'Conv2D', 'Conv2DBackpropFilter',
  'Conv2DBackpropInput', 'Conv3D', 'Conv3DBackpropFilterV2', 'Conv3DBackpropInputV2', 'Cos', 'Exp', 'ExpandDims',
  'Fill', 'GatherV2', 'Greater', 'GreaterEqual', 'Identity', 'LeakyRelu', 'LessEqual', 'LogicalAnd', 'Mean',
  'Multiply', 'Neg', 'OpensoraAttention', 'OpensoraAttentionGrad', 'OpensoraGeluTanh', 'OpensoraGeluTanhGrad',
  'OpensoraGroupNorm', 'OpensoraGroupNormGrad', 'OpensoraLayerNorm', 'OpensoraLayerNormGrad', 'OpensoraRMSNorm',
  'OpensoraRMSNormGrad', 'Pack', 'PadV2', 'Pow', 'RealDiv', 'Relu', 'Reshape', 'Rsqrt', 'Select', 'Sigmoid', 'Sin',
  'Slice', 'Softmax', 'SplitV', 'Sqrt', 'Square', 'Step', 'Sub', 'Sum', 'Tanh', 'Tile', 'Transpose', 'Unpack',
  'UnsortedSegmentSum', 'ZerosLike', '_FusedMatMul',
];

describe.skipIf(!torchAvailable())('kernel census', () => {
  it('every kernel the models and training dispatch runs in libtorch', () => {
    const aten = new Set(registerTorchBackend().kernels);
    expect(CENSUS.filter((k) => !aten.has(k))).toEqual([]);
  });
});
