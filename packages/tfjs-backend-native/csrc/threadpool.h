// A small fixed pool for our own loops (im2col, elementwise, norms). OpenBLAS and oneDNN keep
// their own threads; they run one after another with ours, never nested, so the cores are
// not oversubscribed.
#pragma once
#include <cstdint>
#include <functional>

namespace osn {

// Sets the pool size (and OpenBLAS's / oneDNN's thread counts); n >= 1.
void set_threads(int n);
int threads();

// Calls fn(begin, end) on disjoint slices covering [0, n). Runs inline when the work is
// small (n < 2 * grain) or when there is one thread; not reentrant (callers never nest it).
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace osn
