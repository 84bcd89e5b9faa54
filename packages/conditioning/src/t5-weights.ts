// Where T5 weights come from: a checkpoint on disk as Hugging Face publishes it (model.safetensors
// or pytorch_model.bin, one file or shards behind an index.json; F32, F16 or BF16), read tensor by
// tensor and upcast to float32, or tensors held in memory.
import { openCheckpoint, type CheckpointReader, type HostTensor } from '@opensora-ts/kernels';

export interface WeightSource {
  has(key: string): boolean;
  /** The tensor as float32 host data; throws naming the key when absent. */
  read(key: string): HostTensor;
  /** The tensor's shape, without reading it; throws naming the key when absent. */
  shape(key: string): number[];
  /** Several tensors as read() gives them, read in a worker thread where the source can (optional). */
  readInBackground?(keys: readonly string[]): Promise<HostTensor[]>;
  readonly description: string;
  close(): void;
}

/**
 * Weights of a local checkpoint: a .safetensors or .bin file, an index.json, or a folder holding
 * model.safetensors[.index.json] or pytorch_model.bin[.index.json]. .bin files are read by kernels'
 * restricted unpickler, which runs no code.
 */
export class CheckpointWeights implements WeightSource {
  private readonly checkpoint: CheckpointReader;
  readonly description: string;

  constructor(path: string) {
    this.description = path;
    this.checkpoint = openCheckpoint(path);
  }
  has(key: string): boolean {
    return this.checkpoint.has(key);
  }
  read(key: string): HostTensor {
    if (!this.checkpoint.has(key)) throw new Error(`${this.description}: missing tensor '${key}'; is this a T5 v1.1 encoder checkpoint (keys 'shared.weight', 'encoder.block.N...')?`);
    return this.checkpoint.read(key);
  }
  readInBackground(keys: readonly string[]): Promise<HostTensor[]> {
    const missing = keys.find((k) => !this.checkpoint.has(k));
    if (missing !== undefined) return Promise.reject(new Error(`${this.description}: missing tensor '${missing}'.`));
    return this.checkpoint.readInBackground(keys);
  }
  shape(key: string): number[] {
    if (!this.checkpoint.has(key)) throw new Error(`${this.description}: missing tensor '${key}'.`);
    return [...this.checkpoint.info(key).shape];
  }
  close(): void {
    this.checkpoint.close();
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
  shape(key: string): number[] {
    return [...this.read(key).shape];
  }
  close(): void {}
}
