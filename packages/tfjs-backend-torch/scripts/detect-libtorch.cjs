// Finds the libtorch the addon is built against, in this order:
//   1. LIBTORCH: a libtorch folder (include/, lib/, as PyTorch's zip ships it);
//   2. the `torch` of OPENSORA_PYTHON, else of python3 (a pip wheel ships headers and libs);
//   3. Debian's libtorch-dev (headers under /usr/include, libs in the multiarch folder).
// LIBTORCH or OPENSORA_PYTHON, when set, is the only place looked at.
// `node detect-libtorch.cjs json` prints everything found (or why nothing was) as JSON;
// `... include|libs|defines|std` print what binding.gyp needs, space-separated.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const hasATen = (inc) => fs.existsSync(path.join(inc, 'ATen', 'ATen.h'));

function versionFromHeader(inc) {
  // 2.9+ moved the numbers to torch/headeronly/version.h (the api header includes it).
  for (const rel of [['torch', 'csrc', 'api', 'include', 'torch', 'version.h'], ['torch', 'headeronly', 'version.h']]) {
    const file = path.join(inc, ...rel);
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, 'utf8');
    const part = (n) => (text.match(new RegExp(`#define TORCH_VERSION_${n} (\\d+)`)) || [])[1];
    if (part('MAJOR')) return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
  }
  return undefined;
}

/** The C++ ABI libc10 was built with: its symbols name std::__cxx11 types only under ABI 1. */
function abiOfLibrary(libDir) {
  const lib = path.join(libDir, 'libc10.so');
  if (!fs.existsSync(lib)) return undefined;
  return fs.readFileSync(lib).includes('__cxx11') ? '1' : '0';
}

/** Link flags for a folder of libtorch .so files (CUDA libs linked when the build has them). */
function linkFlags(libDir, rpath) {
  const flags = [];
  if (libDir) flags.push(`-L${libDir}`);
  if (rpath && libDir) flags.push(`-Wl,-rpath,${libDir}`);
  const cuda = libDir && fs.existsSync(path.join(libDir, 'libtorch_cuda.so'));
  // --no-as-needed: libtorch_cuda registers the CUDA kernels when it loads; nothing references it by symbol.
  flags.push('-Wl,--no-as-needed', '-ltorch', '-ltorch_cpu', '-lc10');
  if (cuda) flags.push('-ltorch_cuda', '-lc10_cuda');
  flags.push('-Wl,--as-needed');
  return { flags, cuda: Boolean(cuda) };
}

function fromFolder(root, source) {
  const inc = path.join(root, 'include');
  const lib = path.join(root, 'lib');
  if (!hasATen(inc)) return { found: false, reason: `${source}: no include/ATen/ATen.h under ${root}` };
  if (!fs.existsSync(path.join(lib, 'libtorch_cpu.so'))) return { found: false, reason: `${source}: no lib/libtorch_cpu.so under ${root}` };
  let abi;
  const cfg = path.join(root, 'share', 'cmake', 'Torch', 'TorchConfig.cmake');
  if (fs.existsSync(cfg)) abi = (fs.readFileSync(cfg, 'utf8').match(/_GLIBCXX_USE_CXX11_ABI=(\d)/) || [])[1];
  abi ??= abiOfLibrary(lib);
  const { flags, cuda } = linkFlags(lib, true);
  return { found: true, source, root, version: versionFromHeader(inc), include: [inc, path.join(inc, 'torch', 'csrc', 'api', 'include')], libs: flags, abi, cuda };
}

function fromPython(python) {
  const code = [
    'import json, os, torch',
    'd = os.path.dirname(torch.__file__)',
    'print(json.dumps({"root": d, "version": torch.__version__, "abi": int(torch._C._GLIBCXX_USE_CXX11_ABI), "cuda": torch.version.cuda}))',
  ].join('\n');
  const r = spawnSync(python, ['-c', code], { encoding: 'utf8', timeout: 60_000 });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr || '').trim().split('\n').pop();
    return { found: false, reason: `${python}: no importable torch (${(why || 'failed').slice(0, 120)})` };
  }
  const info = JSON.parse(r.stdout.trim().split('\n').pop());
  const inc = path.join(info.root, 'include');
  // Distribution builds of python torch (Debian's python3-torch) keep the headers elsewhere.
  if (!hasATen(inc)) return { found: false, reason: `${python}: torch ${info.version} ships no C++ headers (${inc})` };
  const lib = path.join(info.root, 'lib');
  const { flags, cuda } = linkFlags(lib, true);
  return {
    found: true,
    source: `python torch (${python})`,
    root: info.root,
    version: info.version,
    include: [inc, path.join(inc, 'torch', 'csrc', 'api', 'include')],
    libs: flags,
    abi: String(info.abi),
    cuda: cuda || Boolean(info.cuda),
  };
}

