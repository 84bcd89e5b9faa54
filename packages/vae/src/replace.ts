// Freeing an activation as soon as the next one exists, as PyTorch's refcounting does when `h = f(h)`
// rebinds h. Inside tf.tidy the old tensor would otherwise live until the scope ends: at a VAE's
// frame sizes each is hundreds of MB, and a block's chain of them set the decode's peak (issue 34).

/** Disposes `prev` (unless `next` is `prev` itself, as an identity dropout returns) and returns `next`. */
export function replace<T extends { dispose(): void }>(prev: T, next: T): T {
  if (next !== prev) prev.dispose();
  return next;
}
