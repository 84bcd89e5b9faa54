#!/usr/bin/env bash
# The GPU check of issue 30, one script for an H100 machine that reaches nothing outside and gets
# only this checkout plus the folder .gpu-carry/ (made here by `node tools/device/pack.mjs`; see
# tools/device/README.md). Inside 8 minutes it:
#   1. unpacks Node 20 (unless a node >= 20.19 is on PATH) and the reference's opensora/ package;
#   2. builds the torch addon with g++ against the machine's torch (/opt/torch/.venv: 2.11 + CUDA 13);
#   3. runs the torch backend's op tests and the parity cases (the fixture copies in the repo) on cuda,
#      and a data-parallel step through the process group (NCCL at world size 1; Gloo under --dry-run);
#   4. times, ours against the reference PyTorch code on the same GPU: (a) XL STDiT3 forward at the
#      360p/49-frame latent in fp32 and bf16, (b) the VAE decode of 49 frames at 360p, (c) a 30-step
#      360p/49-frame XL sample with random weights and CFG;
#   5. writes gpu-check.json and gpu-check.md (a table) to $OUT (the device tool's folder) or --out.
# --dry-run does all of it on this CPU machine instead of cuda, at toy sizes (tiny presets, 3 steps),
# against the python of OPENSORA_PYTHON (default /work/venv/bin/python, then python3).
# Phases that fail are recorded and the script goes on; it exits non-zero when any failed.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
carry="$root/.gpu-carry"
dry=0
out="${OUT:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1 ;;
    --out) out="$2"; shift ;;
    *) echo "usage: $0 [--dry-run] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$out" ] || out="$root/.gpu-check-out"
mkdir -p "$out"
work=$(mktemp -d /tmp/gpu-check.XXXXXX)
start=$SECONDS
budget=${GPU_CHECK_BUDGET_S:-480}
log() { echo "[gpu-check $((SECONDS - start))s] $*"; }
phases="$out/phases.json"
echo '{}' > "$phases"
failed=0

# phase NAME SECONDS CMD...: runs CMD under a time limit (never past the overall budget), records rc and time.
phase() {
  local name=$1 limit=$2; shift 2
  local left=$((budget - (SECONDS - start)))
  [ "$limit" -gt "$left" ] && limit=$left
  if [ "$limit" -le 5 ]; then
    log "$name: skipped, the ${budget}s budget is spent"
    rc=124; s=0
  else
    log "$name (limit ${limit}s)"
    local t0=$SECONDS
    timeout --kill-after=10 "$limit" "$@"
    rc=$?; s=$((SECONDS - t0))
    log "$name: rc $rc in ${s}s"
  fi
  [ "$rc" -eq 0 ] || failed=1
  "$NODE" -e 'const f=process.argv[1],p=JSON.parse(require("fs").readFileSync(f));p[process.argv[2]]={rc:+process.argv[3],s:+process.argv[4]};require("fs").writeFileSync(f,JSON.stringify(p,null,2))' "$phases" "$name" "$rc" "$s"
}

if [ ! -f "$carry/gpu-check.mjs.xz" ]; then
  echo "no $carry/gpu-check.mjs.xz: run 'node tools/device/pack.mjs' first (see tools/device/README.md)" >&2
  exit 2
fi

# 1. Node, the bundle, the reference.
NODE=""
if command -v node >/dev/null && node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  NODE=$(command -v node)
else
  xz -dc "$carry/node-linux-x64.xz" > "$work/node" && chmod +x "$work/node" && NODE="$work/node"
fi
log "node $("$NODE" -v) ($NODE)"
xz -dc "$carry/gpu-check.mjs.xz" > "$work/gpu-check.mjs"
if [ -z "${OPENSORA_REFERENCE:-}" ] && [ -f "$carry/opensora-v1.3.tar.xz" ]; then
  mkdir -p "$work/reference" && tar -xJf "$carry/opensora-v1.3.tar.xz" -C "$work/reference"
  export OPENSORA_REFERENCE="$work/reference"
fi
log "reference: ${OPENSORA_REFERENCE:-none}"

if [ "$dry" = 1 ]; then
  export OPENSORA_DEVICE=cpu
  size=tiny
  PY=${OPENSORA_PYTHON:-$( [ -x /work/venv/bin/python ] && echo /work/venv/bin/python || command -v python3 )}
  jobs=1
