// `pnpm bench t5`: one 300-token prompt through a T5 v1.1 encoder read from a folder as published
// (bf16 safetensors shards + index), on our backends (layer by layer, as the apps load T5-XXL) and
// on Hugging Face transformers (the reference's T5 path: from_pretrained in fp32, then the
// encoder) in the same run. Each side is one process, timed from opening the folder to the
// last hidden state on the host, with its peak RSS. Random weights are written once per run.
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tf, writeSafetensors } from '@opensora-ts/kernels';
import { T5Encoder, buildUnigramTokenizerJson } from '@opensora-ts/conditioning';
import { useBackend } from '../backends.js';
import type { SuiteOptions } from '../cli.js';
import { runIsolated } from '../isolated.js';
import { peakRssMb, resetPeakRss, rssMb } from '../memory.js';
import { py, scratchDir, writeTensors } from '../model-harness.js';
import { formatCaseTable, makeCaseRow, REFERENCE_BACKEND, withCaseTorchRatios, type CaseRow } from '../report.js';
import { runTorch } from '../torch.js';

const SUITE = 't5';
const TOKENS = 300;

interface T5Shape {
  vocab_size: number;
  d_model: number;
  d_kv: number;
  num_heads: number;
  d_ff: number;
  num_layers: number;
  /** Shards the weights are split into (published T5-XXL folders come in several). */
  shards: number;
}

/** DeepFloyd/t5-v1_1-xxl (the reference's encoder) and, for a quick run, google/t5-v1_1-base. */
export const SHAPES: Record<string, T5Shape> = {
  base: { vocab_size: 32128, d_model: 768, d_kv: 64, num_heads: 12, d_ff: 2048, num_layers: 12, shards: 2 },
  xxl: { vocab_size: 32128, d_model: 4096, d_kv: 64, num_heads: 64, d_ff: 10240, num_layers: 24, shards: 4 },
};

/** The encoder's state-dict entries in file order, with the scale of their random values. */
function entries(s: T5Shape): { key: string; shape: number[]; scale: number }[] {
  const inner = s.num_heads * s.d_kv;
  const out = [{ key: 'shared.weight', shape: [s.vocab_size, s.d_model], scale: 1 }];
  for (let i = 0; i < s.num_layers; i++) {
    const p = `encoder.block.${i}.layer`;
    for (const m of ['q', 'k', 'v']) out.push({ key: `${p}.0.SelfAttention.${m}.weight`, shape: [inner, s.d_model], scale: 1 / Math.sqrt(s.d_model) });
    out.push({ key: `${p}.0.SelfAttention.o.weight`, shape: [s.d_model, inner], scale: 1 / Math.sqrt(inner) });
    if (i === 0) out.push({ key: `${p}.0.SelfAttention.relative_attention_bias.weight`, shape: [32, s.num_heads], scale: 0.1 });
    out.push({ key: `${p}.0.layer_norm.weight`, shape: [s.d_model], scale: 1 });
    for (const m of ['wi_0', 'wi_1']) out.push({ key: `${p}.1.DenseReluDense.${m}.weight`, shape: [s.d_ff, s.d_model], scale: 1 / Math.sqrt(s.d_model) });
    out.push({ key: `${p}.1.DenseReluDense.wo.weight`, shape: [s.d_model, s.d_ff], scale: 1 / Math.sqrt(s.d_ff) });
    out.push({ key: `${p}.1.layer_norm.weight`, shape: [s.d_model], scale: 1 });
  }
  out.push({ key: 'encoder.final_layer_norm.weight', shape: [s.d_model], scale: 1 });
  return out;
}

/** A pool of random bf16 values in [-scale, scale) (norm weights: around 1); tensors take windows of it. */
function bf16Pool(scale: number, norm: boolean, seed: number, n = 1 << 22): Uint16Array {
  const f = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const u = (x >>> 0) / 2 ** 32;
    f[i] = norm ? 0.8 + 0.4 * u : (2 * u - 1) * scale;
  }
  const u32 = new Uint32Array(f.buffer);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = u32[i]! >>> 16;
  return out;
}

/**
 * Writes the encoder as bf16 safetensors shards + model.safetensors.index.json, streaming each
 * tensor in windows of a random pool (the weights are ~9.5 GB for T5-XXL; nothing holds them whole).
 */
