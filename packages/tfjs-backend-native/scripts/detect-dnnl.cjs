// Prints 'true' when oneDNN's headers and library are installed (Debian: libdnnl-dev), so
// binding.gyp compiles the oneDNN convolution route; 'false' keeps the im2col route only.
// OPENSORA_NATIVE_DNNL=0 forces 'false'.
const fs = require('node:fs');

const off = process.env.OPENSORA_NATIVE_DNNL === '0';
const header = ['/usr/include/dnnl.hpp', '/usr/include/oneapi/dnnl/dnnl.hpp', '/usr/local/include/dnnl.hpp'];
const lib = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'].map(
  (d) => `${d}/libdnnl.so`,
);
const found = header.some((p) => fs.existsSync(p)) && lib.some((p) => fs.existsSync(p));
process.stdout.write(!off && found ? 'true' : 'false');
