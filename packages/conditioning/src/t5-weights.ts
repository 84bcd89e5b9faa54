// Where T5 weights come from: a checkpoint on disk (one file or shards behind
// model.safetensors.index.json), read tensor by tensor, or tensors held in memory.
import { SafetensorsFile, checkpointFiles, type HostTensor } from '@opensora-ts/kernels';

export interface WeightSource {
  has(key: string): boolean;
  /** The tensor as float32 host data; throws naming the key when absent. */
  read(key: string): HostTensor;
  readonly description: string;
  close(): void;
}

/** Weights of a local checkpoint: a .safetensors file, an index.json, or a folder holding either. */
export class CheckpointWeights implements WeightSource {
  private readonly files: SafetensorsFile[] = [];
  private readonly byKey = new Map<string, SafetensorsFile>();
  readonly description: string;

  constructor(path: string) {
    this.description = path;
    for (const f of checkpointFiles(path)) {
      const file = new SafetensorsFile(f);
      this.files.push(file);
      for (const k of file.keys()) this.byKey.set(k, file);
    }
  }
  has(key: string): boolean {
    return this.byKey.has(key);
  }
  read(key: string): HostTensor {
    const f = this.byKey.get(key);
    if (!f) throw new Error(`${this.description}: missing tensor '${key}'; is this a T5 v1.1 encoder checkpoint (keys 'shared.weight', 'encoder.block.N...')?`);
    return f.read(key);
  }
  close(): void {
    for (const f of this.files) f.close();
  }
}

/** Weights held in memory (tests, the built-in demo encoder). */
export class MemoryWeights implements WeightSource {
  readonly description: string;
  constructor(
    private readonly tensors: Map<string, HostTensor>,
    description = 'in-memory weights',
  ) {
    this.description = description;
  }
  has(key: string): boolean {
    return this.tensors.has(key);
  }
  read(key: string): HostTensor {
    const t = this.tensors.get(key);
    if (!t) throw new Error(`${this.description}: missing tensor '${key}'.`);
    return t;
  }
  close(): void {}
}
