{
  # Plain -O3 for baseline x86-64 so a published build runs on any x86-64; the hot loops
  # carry their own AVX2/FMA clones (csrc/simd.h). GEMMs go to OpenBLAS, which picks its
  # kernels at run time. oneDNN (Debian: libdnnl-dev) is used for convolutions when found.
  # -ffp-contract=off: no implicit FMAs, so elementwise results round like tfjs-cpu's and
  # cancellations the reference composites make exact (e.g. a one-element group) stay exact.
  # -fno-trapping-math lets GCC turn the clamps in fast_exp into blends, so those loops vectorise.
  "variables": {
    "have_dnnl%": "<!(node scripts/detect-dnnl.cjs)"
  },
  "targets": [
    {
      "target_name": "opensora_native",
      "sources": [
        "csrc/addon.cc",
        "csrc/threadpool.cc",
        "csrc/matmul.cc",
        "csrc/conv.cc",
        "csrc/conv_dnnl.cc",
        "csrc/elementwise.cc",
        "csrc/reduce.cc",
        "csrc/transpose.cc",
        "csrc/copy.cc",
        "csrc/norms.cc",
        "csrc/attention.cc",
        "csrc/rope.cc",
        "csrc/modulate.cc",
        "csrc/optim.cc",
        "csrc/bigbuf.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions", "-O2"],
      "cflags_cc!": ["-fno-exceptions", "-O2"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fno-math-errno", "-ffp-contract=off", "-fno-trapping-math", "-Wall", "-Wno-unused-parameter"],
      "libraries": ["-lopenblas", "-lpthread"],
      "conditions": [
        ["have_dnnl=='true'", {
          "defines": ["OSN_HAVE_DNNL"],
          "cflags_cc": ["-fopenmp"],
          "libraries": ["-ldnnl", "-fopenmp"]
        }]
      ]
    }
  ]
}
