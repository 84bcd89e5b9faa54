// The pixel containers the metrics read. A video is T x H x W x C, row-major, channels last (the
// layout ffmpeg decodes to and the data package's `Frames` uses); values are uint8 (0..255) or
// floats already on [0, 1].
export type PixelArray = Uint8Array | Uint8ClampedArray | Float32Array | Float64Array;

export interface Video {
  data: PixelArray;
  numFrames: number;
  height: number;
  width: number;
  /** Channels per pixel; default 3. */
  channels?: number;
  fps?: number;
}

/** True when `data` holds 0..255 integers (uint8); floats are taken to be on [0, 1]. */
export function isByteArray(data: PixelArray): data is Uint8Array | Uint8ClampedArray {
  return data instanceof Uint8Array || data instanceof Uint8ClampedArray;
}

/** One frame as float64 on [0, 1] (uint8 / 255, floats as they are). */
export function frameUnit(v: Video, t: number): Float64Array {
  const c = v.channels ?? 3;
  const n = v.height * v.width * c;
  if (t < 0 || t >= v.numFrames) throw new RangeError(`frame ${t} is outside a ${v.numFrames}-frame video.`);
  const out = new Float64Array(n);
  const o = t * n;
  const scale = isByteArray(v.data) ? 1 / 255 : 1;
  for (let i = 0; i < n; i++) out[i] = v.data[o + i]! * scale;
  return out;
}

/** Checks a video's buffer length against its declared geometry. */
export function checkVideo(v: Video, what = 'video'): void {
  const c = v.channels ?? 3;
  const want = v.numFrames * v.height * v.width * c;
  if (v.data.length !== want) {
    throw new Error(`${what}: ${v.data.length} values is not ${v.numFrames} frames of ${v.height}x${v.width}x${c} (${want}).`);
  }
}

/** Checks that two videos can be compared frame by frame. */
export function checkSameGeometry(a: Video, b: Video, what = 'videos'): void {
  checkVideo(a, `${what} (first)`);
  checkVideo(b, `${what} (second)`);
  if (a.numFrames !== b.numFrames || a.height !== b.height || a.width !== b.width || (a.channels ?? 3) !== (b.channels ?? 3)) {
    throw new Error(
      `${what}: shapes differ, ${a.numFrames}x${a.height}x${a.width}x${a.channels ?? 3} vs ${b.numFrames}x${b.height}x${b.width}x${b.channels ?? 3}; ` +
        'resize/crop both to the same size and frame count first.',
    );
  }
}
