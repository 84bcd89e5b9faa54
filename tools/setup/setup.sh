#!/usr/bin/env bash
# Sets up a fresh Debian machine (run as root) or an existing checkout: system packages when
# missing, pnpm, the workspace install and the build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/../.."

PNPM_VERSION=10.34.9
APT_PACKAGES=(ffmpeg libopenblas-dev libdnnl-dev libtorch-dev libgloo-dev build-essential python3 pkg-config fonts-dejavu-core)
# PyTorch is only for benchmarks against the reference; skip with OPENSORA_SKIP_TORCH=1.
[ "${OPENSORA_SKIP_TORCH:-0}" = 1 ] || APT_PACKAGES+=(python3-torch python3-numpy)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing system packages: ${missing[*]} (install them as root; continuing without them)" >&2
  fi
fi

if ! command -v pnpm >/dev/null || [ "$(pnpm -v)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm@$PNPM_VERSION"
  npm i -g "pnpm@$PNPM_VERSION" >/dev/null 2>&1
fi

export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
pnpm install --frozen-lockfile
pnpm build
