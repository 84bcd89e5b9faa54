// tfjs's random initialisers fall back to Math.random when no seed is given, so a network built
// without weights differs per process. A frozen random VAE (tests, a demo before its VAE is
// trained) must be the same in an uninterrupted and a resumed run: its construction runs with
// Math.random replaced by a seeded generator. (A `seed` option on createVae would make this moot.)
import { SeededRandom } from '@opensora-ts/kernels';

export function withSeededMathRandom<T>(seed: number, build: () => T): T {
  const original = Math.random;
  const rng = new SeededRandom(seed);
  Math.random = () => rng.uniform();
  try {
    return build();
  } finally {
    Math.random = original;
  }
}
