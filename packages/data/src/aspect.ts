// Open-Sora 1.3's aspect-ratio tables (opensora/datasets/aspect.py): for each resolution name, a
// pixel budget and a table keyed by H/W as a 2-decimal string -> target (H, W). The tables are the
// reference's constants (not recomputed: several entries differ from the formula by 1-2 px), kept in
// the reference's key order, which decides ties in `getClosestRatio`.

/** name, pixel count, "key:HxW ..." in the reference's insertion order. */
const TABLES: readonly (readonly [string, number, string])[] = [
  ['144p', 36864, '0.38:117x312 0.43:125x291 0.48:133x277 0.50:135x270 0.53:139x262 0.54:141x260 0.56:144x256 0.62:151x241 0.67:156x234 0.75:166x221 1.00:192x192 1.33:221x165 1.50:235x156 1.78:256x144 1.89:263x139 2.00:271x135 2.08:277x132'],
  ['256', 65536, '0.25:128x512 0.26:128x496 0.27:128x480 0.28:128x464 0.32:144x448 0.33:144x432 0.35:144x416 0.40:160x400 0.42:160x384 0.48:176x368 0.50:176x352 0.52:176x336 0.57:192x336 0.60:192x320 0.68:208x304 0.72:208x288 0.78:224x288 0.82:224x272 0.88:240x272 0.94:240x256 1.00:256x256 1.07:256x240 1.13:272x240 1.21:272x224 1.29:288x224 1.38:288x208 1.46:304x208 1.67:320x192 1.75:336x192 2.00:352x176 2.09:368x176 2.40:384x160 2.50:400x160 2.89:416x144 3.00:432x144 3.11:448x144 3.62:464x128 3.75:480x128 3.88:496x128 4.00:512x128'],
  ['240p', 102240, '0.38:196x522 0.43:210x490 0.48:222x462 0.50:226x452 0.53:232x438 0.54:236x436 0.56:240x426 0.62:252x404 0.67:262x393 0.75:276x368 1.00:320x320 1.33:370x278 1.50:392x262 1.78:426x240 1.89:440x232 2.00:452x226 2.08:462x222'],
  ['360p', 230400, '0.38:294x784 0.43:314x732 0.48:332x692 0.50:340x680 0.53:350x662 0.54:352x652 0.56:360x640 0.62:380x608 0.67:392x588 0.75:416x554 1.00:480x480 1.33:554x416 1.50:588x392 1.78:640x360 1.89:660x350 2.00:678x340 2.08:692x332'],
  ['512', 262144, '0.25:256x1024 0.26:256x992 0.27:256x960 0.28:256x928 0.32:288x896 0.33:288x864 0.35:288x832 0.40:320x800 0.42:320x768 0.48:352x736 0.50:352x704 0.52:352x672 0.57:384x672 0.60:384x640 0.68:416x608 0.72:416x576 0.78:448x576 0.82:448x544 0.88:480x544 0.94:480x512 1.00:512x512 1.07:512x480 1.13:544x480 1.21:544x448 1.29:576x448 1.38:576x416 1.46:608x416 1.67:640x384 1.75:672x384 2.00:704x352 2.09:736x352 2.40:768x320 2.50:800x320 2.89:832x288 3.00:864x288 3.11:896x288 3.62:928x256 3.75:960x256 3.88:992x256 4.00:1024x256'],
  ['480p', 409920, '0.38:392x1046 0.43:420x980 0.48:444x925 0.50:452x904 0.53:466x880 0.54:470x870 0.56:480x854 0.62:506x810 0.67:522x784 0.75:554x738 1.00:640x640 1.33:740x555 1.50:784x522 1.78:854x480 1.89:880x466 2.00:906x454 2.08:924x444'],
  ['720p', 921600, '0.38:588x1568 0.43:628x1466 0.48:666x1388 0.50:678x1356 0.53:698x1318 0.54:706x1306 0.56:720x1280 0.62:758x1212 0.67:784x1176 0.75:832x1110 1.00:960x960 1.33:1108x832 1.50:1176x784 1.78:1280x720 1.89:1320x698 2.00:1358x680 2.08:1386x666'],
  ['1024', 1048576, '0.25:512x2048 0.26:512x1984 0.27:512x1920 0.28:512x1856 0.32:576x1792 0.33:576x1728 0.35:576x1664 0.40:640x1600 0.42:640x1536 0.48:704x1472 0.50:704x1408 0.52:704x1344 0.57:768x1344 0.60:768x1280 0.68:832x1216 0.72:832x1152 0.78:896x1152 0.82:896x1088 0.88:960x1088 0.94:960x1024 1.00:1024x1024 1.07:1024x960 1.13:1088x960 1.21:1088x896 1.29:1152x896 1.38:1152x832 1.46:1216x832 1.67:1280x768 1.75:1344x768 2.00:1408x704 2.09:1472x704 2.40:1536x640 2.50:1600x640 2.89:1664x576 3.00:1728x576 3.11:1792x576 3.62:1856x512 3.75:1920x512 3.88:1984x512 4.00:2048x512'],
  ['1080p', 2073600, '0.38:882x2352 0.43:942x2198 0.48:998x2080 0.50:1018x2036 0.53:1048x1980 0.54:1058x1958 0.56:1080x1920 0.62:1138x1820 0.67:1176x1764 0.75:1248x1664 1.00:1440x1440 1.33:1662x1246 1.50:1764x1176 1.78:1920x1080 1.89:1980x1048 2.00:2036x1018 2.08:2078x998'],
  ['2k', 3686400, '0.38:1176x3136 0.43:1256x2930 0.48:1330x2770 0.50:1358x2716 0.53:1398x2640 0.54:1412x2612 0.56:1440x2560 0.62:1518x2428 0.67:1568x2352 0.75:1662x2216 1.00:1920x1920 1.33:2218x1664 1.50:2352x1568 1.78:2560x1440 1.89:2638x1396 2.00:2716x1358 2.08:2772x1330'],
  ['2048', 4194304, '0.25:1024x4096 0.26:1024x3968 0.27:1024x3840 0.28:1024x3712 0.32:1152x3584 0.33:1152x3456 0.35:1152x3328 0.40:1280x3200 0.42:1280x3072 0.48:1408x2944 0.50:1408x2816 0.52:1408x2688 0.57:1536x2688 0.60:1536x2560 0.68:1664x2432 0.72:1664x2304 0.78:1792x2304 0.82:1792x2176 0.88:1920x2176 0.94:1920x2048 1.00:2048x2048 1.07:2048x1920 1.13:2176x1920 1.21:2176x1792 1.29:2304x1792 1.38:2304x1664 1.46:2432x1664 1.67:2560x1536 1.75:2688x1536 2.00:2816x1408 2.09:2944x1408 2.40:3072x1280 2.50:3200x1280 2.89:3328x1152 3.00:3456x1152 3.11:3584x1152 3.62:3712x1024 3.75:3840x1024 3.88:3968x1024 4.00:4096x1024'],
  ['2880', 8294400, '0.25:1408x5760 0.26:1408x5568 0.27:1408x5376 0.28:1408x5184 0.32:1600x4992 0.33:1600x4800 0.34:1600x4672 0.40:1792x4480 0.42:1792x4288 0.47:1920x4096 0.49:1920x3904 0.51:1920x3776 0.55:2112x3840 0.59:2112x3584 0.68:2304x3392 0.72:2304x3200 0.78:2496x3200 0.83:2496x3008 0.89:2688x3008 0.93:2688x2880 1.00:2880x2880 1.07:2880x2688 1.12:3008x2688 1.21:3008x2496 1.28:3200x2496 1.39:3200x2304 1.47:3392x2304 1.70:3584x2112 1.82:3840x2112 2.03:3904x1920 2.13:4096x1920 2.39:4288x1792 2.50:4480x1792 2.92:4672x1600 3.00:4800x1600 3.12:4992x1600 3.68:5184x1408 3.82:5376x1408 3.95:5568x1408 4.00:5760x1408'],
  ['4k', 8294400, '0.38:1764x4704 0.43:1886x4400 0.48:1996x4158 0.50:2036x4072 0.53:2096x3960 0.54:2118x3918 0.62:2276x3642 0.56:2160x3840 0.67:2352x3528 0.75:2494x3326 1.00:2880x2880 1.33:3326x2494 1.50:3528x2352 1.78:3840x2160 1.89:3958x2096 2.00:4072x2036 2.08:4156x1994'],
];

