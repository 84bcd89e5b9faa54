// Score -> words, as the 1.3 captions and prompts use them (spec §4.1). A value equal to a
// threshold takes the higher label (aes 4.0 is "very poor", flow 2 is "fair").

const AES_LABELS: readonly [number, string][] = [
  [4, 'terrible'],
  [4.5, 'very poor'],
  [5, 'poor'],
  [5.5, 'fair'],
  [6, 'good'],
  [6.5, 'very good'],
];
const FLOW_LABELS: readonly [number, string][] = [
  [0.5, 'very low'],
  [2, 'low'],
  [5, 'fair'],
  [10, 'high'],
  [20, 'very high'],
];

function label(value: number, table: readonly [number, string][], top: string): string {
  // NaN fails every comparison and lands on the top label, as in the reference's if-chain.
  for (const [limit, name] of table) if (value < limit) return name;
  return top;
}

/** Aesthetic score to its word: < 4 terrible ... >= 6.5 excellent. */
export function aesToText(aes: number): string {
  return label(aes, AES_LABELS, 'excellent');
}

/** Motion ("flow") score to its word: < 0.5 very low ... >= 20 extremely high. */
export function flowToText(flow: number): string {
  return label(flow, FLOW_LABELS, 'extremely high');
}

/** Camera-motion labels as the CSV column spells them, and the words the captions use. */
export const CAMERA_MOTIONS: Readonly<Record<string, string>> = {
  static: 'static',
  pan_right: 'pan right',
  pan_left: 'pan left',
  zoom_in: 'zoom in',
  zoom_out: 'zoom out',
  tilt_up: 'tilt up',
  tilt_down: 'tilt down',
};

/** Labels the camera-motion detector can also emit; they are never merged into captions. */
export const UNMERGED_CAMERA_MOTIONS: readonly string[] = ['pan/tilt', 'dynamic', 'unknown'];

/** The caption words of a camera-motion label ("pan_left" or "pan left"), or undefined if it is not merged. */
export function cameraMotionText(label: string): string | undefined {
  const key = label.replace(/ /g, '_');
  return Object.prototype.hasOwnProperty.call(CAMERA_MOTIONS, key) ? CAMERA_MOTIONS[key] : undefined;
}
