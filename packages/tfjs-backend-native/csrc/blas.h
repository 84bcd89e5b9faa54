// OpenBLAS entry points. Declared here rather than taken from <cblas.h> alone because the
// cblas.h on the include path is chosen by Debian's alternatives and may be another BLAS's.
#pragma once
#include <cblas.h>

extern "C" {
void openblas_set_num_threads(int num_threads);
}
