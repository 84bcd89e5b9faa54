// --sample-config: the 'demo' sampler takes sample-app settings from a JSON file (or an earlier
// sample's sidecar), so guidance or steps can be compared without re-exporting a model.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initRuntime } from '@opensora-ts/kernels';
import { loadSampler } from './load-sampler.js';

const dir = mkdtempSync(join(tmpdir(), 'eval-sampler-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadSampler --sample-config', () => {
  it('applies the settings file (plain or a sidecar) to the demo sampler', async () => {
    await initRuntime();
    const plain = join(dir, 'steps.json');
    writeFileSync(plain, JSON.stringify({ num_sampling_steps: 2, cfg_scale: 1 }));
    const sidecar = join(dir, 'sidecar.json');
    writeFileSync(sidecar, JSON.stringify({ kind: 'opensora-sample', settings: { num_sampling_steps: 2, cfg_scale: 1 } }));
    const prompt = 'a red circle moves to the left.';
    const base = await loadSampler('demo', {}, []);
    const fromPlain = await loadSampler('demo', { sampleConfig: plain }, []);
    const fromSidecar = await loadSampler('demo', { sampleConfig: sidecar }, []);
    const [a, b, c] = [await base(prompt, 5), await fromPlain(prompt, 5), await fromSidecar(prompt, 5)];
    expect(Buffer.compare(Buffer.from(b.data), Buffer.from(c.data))).toBe(0);
    expect(Buffer.compare(Buffer.from(a.data), Buffer.from(b.data))).not.toBe(0);
  });

  it('names the file and the fix on bad input', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"cfg_scal": 3}');
    await expect(loadSampler('demo', { sampleConfig: bad }, [])).rejects.toThrow(/cfg_scal/);
    writeFileSync(bad, '[1, 2]');
    await expect(loadSampler('demo', { sampleConfig: bad }, [])).rejects.toThrow(/bad\.json: expected a JSON object of sample settings/);
    await expect(loadSampler('demo', { sampleConfig: join(dir, 'none.json') }, [])).rejects.toThrow(/none\.json/);
    await expect(loadSampler('ground-truth', { sampleConfig: bad }, [])).rejects.toThrow(/only the 'demo' sampler/);
  });
});
