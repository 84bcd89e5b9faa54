// Input for examples.test.ts: one of each thing the cast check must find, and `as const`, which it allows.
const a = [1, 2] as const;
const b = JSON.parse('1') as number;
const c = [1][0]!;
const d: any = 1;
export { a, b, c, d };
