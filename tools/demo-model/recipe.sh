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
#    and then once more at a lower rate (configs/train/demo_stage3.json, same clips),
# 4. fine-tunes the VAE's decoder only (freeze_encoder), which sharpens the videos without moving the latent
#    space the DiT was trained on: configs/train/demo_vae_decoder.json (9-frame clips), then
#    demo_vae_decoder_wide.json on stage 2's 2048 clips (stopped after 200 of its 1200 scheduled steps, as the
#    bundled run was), then demo_vae_decoder_17f.json on whole 17-frame clips: the length the DiT's videos are
#    decoded at (decoded at 9 frames only, later frames drifted in colour),
# 5. teaches the DiT direction (configs/train/demo_stage4-7.json): a fixed embedding of the latent frame index
#    (model.temporal_pos_embed; at pure noise the relative temporal RoPE alone cannot tell frames apart, so the
#    DiT drew a still blob whatever the prompt), 1024 new clips of fast motion (stage 4, uniform timesteps, stopped
#    after 1000 of its 2000 scheduled steps), then ever more of the steps at high noise, where layout and motion
#    are decided (logit-normal loc 2, then 1.5 twice, the train app's scheduler.loc),
# 6. exports stage 7 (the DiT's EMA weights and the VAE, float16) and continues the DiT from that export with a
#    frame-to-frame term in the loss (configs/train/demo_stage8.json, temporal_diff_loss_weight: errors that
#    change from frame to frame are what makes a still shape wander),
# 7. exports stage 8 into packages/demo-model/weights with the run records; the default sampling steps and
#    guidance come from the last DiT stage's scheduler keys (demo_stage8.json).
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
pnpm train --config configs/train/demo_stage3.json --out "$OUT/dit3" --plain --set "vae.from_pretrained=$OUT/vae-calibrated.safetensors" \
  --set "model.from_pretrained=$OUT/dit2" --set "dataset.data_path=$OUT/dit2/data/meta.csv" $(resume "$OUT/dit3")
# Newest checkpoint step of a run (0 before its first).
steps_done() { local s; s=$( (ls "$1/checkpoints" 2>/dev/null || true) | sort | tail -n 1 | sed 's/^step-0*//'); echo "${s:-0}"; }
# The wide decoder stage ran 200 steps of a 1200-step schedule: resume up to step 200, never past it.
if [ "$(steps_done "$OUT/vae-decoder-wide")" -lt 200 ]; then
  pnpm train --config configs/train/demo_vae_decoder_wide.json --out "$OUT/vae-decoder-wide" --plain --set "model.from_pretrained=$OUT/vae-decoder" \
    --set "dataset.data_path=$OUT/dit2/data/meta.csv" --stop-after $((200 - $(steps_done "$OUT/vae-decoder-wide"))) $(resume "$OUT/vae-decoder-wide")
fi
pnpm train --config configs/train/demo_vae_decoder_17f.json --out "$OUT/vae-decoder-17f" --plain --set "model.from_pretrained=$OUT/vae-decoder-wide" \
  --set "dataset.data_path=$OUT/vae/data/meta.csv" $(resume "$OUT/vae-decoder-17f")
# Stage 4 likewise ran 1000 steps of a 2000-step schedule; stages 5-7 read its clips and share one latent cache.
if [ "$(steps_done "$OUT/dit4")" -lt 1000 ]; then
  pnpm train --config configs/train/demo_stage4.json --out "$OUT/dit4" --plain --set "vae.from_pretrained=$OUT/vae-calibrated.safetensors" \
    --set "model.from_pretrained=$OUT/dit3" --stop-after $((1000 - $(steps_done "$OUT/dit4"))) $(resume "$OUT/dit4")
fi
prev=dit4
for n in 5 6 7; do
  pnpm train --config "configs/train/demo_stage$n.json" --out "$OUT/dit$n" --plain --set "vae.from_pretrained=$OUT/vae-calibrated.safetensors" \
    --set "model.from_pretrained=$OUT/$prev" --set "dataset.data_path=$OUT/dit4/data/meta.csv" --set "cache_dir=$OUT/dit4/cache" $(resume "$OUT/dit$n")
  prev=dit$n
done
# Stage 8 started from the float16 export of stage 7 (DiT and VAE), so the recipe exports stage 7 first.
[ -f "$OUT/stage7-export/model.json" ] || "${TSX[@]}" packages/demo-model/scripts/export.ts \
  --dit-run "$OUT/dit7" --vae-run "$OUT/vae" --vae-weights "$OUT/vae-decoder-17f" --out "$OUT/stage7-export"