function fromDebian() {
  const inc = '/usr/include';
  if (!hasATen(inc)) return { found: false, reason: 'no /usr/include/ATen/ATen.h (Debian: apt-get install libtorch-dev)' };
  const libDirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'];
  const lib = libDirs.find((d) => fs.existsSync(path.join(d, 'libtorch_cpu.so')));
  if (!lib) return { found: false, reason: 'libtorch headers found but no libtorch_cpu.so (Debian: apt-get install libtorch-dev)' };
  const { flags } = linkFlags(undefined, false);
  return { found: true, source: 'libtorch-dev (system)', root: '/usr', version: versionFromHeader(inc), include: [path.join(inc, 'torch', 'csrc', 'api', 'include')], libs: flags, abi: undefined, cuda: false };
}

/** A folder holding cuda_runtime.h: CUDA_HOME / CUDA_PATH, /usr/local/cuda*, or the pip nvidia wheels beside torch. */
function cudaIncludeDir(torchRoot) {
  const candidates = [];
  for (const v of [process.env.CUDA_HOME, process.env.CUDA_PATH]) if (v) candidates.push(path.join(v, 'include'));
  const nvidia = path.join(torchRoot, '..', 'nvidia');
  for (const sub of ['cu13', 'cuda_runtime']) candidates.push(path.join(nvidia, sub, 'include'));
  candidates.push('/usr/local/cuda/include');
  if (fs.existsSync('/usr/local')) {
    for (const d of fs.readdirSync('/usr/local').filter((n) => /^cuda-\d/.test(n)).sort().reverse()) candidates.push(path.join('/usr/local', d, 'include'));
  }
  return candidates.find((d) => fs.existsSync(path.join(d, 'cuda_runtime.h')));
}

/** A folder holding nccl.h: NCCL_HOME, the pip nvidia wheels beside torch, the CUDA folder, /usr/include. */
function ncclIncludeDir(torchRoot, cudaInc) {
  const candidates = [];
  if (process.env.NCCL_HOME) candidates.push(path.join(process.env.NCCL_HOME, 'include'));
  const nvidia = path.join(torchRoot, '..', 'nvidia');
  for (const sub of ['nccl', 'cu13', 'cu12']) candidates.push(path.join(nvidia, sub, 'include'));
  candidates.push(cudaInc, '/usr/include');
  return candidates.find((d) => fs.existsSync(path.join(d, 'nccl.h')));
}

function detect() {
  // An explicit LIBTORCH or OPENSORA_PYTHON is the only place looked at: building against
  // another libtorch than the one asked for would be a surprise.
  if (process.env.LIBTORCH) return fromFolder(path.resolve(process.env.LIBTORCH), `LIBTORCH=${process.env.LIBTORCH}`);
  if (process.env.OPENSORA_PYTHON) return fromPython(process.env.OPENSORA_PYTHON);
  const tried = [];
  for (const r of [fromPython('python3'), fromDebian()]) {
    if (r.found) return r;
    tried.push(r.reason);
  }
  return { found: false, reason: tried.join('; ') };
}

function finish(r) {
  if (!r.found) return r;
  // libtorch 2.x headers use C++20 features; 1.x builds as C++17.
  const major = Number((r.version || '1').split('.')[0]);
  const defines = r.abi !== undefined ? [`_GLIBCXX_USE_CXX11_ABI=${r.abi}`] : [];
  let include = r.include;
  // Linked against libtorch_cuda and CUDA's runtime headers at hand (c10/cuda includes them):
  // the addon also reads the CUDA caching allocator's statistics. Without the headers CUDA
  // still works; tf.memory() then lacks the allocator's numbers.
  if (r.libs.includes('-ltorch_cuda')) {
    const cudaInc = cudaIncludeDir(r.root);
    if (cudaInc) {
      defines.push('OST_WITH_CUDA');
      include = [...include, cudaInc];
      // c10d's ProcessGroupNCCL (csrc/process_group.cc) needs nccl.h as well.
      const ncclInc = ncclIncludeDir(r.root, cudaInc);
      if (ncclInc) {
        defines.push('OST_WITH_NCCL');
        if (!include.includes(ncclInc)) include = [...include, ncclInc];
      }
    }
  }
  return { ...r, include, std: major >= 2 ? 'c++20' : 'c++17', defines };
}

const result = finish(detect());
const what = process.argv[2] || 'json';
if (what === 'json') process.stdout.write(JSON.stringify(result, null, 2) + '\n');
else if (!result.found) process.stdout.write('');
else if (what === 'include') process.stdout.write(result.include.join(' '));
else if (what === 'libs') process.stdout.write(result.libs.join(' '));
else if (what === 'defines') process.stdout.write(result.defines.join(' '));
else if (what === 'std') process.stdout.write(result.std);
else throw new Error(`detect-libtorch: unknown query '${what}' (json, include, libs, defines, std)`);