export type AspectTable = ReadonlyMap<string, readonly [number, number]>;

export interface AspectRatioEntry {
  /** Pixel budget of the resolution group (H*W of its base size). */
  pixels: number;
  /** H/W key ("0.56") -> [H, W]. */
  table: AspectTable;
}

function parseTable(spec: string, floor16: boolean): AspectTable {
  const m = new Map<string, readonly [number, number]>();
  for (const item of spec.split(' ')) {
    const [key, hw] = item.split(':') as [string, string];
    const [h, w] = hw.split('x').map(Number) as [number, number];
    m.set(key, floor16 ? [Math.floor(h / 16) * 16, Math.floor(w / 16) * 16] : [h, w]);
  }
  return m;
}

function buildAspectRatios(): ReadonlyMap<string, AspectRatioEntry> {
  const out = new Map<string, AspectRatioEntry>();
  // The reference builds the `_16d` variants (H, W floored to multiples of 16) first.
  for (const [name, pixels, spec] of TABLES) out.set(`${name}_16d`, { pixels, table: parseTable(spec, true) });
  for (const [name, pixels, spec] of TABLES) out.set(name, { pixels, table: parseTable(spec, false) });
  return out;
}

/** Every resolution name (144p ... 4k, 256 ... 2880, and each `_16d` variant) -> pixels + table. */
export const ASPECT_RATIOS: ReadonlyMap<string, AspectRatioEntry> = buildAspectRatios();

