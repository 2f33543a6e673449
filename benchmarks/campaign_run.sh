#!/usr/bin/env bash
# Resume a training campaign from its committed checkpoint (or start it), from the repository root:
#
#     bash benchmarks/campaign_run.sh motion      # motion-deblur, naf-s-dense: campaign/motion-naf-s-dense
#     bash benchmarks/campaign_run.sh denoise     # denoise (sigma 25), naf-s-dense: campaign/denoise-naf-s-dense
#     bash benchmarks/campaign_run.sh denoise-decay   # a cosine lr decay branched off that campaign's weights,
#     bash benchmarks/campaign_run.sh motion-decay    # named by the step it leaves from: campaign/<run>-decay-<step>
#                                                     # (an unfinished one is resumed instead)
#     TAG=t1 EXTRA="--p-t linear_a --p-t-a 0.5" bash benchmarks/campaign_run.sh motion-decay
#         # a branch with another recipe off the same step: EXTRA is added to its training arguments,
#         # TAG names it campaign/<run>-decay-<step>-t1
#     bash benchmarks/campaign_run.sh motion-deep        # the motion campaign grown deeper (naf-s-dense-deep: 2 more
#                                                        # blocks at 1/16 size, starting as the identity) from its
#                                                        # weights when first run: campaign/motion-naf-s-dense-deep
#     bash benchmarks/campaign_run.sh motion-deep-decay  # a decay branch off that one
#
# It trains in 30-CPU-minute segments and scores each (benchmarks/campaign.py), growing
# benchmarks/results/campaign_<task>_naf-s-dense.{csv,png}; commit the run folder's checkpoint, log
# and the curve. THREADS (1: leave a core for other work; 2 while nothing else runs), UNTIL (CPU-hours
# to stop at, 40), FLAT (also stop once the held-out gain has been flat, within 0.05 dB, for this many
# CPU-hours: campaign.py's flat_stretch; unset: keep going), ROOT (where campaign/ and benchmarks/results/
# live; default: this checkout), NICE (19: the campaign yields the CPU to whatever else runs, so tests and
# builds beside it run at their own speed; the test suite took 518 s beside two niced campaigns and 502 s
# with them paused, on an EPYC Zen 3).
set -euo pipefail
cd "$(dirname "$0")/.."
root="${ROOT:-$PWD}"
net=(--preset naf-s-dense --steps 1000000 --batch 16 --crop 128 --warmup 500 --lr-schedule constant
     --grad-clip 1 --loss psnr --amp auto --compile --threads "${THREADS:-1}" --save-every 250)
# A decay branch starts from the campaign's EMA weights with a fresh Adam (short warm-up), half the peak lr,
# cosine down to 1/100 over DECAY_STEPS, on other batches than the campaign's first ones (seed 1).
decay=(--lr 5e-4 --warmup 200 --lr-schedule cosine --steps "${DECAY_STEPS:-6000}" --seed 1)
deep=(--preset naf-s-dense-deep --checkpoint-moments bf16)  # after net's --preset: the later one counts
read -r -a extra <<< "${EXTRA:-}"  # a decay branch's own training arguments (with TAG), last so they override
tag=(${TAG:+--tag "$TAG"})
# The motion campaign's phases (a resumed run may lower its lr, never raise it): lr 1e-3 with 50% dead leaves to
# step 153,531 (14.02 CPU-h), where its held-out gain had been flat within 0.05 dB for over 2 CPU-hours; then lr 5e-4
# with 20% dead leaves, the mix with which a decay branch off step 140,000 beat the same decay with 50% off step
# 126,750 on the video split, +2.18 against +2.01 dB (results/campaign_motion_naf-s-dense_decay-140000-t1long-dl02.csv).
# On 8 December (night), from step 201,750 (17.59 CPU-h), the same recipe also runs on naf-s-dense-deep grown from the
# campaign's weights (motion-deep), to see whether depth at 1/16 size lifts a curve rising ~0.05 dB per CPU-hour.
# Denoise is still in its first phase.
motion_lr=(--lr 5e-4)
denoise_lr=(--lr 1e-3)
motion_data=(--photo-scales 1,0.5,0.25 --soft-radii 4,8,12,16 --dead-leaves-share 0.2 --soft-leaves-share 1.0
             --soft-leaves-radii 2,24 --channel-shuffle --debian-photos)
