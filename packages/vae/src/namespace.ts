// A parameter-free container, the reference's bare `nn.Module()` used to group children
// (`down.0.block`, `mid.attn_1`), so state-dict keys come out exactly as PyTorch names them.
import { Module } from '@opensora-ts/kernels';

export class Namespace extends Module {
  add<M extends Module>(name: string, module: M): M {
    return this.registerModule(name, module);
  }
}
