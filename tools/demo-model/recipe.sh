#!/usr/bin/env bash
# The demo model's recipe, end to end, from the repository root:
#   bash packages/demo-model/scripts/recipe.sh [OUT_DIR]
# 1. trains the tiny VAE on shapes world (configs/train/demo_vae.json),
# 2. trains the tiny STDiT3 on that VAE's latents and the demo text encoder (configs/train/demo.json),
# 3. exports both (EMA weights, float16) into packages/demo-model/weights with the run records.
set -euo pipefail
OUT=${1:-out/demo-model}
cd "$(dirname "$0")/../../.."
pnpm train --config configs/train/demo_vae.json --out "$OUT/vae" --plain
pnpm train --config configs/train/demo.json --out "$OUT/dit" --plain --set "vae.from_pretrained=$OUT/vae"
node --conditions=source --import tsx packages/demo-model/scripts/export.ts \
  --dit-run "$OUT/dit" --vae-run "$OUT/vae" \
  --recipe "pnpm train --config configs/train/demo_vae.json --out $OUT/vae" \
  --recipe "pnpm train --config configs/train/demo.json --out $OUT/dit --set vae.from_pretrained=$OUT/vae"
