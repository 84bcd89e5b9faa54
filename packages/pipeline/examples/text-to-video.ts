import { OpenSoraPipeline } from '@opensora-ts/pipeline';

// The bundled demo model; official weights: OpenSoraPipeline.load({ weights: 'models/opensora-1.3' }).
const pipe = await OpenSoraPipeline.load({ offload: 'model' });   // one model in memory at a time
const video = await pipe.generate({
  prompt: 'a red circle moves to the left',
  seed: 42,
  onProgress: (p) => { if (p.done === p.total) console.log(`${p.phase} ${p.done}/${p.total}`); },
});
await video.writeMp4('red.mp4');
console.log(`${video.numFrames} frames ${video.height}x${video.width}, ${video.metadata.steps} steps`);
for (const m of video.metadata.memory.phases) console.log(m.phase, m.models.join(','), `${m.peakRssMiB} MiB`);
pipe.dispose();
