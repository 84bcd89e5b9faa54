{
  # Raw N-API (node_api.h) over ATen. scripts/detect-libtorch.cjs says where libtorch is
  # (LIBTORCH, a python torch, or Debian's libtorch-dev), which C++ standard its headers need
  # (1.x: C++17, 2.x: C++20) and its C++ ABI; build-addon.cjs runs this only when one was found.
  "variables": {
    "torch_include%": "<!(node scripts/detect-libtorch.cjs include)",
    "torch_libs%": "<!(node scripts/detect-libtorch.cjs libs)",
    "torch_defines%": "<!(node scripts/detect-libtorch.cjs defines)",
    "torch_std%": "<!(node scripts/detect-libtorch.cjs std)"
  },
  "targets": [
    {
      "target_name": "opensora_torch",
      "sources": [
        "csrc/addon.cc",
        "csrc/convert.cc",
        "csrc/tensor_table.cc",
        "csrc/process_group.cc",
        "csrc/ops/elementwise.cc",
        "csrc/ops/reduce.cc",
        "csrc/ops/copy.cc",
        "csrc/ops/matmul.cc",
        "csrc/ops/conv.cc",
        "csrc/ops/norms.cc",
        "csrc/ops/attention.cc",
        "csrc/ops/optim.cc"
      ],
      "include_dirs": ["<@(torch_include)"],
      "defines": ["NAPI_VERSION=8", "<@(torch_defines)"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=<(torch_std)", "-O2", "-fexceptions", "-frtti", "-Wall", "-Wno-unused-parameter", "-Wno-c++20-extensions", "-Wno-deprecated-declarations"],
      "libraries": ["<@(torch_libs)"]
    }
  ]
}