function writeBf16Folder(dir: string, s: T5Shape): number {
  const all = entries(s);
  const total = all.reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1) * 2, 0);
  const pools = new Map<number, Uint16Array>();
  const poolOf = (e: { key: string; scale: number }) => {
    const norm = e.key.endsWith('layer_norm.weight');
    const id = norm ? -1 : e.scale;
    if (!pools.has(id)) pools.set(id, bf16Pool(e.scale, norm, pools.size + 7));
    return pools.get(id)!;
  };
  const weightMap: Record<string, string> = {};
  const perShard = Math.ceil(total / s.shards);
  let start = 0;
  let offset = 0;
  for (let shard = 1; start < all.length; shard++) {
    const group: typeof all = [];
    let bytes = 0;
    while (start < all.length && (bytes < perShard || group.length === 0)) {
      const e = all[start++]!;
      group.push(e);
      bytes += e.shape.reduce((x, y) => x * y, 1) * 2;
    }
    const name = `model-${String(shard).padStart(5, '0')}-of-${String(s.shards).padStart(5, '0')}.safetensors`;
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let at = 0;
    for (const e of group) {
      const n = e.shape.reduce((x, y) => x * y, 1) * 2;
      header[e.key] = { dtype: 'BF16', shape: e.shape, data_offsets: [at, at + n] };
      at += n;
      weightMap[e.key] = name;
    }
    const raw = Buffer.from(JSON.stringify(header));
    const padded = Buffer.concat([raw, Buffer.alloc((8 - (raw.length % 8)) % 8, 0x20)]);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(padded.length));
    const fd = openSync(join(dir, name), 'w');
    try {
      writeSync(fd, len);
      writeSync(fd, padded);
      for (const e of group) {
        const pool = poolOf(e);
        let left = e.shape.reduce((x, y) => x * y, 1);
        while (left > 0) {
          const from = (offset = (offset + 9973) % pool.length);
          const take = Math.min(left, pool.length - from);
          writeSync(fd, pool.subarray(from, from + take));
          left -= take;
        }
      }
    } finally {
      closeSync(fd);
    }
  }
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 1));
  return total;
}

type Job = { kind: 'prepare'; dir: string; shape: string } | { kind: 'encode'; dir: string; backend: string; threads: number };

interface EncodeResult {
  ms: number;
  peak_rss_mb: number;
  rss_before_mb: number;
}

export async function childJob(job: Job): Promise<unknown> {
  if (job.kind === 'prepare') {
    const s = SHAPES[job.shape]!;
    mkdirSync(job.dir, { recursive: true });
    const { shards: _, ...config } = s;
    writeFileSync(join(job.dir, 'config.json'), JSON.stringify({ model_type: 't5', architectures: ['T5EncoderModel'], feed_forward_proj: 'gated-gelu', layer_norm_epsilon: 1e-6, relative_attention_num_buckets: 32, relative_attention_max_distance: 128, tie_word_embeddings: false, ...config }, null, 1));
    // A tokenizer so that the folder loads as a whole; the bench feeds token ids directly.
    writeFileSync(join(job.dir, 'tokenizer.json'), JSON.stringify(buildUnigramTokenizerJson(['a', 'red', 'circle'])));
    const bytes = writeBf16Folder(job.dir, s);
    // One prompt of TOKENS random ids, every position attended.
    let x = 12345;
    const ids = BigInt64Array.from({ length: TOKENS }, () => ((x = (x * 1103515245 + 12345) >>> 0), BigInt(3 + (x % (s.vocab_size - 103)))));
    writeSafetensors(join(job.dir, 'inputs.safetensors'), { input_ids: { shape: [1, TOKENS], data: ids }, attention_mask: { shape: [1, TOKENS], data: new BigInt64Array(TOKENS).fill(1n) } });
    return { bytes };
  }
  const started = await useBackend(job.backend, job.threads);
  if (!started.ok) throw new Error(`backend ${job.backend}: ${started.reason}`);
  const { readSafetensors } = await import('@opensora-ts/kernels');
  const inputs = readSafetensors(join(job.dir, 'inputs.safetensors'));
  const rss_before_mb = rssMb();
  resetPeakRss();
  const t0 = performance.now();
  const encoder = T5Encoder.fromFolder(job.dir, { layerByLayer: true, maxLength: TOKENS });
  const ids = tf.tensor2d(inputs.get('input_ids')!.data as Int32Array, [1, TOKENS], 'int32');
  const mask = tf.tensor2d(inputs.get('attention_mask')!.data as Int32Array, [1, TOKENS], 'int32');
  // As encode() runs it: block i + 1 read in a worker while block i computes.
  const out = await encoder.forwardAsync(ids, mask);
  out.dataSync();
  const ms = performance.now() - t0;
  const peak_rss_mb = peakRssMb();
  writeTensors(join(job.dir, `ours.${job.backend}.safetensors`), new Map([['last_hidden_state', out]]));
  tf.dispose([ids, mask, out]);
  encoder.dispose();
  return { ms, peak_rss_mb, rss_before_mb } satisfies EncodeResult;
}