else
  export OPENSORA_DEVICE=cuda
  size=full
  PY=${OPENSORA_PYTHON:-/opt/torch/.venv/bin/python}
  jobs=$(nproc)
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/[gpu-check] gpu: /'
fi
export OPENSORA_PYTHON="$PY" OPENSORA_QUIET=1
log "python $PY ($("$PY" -c 'import torch;print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -1))"

# 2. The addon, with g++ against that python's torch (what detect-libtorch.cjs finds), unless
#    OPENSORA_TORCH_ADDON already names one built for it.
build_addon() {
  local pkg="$root/packages/tfjs-backend-torch" obj="$work/obj"
  mkdir -p "$obj"
  local inc libs defs std
  inc=$(cd "$pkg" && "$NODE" scripts/detect-libtorch.cjs include) || return 1
  libs=$(cd "$pkg" && "$NODE" scripts/detect-libtorch.cjs libs) || return 1
  defs=$(cd "$pkg" && "$NODE" scripts/detect-libtorch.cjs defines) || return 1
  std=$(cd "$pkg" && "$NODE" scripts/detect-libtorch.cjs std) || return 1
  local flags=(-std="$std" -O2 -fPIC -fexceptions -frtti -Wno-deprecated-declarations -DNAPI_VERSION=8 -I"$carry/node-include")
  for i in $inc; do flags+=(-I"$i"); done
  for d in $defs; do flags+=(-D"$d"); done
  # One compile per source, $jobs at a time.
  ls "$pkg"/csrc/*.cc "$pkg"/csrc/ops/*.cc | xargs -P "$jobs" -I{} sh -c 'obj=$1; src=$2; shift 2; o="$obj/$(basename "$src" .cc).o"; g++ "$@" -c "$src" -o "$o" 2>&1 | grep -E "error" | head -5; test -f "$o"' _ "$obj" {} "${flags[@]}" || return 1
  # shellcheck disable=SC2086
  g++ -shared -o "$work/opensora_torch.node" "$obj"/*.o $libs || return 1
}
if [ -z "${OPENSORA_TORCH_ADDON:-}" ]; then
  phase build_addon 240 bash -c "$(declare -f build_addon log); root='$root' carry='$carry' work='$work' jobs='$jobs' NODE='$NODE' build_addon"
  export OPENSORA_TORCH_ADDON="$work/opensora_torch.node"
else
  log "addon: $OPENSORA_TORCH_ADDON (given)"
fi

# 3. Op tests and parity on the device, fp32.
cd "$root"
phase ops 120 env GPU_CHECK_OPS_JSON="$out/ops.json" "$NODE" "$work/gpu-check.mjs" ops
cases=$(ls -d packages/*/test/fixtures/{stdit3-*,vae-*,rflow-*,t5-encoder}/ 2>/dev/null | while read -r d; do [ -f "$d/case.json" ] && echo "$d"; done | sort -u -t/ -k5,5)
phase parity 120 "$NODE" "$work/gpu-check.mjs" parity "$out/parity.json" $cases
# 3b. A data-parallel step through the process group (issue 32): NCCL at world size 1 on cuda (one
#     GPU cannot hold two NCCL ranks), Gloo under --dry-run; writes ddp.json.
phase ddp 60 "$NODE" "$work/gpu-check.mjs" ddp "$out/ddp.json"

# 4. The models, ours then the reference's.
phase models_ours 240 "$NODE" --max-old-space-size=16384 "$work/gpu-check.mjs" models "$size" "$out"
if [ -n "${OPENSORA_REFERENCE:-}" ] && [ -f "$out/spec.json" ]; then
  phase models_reference 200 "$PY" tools/device/python/reference_gpu.py "$out/spec.json" "$out/models.reference.json" "$OPENSORA_DEVICE"
else
  log "models_reference: skipped (no OPENSORA_REFERENCE and no .gpu-carry/opensora-v1.3.tar.xz, or no spec.json)"
  failed=1
fi

# 5. The table.
"$NODE" "$work/gpu-check.mjs" report "$out"
log "done in $((SECONDS - start))s; results in $out (gpu-check.json, gpu-check.md)"
rm -rf "$work"
exit $failed