pnpm train --config configs/train/demo_stage8.json --out "$OUT/dit8" --plain --set "vae.from_pretrained=$OUT/stage7-export/vae.safetensors" \
  --set "model.from_pretrained=$OUT/stage7-export/stdit.safetensors" --set "dataset.data_path=$OUT/dit4/data/meta.csv" --set "cache_dir=$OUT/dit8/cache" $(resume "$OUT/dit8")
"${TSX[@]}" packages/demo-model/scripts/export.ts \
  --dit-run "$OUT/dit8" \
  --recipe "bash tools/demo-model/recipe.sh $OUT" \
  --recipe "pnpm train --config configs/train/demo_vae.json --out $OUT/vae" \
  --recipe "node --conditions=source --import tsx packages/demo-model/scripts/calibrate-vae.ts --vae-run $OUT/vae --out $OUT/vae-calibrated.safetensors" \
  --recipe "pnpm train --config configs/train/demo.json --out $OUT/dit --set vae.from_pretrained=$OUT/vae-calibrated.safetensors" \
  --recipe "pnpm train --config configs/train/demo_stage2.json --out $OUT/dit2 --set vae.from_pretrained=$OUT/vae-calibrated.safetensors --set model.from_pretrained=$OUT/dit" \
  --recipe "pnpm train --config configs/train/demo_stage3.json --out $OUT/dit3 --set vae.from_pretrained=$OUT/vae-calibrated.safetensors --set model.from_pretrained=$OUT/dit2 --set dataset.data_path=$OUT/dit2/data/meta.csv" \
  --recipe "pnpm train --config configs/train/demo_vae_decoder.json --out $OUT/vae-decoder --set model.from_pretrained=$OUT/vae-calibrated.safetensors --set dataset.data_path=$OUT/vae/data/meta.csv" \
  --recipe "pnpm train --config configs/train/demo_vae_decoder_wide.json --out $OUT/vae-decoder-wide --set model.from_pretrained=$OUT/vae-decoder --set dataset.data_path=$OUT/dit2/data/meta.csv --stop-after 200" \
  --recipe "pnpm train --config configs/train/demo_vae_decoder_17f.json --out $OUT/vae-decoder-17f --set model.from_pretrained=$OUT/vae-decoder-wide --set dataset.data_path=$OUT/vae/data/meta.csv" \
  --recipe "pnpm train --config configs/train/demo_stage4.json --out $OUT/dit4 --set vae.from_pretrained=$OUT/vae-calibrated.safetensors --set model.from_pretrained=$OUT/dit3 --stop-after 1000" \
  --recipe "pnpm train --config configs/train/demo_stage5.json --out $OUT/dit5 --set vae.from_pretrained=$OUT/vae-calibrated.safetensors --set model.from_pretrained=$OUT/dit4 --set dataset.data_path=$OUT/dit4/data/meta.csv --set cache_dir=$OUT/dit4/cache" \
  --recipe "pnpm train --config configs/train/demo_stage6.json --out $OUT/dit6 --set vae.from_pretrained=$OUT/vae-calibrated.safetensors --set model.from_pretrained=$OUT/dit5 --set dataset.data_path=$OUT/dit4/data/meta.csv --set cache_dir=$OUT/dit4/cache" \
  --recipe "pnpm train --config configs/train/demo_stage7.json --out $OUT/dit7 --set vae.from_pretrained=$OUT/vae-calibrated.safetensors --set model.from_pretrained=$OUT/dit6 --set dataset.data_path=$OUT/dit4/data/meta.csv --set cache_dir=$OUT/dit4/cache" \
  --recipe "node --conditions=source --import tsx packages/demo-model/scripts/export.ts --dit-run $OUT/dit7 --vae-run $OUT/vae --vae-weights $OUT/vae-decoder-17f --out $OUT/stage7-export" \
  --recipe "pnpm train --config configs/train/demo_stage8.json --out $OUT/dit8 --set vae.from_pretrained=$OUT/stage7-export/vae.safetensors --set model.from_pretrained=$OUT/stage7-export/stdit.safetensors --set dataset.data_path=$OUT/dit4/data/meta.csv --set cache_dir=$OUT/dit8/cache"