motion_refs=(--reference "shipped 8 Dec: decay-173500-t1long18k (N=1, strength 1)=1.62" --reference "target, N=1 (strength >= 0.8)=2.5")
denoise_refs=(--reference "shipped 7 Dec (night): decay-51750-d12k (N=2)=10.25" --reference "BM3D=10.20")
case "${1:-}" in
  motion)
    exec nice -n "${NICE:-19}" python benchmarks/campaign.py "$root/campaign/motion-naf-s-dense" \
      --curve "$root/benchmarks/results/campaign_motion_naf-s-dense" --segment 30 --until-cpu-h "${UNTIL:-40}" ${FLAT:+--until-flat "$FLAT"} \
      "${motion_refs[@]}" -- --task motion-deblur "${net[@]}" "${motion_lr[@]}" "${motion_data[@]}" ;;
  motion-decay)
    exec nice -n "${NICE:-19}" python benchmarks/campaign.py \
      --branch-of "$root/campaign/motion-naf-s-dense" --curve "$root/benchmarks/results/campaign_motion_naf-s-dense_decay" \
      --segment 15 --until-cpu-h "${UNTIL:-40}" "${tag[@]}" "${motion_refs[@]}" -- \
      --task motion-deblur "${net[@]}" "${decay[@]}" "${motion_data[@]}" "${extra[@]}" ;;
  motion-deep)  # same recipe; its checkpoint keeps Adam's moments in bf16 to stay under 30 MB
    exec nice -n "${NICE:-19}" python benchmarks/campaign.py "$root/campaign/motion-naf-s-dense-deep" \
      --branch-of "$root/campaign/motion-naf-s-dense" --curve "$root/benchmarks/results/campaign_motion_naf-s-dense_grown-deep" \
      --segment 30 --until-cpu-h "${UNTIL:-40}" ${FLAT:+--until-flat "$FLAT"} "${motion_refs[@]}" -- \
      --task motion-deblur "${net[@]}" "${deep[@]}" "${motion_lr[@]}" "${motion_data[@]}" ;;
  motion-deep-decay)
    exec nice -n "${NICE:-19}" python benchmarks/campaign.py \
      --branch-of "$root/campaign/motion-naf-s-dense-deep" --curve "$root/benchmarks/results/campaign_motion_naf-s-dense_grown-deep_decay" \
      --segment 15 --until-cpu-h "${UNTIL:-40}" "${tag[@]}" "${motion_refs[@]}" -- \
      --task motion-deblur "${net[@]}" "${deep[@]}" "${decay[@]}" "${motion_data[@]}" "${extra[@]}" ;;
  denoise)
    exec nice -n "${NICE:-19}" python benchmarks/campaign.py "$root/campaign/denoise-naf-s-dense" \
      --curve "$root/benchmarks/results/campaign_denoise_naf-s-dense" --segment 30 --until-cpu-h "${UNTIL:-40}" ${FLAT:+--until-flat "$FLAT"} \
      "${denoise_refs[@]}" -- --task denoise "${net[@]}" "${denoise_lr[@]}" --photo-scales 1,0.5,0.25 --debian-photos ;;
  denoise-decay)
    exec nice -n "${NICE:-19}" python benchmarks/campaign.py \
      --branch-of "$root/campaign/denoise-naf-s-dense" --curve "$root/benchmarks/results/campaign_denoise_naf-s-dense_decay" \
      --segment 15 --until-cpu-h "${UNTIL:-40}" "${tag[@]}" "${denoise_refs[@]}" -- \
      --task denoise "${net[@]}" "${decay[@]}" --photo-scales 1,0.5,0.25 --debian-photos "${extra[@]}" ;;
  *) echo "usage: $0 motion|motion-decay|motion-deep|motion-deep-decay|denoise|denoise-decay" >&2; exit 2 ;;
esac
