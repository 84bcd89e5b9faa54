import { readMetadata, BucketSampler, VideoLoader } from '@opensora-ts/data';

const meta = await readMetadata('data/shapes/meta.csv', { filters: { aes: { min: 5.5 } } });
console.log(meta.report.summary(), meta.filteredBy);         // bad rows (number + reason); rows each filter left out
const sampler = new BucketSampler(meta.rows, { '144p': { 17: [1.0, 2] } }, { seed: 42 });
console.log(sampler.explain().summary);                     // samples per bucket; what no bucket took, and why
const loader = new VideoLoader(meta.rows, sampler, { prefetch: 2 });
for await (const { batch, items, state } of loader) {
  // batch.thw = [T, H, W]; items[i].sample.data is [3, T, H, W] float32 in [-1, 1]
  console.log(batch.thw, items.length, state.consumed);     // save `state` with a checkpoint; resume: sampler.restore(state)
}
