// Import-time registration (a side effect, listed under "sideEffects" in package.json): the
// fused kernels for 'cpu', and for 'native' too when that backend was registered first (it
// normally registers later, at initRuntime, and then copies every cpu kernel itself).
import { tf } from '../tf.js';
import { registerFusedCpuKernels } from './cpu-kernels.js';
import { registerFusedGradients } from './gradients.js';
import { registerModulateGradients } from './modulate-gradients.js';

registerFusedCpuKernels('cpu');
if (tf.findBackendFactory('native') != null) registerFusedCpuKernels('native');
registerFusedGradients();
registerModulateGradients();