/** OPENSORA_PYTHON when it has torch >= 2.5 and transformers (Debian's torch 1.13 cannot run transformers 5). */
function transformersPython(): { python: string; versions: string } | { python: null; reason: string } {
  const python = process.env.OPENSORA_PYTHON;
  if (!python) return { python: null, reason: 'set OPENSORA_PYTHON to a python with torch >= 2.5 and transformers for the Hugging Face comparison' };
  const r = spawnSync(python, ['-c', 'import torch, transformers; v = torch.__version__.split("+")[0].split("."); assert (int(v[0]), int(v[1])) >= (2, 5), torch.__version__; print(f"torch {torch.__version__}, transformers {transformers.__version__}")'], { encoding: 'utf8' });
  if (r.status !== 0) return { python: null, reason: `OPENSORA_PYTHON=${python} cannot run transformers (needs torch >= 2.5 and transformers): ${(r.stderr || '').trim().split('\n').pop()}` };
  return { python, versions: r.stdout.trim() };
}

function transformersCase(dir: string, backend: string | null): string {
  const ours = backend ? join(dir, `ours.${backend}.safetensors`) : null;
  return `
import safetensors.torch as st
from transformers import T5EncoderModel
_inp = st.load_file(${py(join(dir, 'inputs.safetensors'))})
_out = {}
def step():
    # As the reference's T5Encoder: from_pretrained in float32, eval, no_grad.
    m = T5EncoderModel.from_pretrained(${py(dir)}, torch_dtype=torch.float32).eval()
    with torch.no_grad():
        _out["h"] = m(input_ids=_inp["input_ids"], attention_mask=_inp["attention_mask"]).last_hidden_state
    del m
${
  ours
    ? `def check():
    o = st.load_file(${py(ours)})["last_hidden_state"]
    h = _out["h"]
    return {"rel_l2": float((o - h).norm() / h.norm()), "label": "last_hidden_state"}`
    : ''
}
`;
}

export async function run(o: SuiteOptions): Promise<CaseRow[]> {
  const names = Object.keys(SHAPES);
  const unknown = o.ops.filter((n) => !names.includes(n));
  if (unknown.length) throw new Error(`unknown case(s) ${unknown.join(', ')}; expected some of ${names.join(', ')}`);
  const cases = o.ops.length ? o.ops : names;
  const backends = o.backends.filter((b) => b !== 'cpu');
  if (backends.length < o.backends.length) o.log('skipping the pure-JS cpu backend (a T5 encoder there takes hours)');
  const hf = o.torch ? transformersPython() : null;
  if (hf && hf.python === null) o.log(`skipping transformers: ${hf.reason}`);
  else if (hf) o.log(`transformers side: ${hf.versions} (${hf.python})`);
  const rows: CaseRow[] = [];
  for (const name of cases) {
    const { dir, cleanup } = scratchDir(`${SUITE}-${name}`);
    try {
      const t0 = performance.now();
      const { bytes } = runIsolated<{ bytes: number }>(SUITE, { kind: 'prepare', dir, shape: name } satisfies Job);
      o.log(`${name}: wrote ${(bytes / 2 ** 30).toFixed(2)} GiB of bf16 weights to ${dir} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      const caseName = `${name}.${TOKENS}tok`;
      let checked: string | null = null;
      for (const backend of backends) {
        try {
          const m = runIsolated<EncodeResult>(SUITE, { kind: 'encode', dir, backend, threads: o.threads } satisfies Job);
          rows.push(makeCaseRow(SUITE, caseName, backend, o.threads, m.ms, m.peak_rss_mb, `layer by layer from bf16 shards; rss at start ${m.rss_before_mb.toFixed(0)}`));
          o.log(`${caseName} ${backend}: ${(m.ms / 1000).toFixed(1)} s, peak RSS ${m.peak_rss_mb.toFixed(0)} MiB`);
          checked ??= backend;
        } catch (err) {
          o.log(`skipping ${caseName} on ${backend}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      if (hf?.python) {
        try {
          const res = runTorch(hf.python, [{ op: caseName, setup: transformersCase(dir, checked) }], o.threads, { warmup: 0, minReps: 1, maxReps: 1, budgetMs: 0 });
          const info = res.info[caseName] as { rel_l2?: number } | undefined;
          const note = ['from_pretrained fp32 + forward', info?.rel_l2 !== undefined ? `ours vs this: rel L2 ${info.rel_l2.toExponential(1)}` : null].filter(Boolean).join('; ');
          rows.push(makeCaseRow(SUITE, caseName, REFERENCE_BACKEND, o.threads, res.ms[caseName]!, res.peak_rss_mb[caseName] ?? null, note));
          o.log(`${caseName} transformers: ${(res.ms[caseName]! / 1000).toFixed(1)} s, ${note}`);
        } catch (err) {
          o.log(`${caseName} transformers failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    } finally {
      cleanup();
    }
  }
  return withCaseTorchRatios(rows);
}

export const formatRows = formatCaseTable;