/** "H:W" -> table key. "9:16" is H:W, i.e. a landscape 1280x720 frame. */
export const ASPECT_RATIO_MAP: Readonly<Record<string, string>> = Object.freeze({
  '3:8': '0.38',
  '9:21': '0.43',
  '12:25': '0.48',
  '1:2': '0.50',
  '9:17': '0.53',
  '27:50': '0.54',
  '9:16': '0.56',
  '5:8': '0.62',
  '2:3': '0.67',
  '3:4': '0.75',
  '1:1': '1.00',
  '4:3': '1.33',
  '3:2': '1.50',
  '16:9': '1.78',
  '17:9': '1.89',
  '2:1': '2.00',
  '50:27': '2.08',
});

/** The resolution names known to the tables. */
export function resolutionNames(): string[] {
  return [...ASPECT_RATIOS.keys()];
}

export function getAspectRatios(resolution: string): AspectRatioEntry {
  const e = ASPECT_RATIOS.get(resolution);
  if (!e) {
    throw new Error(`unknown resolution '${resolution}'; expected one of ${resolutionNames().join(', ')}.`);
  }
  return e;
}

export function getNumPixels(resolution: string): number {
  return getAspectRatios(resolution).pixels;
}

/**
 * The table key closest to H/W (absolute difference of the key's value; the first key in table order
 * wins a tie), as the reference's `get_closest_ratio`.
 */
export function getClosestRatio(height: number, width: number, ratios: AspectTable | Iterable<string>): string {
  const ar = height / width;
  const keys = ratios instanceof Map ? ratios.keys() : (ratios as Iterable<string>);
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of keys) {
    const d = Math.abs(Number.parseFloat(k) - ar);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  if (best === undefined) throw new Error('getClosestRatio: empty ratio table.');
  return best;
}

/** (H, W) for a resolution name and an aspect ratio given as "H:W" (e.g. "9:16") or a table key ("0.56"). */
export function getImageSize(resolution: string, aspectRatio: string): [number, number] {
  const key = ASPECT_RATIO_MAP[aspectRatio] ?? aspectRatio;
  const { table } = getAspectRatios(resolution);
  const hw = table.get(key);
  if (!hw) {
    throw new Error(
      `aspect ratio '${aspectRatio}' not found for resolution '${resolution}'; use "H:W" from ${Object.keys(ASPECT_RATIO_MAP).join(', ')} or a key of the table (${[...table.keys()].join(', ')}).`,
    );
  }
  return [hw[0], hw[1]];
}
