// Parity runners for the reference fixtures of kind `vae` (encode/decode runs listed in
// case.json call.runs) and `vae_posterior`. Every parameter comes from case.json, so unseen
// cases of the same format run too.
import { initRuntime, tf, type HostTensor, type ParityCase, type ParityRunner, type ParityTensor } from '@opensora-ts/kernels';
import { ChunkedVideoCodec, type Recorder } from './chunked-codec.js';
import { parseVaeConfig } from './config.js';
import { normalizeLatent } from './latent-stats.js';
import { loadVaeWeights } from './load-weights.js';
import { DiagonalGaussian } from './posterior.js';
import { OpenSoraVAE } from './vae.js';

interface RunSpec {
  name: string;
  op: 'encode' | 'decode' | 'posterior';
  temporal_overlap?: boolean;
  micro_frame_size?: number | null;
  micro_batch_size?: number | null;
  sample_posterior?: boolean;
  record?: string[];
  record_boundary?: boolean;
}

const toTensor = (h: HostTensor) => tf.tensor(h.data as Float32Array, h.shape, 'float32');
const host = (t: tf.Tensor): ParityTensor => ({ shape: [...t.shape], data: t.dataSync() as Float32Array });

function input(c: ParityCase, name: string): HostTensor {
  const t = c.inputs.get(name);
  if (!t) throw new Error(`${c.dir}: inputs.safetensors has no '${name}'`);
  return t;
}

function runs(c: ParityCase): RunSpec[] {
  const r = (c.json.call?.runs ?? []) as RunSpec[];
  if (!Array.isArray(r) || r.length === 0) throw new Error(`${c.dir}: case.json has no call.runs`);
  return r;
}

async function runVae(c: ParityCase): Promise<{ tensors: Map<string, ParityTensor> }> {
  await initRuntime({ announce: false });
  const config = parseVaeConfig(c.json.config, `${c.dir}/case.json config`);
  const vae = new OpenSoraVAE(config);
  const out = new Map<string, ParityTensor>();
  try {
    if (c.weightsPath) {
      const prefix = c.json.weights_prefix ?? '';
      const only = prefix === 'encoder.' ? 'encoder' : prefix === 'decoder.' ? 'decoder' : undefined;
      if (prefix && !only) throw new Error(`${c.dir}: weights_prefix '${prefix}' not understood (expected 'encoder.', 'decoder.' or none)`);
      loadVaeWeights(vae, c.weightsPath, { only });
    }
    for (const run of runs(c)) {
      const codec = new ChunkedVideoCodec(vae, {
        ...(run.temporal_overlap !== undefined ? { temporal_overlap: run.temporal_overlap } : {}),
        ...(run.micro_frame_size !== undefined ? { micro_frame_size: run.micro_frame_size } : {}),
        ...(run.micro_batch_size !== undefined ? { micro_batch_size: run.micro_batch_size } : {}),
      });
      const put = (name: string, t: tf.Tensor) => out.set(`${run.name}.${name}`, host(t));
      // Keep what the fixture expects (every recorded tap is cheap at these sizes).
      const recorder: Recorder = (name, t) => {
        if (c.expected.has(`${run.name}.${name}`)) put(name, t);
      };
      if (run.op === 'encode') {
        const x = toTensor(input(c, `${run.name}.x`));
        const noiseHost = c.inputs.get(`${run.name}.noise`);
        const noise = noiseHost ? toTensor(noiseHost) : null;
        const r = codec.encodeWithPosterior(x as tf.Tensor5D, { noise, samplePosterior: run.sample_posterior ?? true, recorder });
        put('moments', r.moments);
        put('mean', r.mean);
        put('logvar', r.logvar);
        put('z', r.z);
        tf.dispose([x, noise as tf.Tensor, r.z, r.moments, r.mean, r.logvar].filter(Boolean));
      } else if (run.op === 'decode') {
        const z = toTensor(input(c, `${run.name}.z`));
        const video = codec.decode(z as tf.Tensor5D, { recorder });
        put('video', video);
        tf.dispose([z, video]);
      } else {
        throw new Error(`${c.dir}: run '${run.name}' has op '${run.op}'; kind 'vae' runs encode or decode`);
      }
    }
  } finally {
    vae.dispose();
  }
  return { tensors: out };
}

async function runPosterior(c: ParityCase): Promise<{ tensors: Map<string, ParityTensor> }> {
  await initRuntime({ announce: false });
  const normalization = ((c.json.config?.normalization as string | null | undefined) ?? null) as 'video' | null;
  const out = new Map<string, ParityTensor>();
  const specs = (c.json.call?.runs as RunSpec[] | undefined) ?? [{ name: 'posterior', op: 'posterior' }];
  for (const run of specs) {
    tf.tidy(() => {
      const moments = tf.transpose(toTensor(input(c, `${run.name}.moments`)), [0, 2, 3, 4, 1]);
      const noise = tf.transpose(toTensor(input(c, `${run.name}.noise`)), [0, 2, 3, 4, 1]);
      const post = new DiagonalGaussian(moments);
      const cf = (t: tf.Tensor) => tf.transpose(t, [0, 4, 1, 2, 3]);
      const sample = post.sample(noise);
      const put = (name: string, t: tf.Tensor) => out.set(`${run.name}.${name}`, host(cf(t)));
      put('mean', post.mean);
      put('logvar', post.logvar);
      put('std', post.std);
      put('z_sample', sample);
      put('z', normalizeLatent(sample, normalization));
      post.dispose();
    });
  }
  return { tensors: out };
}

export const parityRunners: Record<string, ParityRunner> = {
  vae: runVae,
  vae_posterior: runPosterior,
};
