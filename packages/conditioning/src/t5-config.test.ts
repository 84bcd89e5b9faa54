import { describe, expect, it } from 'vitest';
import { parseT5Config } from './t5-config.js';

const v11 = { model_type: 't5', vocab_size: 32128, d_model: 4096, d_kv: 64, d_ff: 10240, num_layers: 24, num_heads: 64, feed_forward_proj: 'gated-gelu' };

describe('parseT5Config', () => {
  it('reads a T5 v1.1 config (DeepFloyd/t5-v1_1-xxl) as written', () => {
    expect(parseT5Config(v11)).toMatchObject({ d_model: 4096, num_layers: 24, feed_forward_proj: 'gated-gelu', relative_attention_num_buckets: 32, layer_norm_epsilon: 1e-6 });
  });

  it("takes transformers' defaults: a T5 v1.0 config without feed_forward_proj is ReLU", () => {
    const { feed_forward_proj: _, ...v10 } = v11;
    expect(parseT5Config(v10).feed_forward_proj).toBe('relu');
    expect(parseT5Config({ model_type: 'mt5', d_model: 8 }).feed_forward_proj).toBe('relu');
  });

  it('refuses a config that is not a T5 encoder, naming the file, the model type and what to pass', () => {
    expect(() => parseT5Config({ ...v11, model_type: 'bert' }, '/m/config.json')).toThrow(/\/m\/config\.json: model_type 'bert' is not a T5 encoder; pass a T5 folder/);
    expect(() => parseT5Config({ ...v11, model_type: 'umt5' }, 'c.json')).toThrow(/umT5 keeps a relative-position table per layer/);
    expect(() => parseT5Config({ ...v11, feed_forward_proj: 'gated-swish' }, 'c.json')).toThrow(/c\.json: not a usable T5 encoder config \('feed_forward_proj'/);
    expect(() => parseT5Config({ ...v11, d_model: -1 }, 'c.json')).toThrow(/'d_model'/);
  });
});
