#!/usr/bin/env bash
# Resume a training campaign from its committed checkpoint (or start it), from the repository root:
#
#     bash benchmarks/campaign_run.sh motion      # motion-deblur, naf-s-dense: campaign/motion-naf-s-dense
#     bash benchmarks/campaign_run.sh denoise     # denoise (sigma 25), naf-s-dense: campaign/denoise-naf-s-dense
#
# It trains in 30-CPU-minute segments and scores each (benchmarks/campaign.py), growing
# benchmarks/results/campaign_<task>_naf-s-dense.{csv,png}; commit the run folder's checkpoint, log
# and the curve. THREADS (1: leave a core for other work; 2 while nothing else runs), UNTIL (CPU-hours
# to stop at, 40), ROOT (where campaign/ and benchmarks/results/ live; default: this checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
root="${ROOT:-$PWD}"
net=(--preset naf-s-dense --steps 1000000 --batch 16 --crop 128 --lr 1e-3 --warmup 500 --lr-schedule constant
     --grad-clip 1 --loss psnr --amp auto --threads "${THREADS:-1}" --save-every 250)
case "${1:-}" in
  motion)
    exec python benchmarks/campaign.py "$root/campaign/motion-naf-s-dense" \
      --curve "$root/benchmarks/results/campaign_motion_naf-s-dense" --segment 30 --until-cpu-h "${UNTIL:-40}" \
      --reference "shipped edge-s (N=1, strength 0.35)=0.44" --reference "target, N=1 (strength >= 0.8)=2.5" -- \
      --task motion-deblur "${net[@]}" --photo-scales 1,0.5,0.25 --soft-radii 4,8,12,16 --dead-leaves-share 0.5 \
      --soft-leaves-share 1.0 --soft-leaves-radii 2,24 --channel-shuffle --debian-photos ;;
  denoise)
    exec python benchmarks/campaign.py "$root/campaign/denoise-naf-s-dense" \
      --curve "$root/benchmarks/results/campaign_denoise_naf-s-dense" --segment 30 --until-cpu-h "${UNTIL:-40}" \
      --reference "shipped edge-s (N=2)=8.83" --reference "BM3D=10.20" -- \
      --task denoise "${net[@]}" --photo-scales 1,0.5,0.25 --debian-photos ;;
  *) echo "usage: $0 motion|denoise" >&2; exit 2 ;;
esac
