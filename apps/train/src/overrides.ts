// `--set key.path=value` overrides, applied to the raw config before validation so a bad key or
// value is reported by the same checks as the file. Values are JSON when they parse as JSON
// (numbers, booleans, null, arrays, objects), plain strings otherwise.

export interface Override {
  path: string[];
  value: unknown;
  /** The flag as typed, for error messages. */
  text: string;
}

export function parseOverride(text: string): Override {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new Error(`--set '${text}': expected KEY=VALUE, e.g. --set lr=1e-4 or --set model.from_pretrained=ckpt/ema.safetensors`);
  const key = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1);
  const path = key.split('.');
  if (path.some((p) => p === '')) throw new Error(`--set '${text}': empty segment in key '${key}'`);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // not JSON: keep the string
  }
  return { path, value, text };
}

/** Returns a deep copy of `config` with the overrides applied in order (missing objects are created). */
export function applyOverrides(config: Record<string, unknown>, overrides: readonly Override[]): Record<string, unknown> {
  const out = structuredClone(config);
  for (const o of overrides) {
    let node: Record<string, unknown> = out;
    for (const [i, seg] of o.path.slice(0, -1).entries()) {
      const next = node[seg];
      if (next === undefined || next === null) node[seg] = {};
      else if (typeof next !== 'object' || Array.isArray(next)) {
        throw new Error(`--set '${o.text}': '${o.path.slice(0, i + 1).join('.')}' is ${JSON.stringify(next)}, not an object, so it has no key '${o.path[i + 1]}'`);
      }
      node = node[seg] as Record<string, unknown>;
    }
    node[o.path[o.path.length - 1]!] = o.value;
  }
  return out;
}
