// What a shapes-world prompt asks for, read back from the data package's caption vocabulary: the
// named colours and shapes, the direction the (first) shape moves, and the camera motion. Score
// sentences the sample app may append ("aesthetic score: ...", "camera motion: pan left.") are
// understood too; a prompt outside the vocabulary yields empty fields, not an error.
import { SHAPE_COLORS, SHAPE_KINDS, type CameraMotion, type Direction, type ShapeKind } from '@opensora-ts/data';

export interface ShapesPromptIntent {
  /** Palette colours named, in order of appearance. */
  colors: string[];
  shapes: ShapeKind[];
  /** Where the first named shape moves; 'none' for "stays still"; undefined when no object motion is named. */
  direction?: Direction | 'none';
  /** The camera motion the prompt implies ('static' unless the camera is said to move). */
  camera: CameraMotion;
}

const DIRS: Record<string, Direction> = { left: 'left', right: 'right', up: 'up', down: 'down' };

export function parseShapesPrompt(prompt: string): ShapesPromptIntent {
  const p = prompt.toLowerCase();
  const colorNames = Object.keys(SHAPE_COLORS);
  const colors: string[] = [];
  const shapes: ShapeKind[] = [];
  for (const m of p.matchAll(/[a-z]+/g)) {
    const w = m[0];
    if (colorNames.includes(w) && !colors.includes(w)) colors.push(w);
    const singular = w.endsWith('s') ? w.slice(0, -1) : w;
    if ((SHAPE_KINDS as readonly string[]).includes(singular) && !shapes.includes(singular as ShapeKind)) shapes.push(singular as ShapeKind);
  }
  let camera: CameraMotion = 'static';
  const cam = /camera (?:motion: )?(pans?|tilts?|zooms?) (left|right|up|down|in|out)/.exec(p);
  if (cam) {
    const verb = cam[1]!.replace(/s$/, '');
    const where = cam[2]!;
    if (verb === 'pan' && (where === 'left' || where === 'right')) camera = `pan_${where}`;
    else if (verb === 'tilt' && (where === 'up' || where === 'down')) camera = `tilt_${where}`;
    else if (verb === 'zoom' && (where === 'in' || where === 'out')) camera = `zoom_${where}`;
  }
  let direction: ShapesPromptIntent['direction'];
  const mv = /\bmoves? (?:slowly |quickly )?(?:to the )?(left|right|up|down)\b/.exec(p);
  if (mv) direction = DIRS[mv[1]!];
  else if (/\bstays? still\b/.test(p)) direction = 'none';
  return direction === undefined ? { colors, shapes, camera } : { colors, shapes, direction, camera };
}
