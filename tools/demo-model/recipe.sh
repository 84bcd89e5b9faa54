#!/usr/bin/env bash
# The demo model's recipe, end to end, from any folder:
#   bash tools/demo-model/recipe.sh [OUT_DIR]        (default out/demo-model)
# 1. trains the tiny VAE on shapes world (configs/train/demo_vae.json),
# 2. folds a per-channel latent scale into the VAE so its normalized latents have unit variance
#    (packages/demo-model/scripts/calibrate-vae.ts; the reconstructions do not change),
# 3. trains the tiny STDiT3 on that VAE's latents and the demo text encoder (configs/train/demo.json),
#    then continues it on 4x the clips without the resolution/length timestep shift
#    (configs/train/demo_stage2.json): at 64x64 the shift puts nearly every training step at low
#    noise, where the prompt barely matters, so stage 1 alone learns the look but not the prompt,
# 4. fine-tunes the VAE's decoder only (configs/train/demo_vae_decoder.json, freeze_encoder), which
#    sharpens the videos without moving the latent space the DiT was trained on,
# 5. exports both (the DiT's EMA weights, float16) into packages/demo-model/weights with the run records; the
#    default sampling steps and guidance come from demo_stage2.json's scheduler keys.
# Each stage resumes from its newest checkpoint when OUT_DIR already holds one (after a crash or a kill).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-out/demo-model}
resume() { if [ -d "$1/checkpoints" ] && [ -n "$(ls -A "$1/checkpoints")" ]; then echo --resume; fi; }
pnpm train --config configs/train/demo_vae.json --out "$OUT/vae" --plain $(resume "$OUT/vae")
TSX=(node --conditions=source --import tsx)
[ -f "$OUT/vae-calibrated.safetensors" ] || "${TSX[@]}" packages/demo-model/scripts/calibrate-vae.ts --vae-run "$OUT/vae" --out "$OUT/vae-calibrated.safetensors"
pnpm train --config configs/train/demo.json --out "$OUT/dit" --plain --set "vae.from_pretrained=$OUT/vae-calibrated.safetensors" $(resume "$OUT/dit")
pnpm train --config configs/train/demo_stage2.json --out "$OUT/dit2" --plain --set "vae.from_pretrained=$OUT/vae-calibrated.safetensors" \
  --set "model.from_pretrained=$OUT/dit" $(resume "$OUT/dit2")
pnpm train --config configs/train/demo_vae_decoder.json --out "$OUT/vae-decoder" --plain --set "model.from_pretrained=$OUT/vae-calibrated.safetensors" \
  --set "dataset.data_path=$OUT/vae/data/meta.csv" $(resume "$OUT/vae-decoder")
"${TSX[@]}" packages/demo-model/scripts/export.ts \
  --dit-run "$OUT/dit2" --vae-run "$OUT/vae" --vae-weights "$OUT/vae-decoder" \
  --recipe "bash tools/demo-model/recipe.sh $OUT" \
  --recipe "pnpm train --config configs/train/demo_vae.json --out $OUT/vae" \
  --recipe "node --conditions=source --import tsx packages/demo-model/scripts/calibrate-vae.ts --vae-run $OUT/vae --out $OUT/vae-calibrated.safetensors" \
  --recipe "pnpm train --config configs/train/demo.json --out $OUT/dit --set vae.from_pretrained=$OUT/vae-calibrated.safetensors" \
  --recipe "pnpm train --config configs/train/demo_stage2.json --out $OUT/dit2 --set vae.from_pretrained=$OUT/vae-calibrated.safetensors --set model.from_pretrained=$OUT/dit" \
  --recipe "pnpm train --config configs/train/demo_vae_decoder.json --out $OUT/vae-decoder --set model.from_pretrained=$OUT/vae-calibrated.safetensors --set dataset.data_path=$OUT/vae/data/meta.csv"
