#!/usr/bin/env bash
# How big the commits since BASE are as a submission: a stop whose commits pack to over 512 MiB, or
# whose diffs add up to over 256 MiB, is refused whole (stops 28 and 30 were, for committing the
# campaigns' 24 MB checkpoints too often). A binary file counts here with its old and its new size
# in every commit that changes it: each checkpoint commit costs ~48 MB, a re-shipped model ~24 MB.
#
#     bash benchmarks/submission_size.sh BASE     # BASE: the commit the session started from
set -uo pipefail
base=${1:?usage: $0 BASE (the commit this session started from)}
packed=$(git pack-objects --stdout --revs 2>/dev/null <<<"HEAD
^$base" | wc -c)
declare -A per_file
total=0
for commit in $(git rev-list "$base..HEAD"); do
  while read -r _ _ old new _ path; do
    size=0
    for blob in "$old" "$new"; do
      [[ $blob =~ ^0+$ ]] || size=$((size + $(git cat-file -s "$blob")))
    done
    per_file[$path]=$(( ${per_file[$path]:-0} + size ))
    total=$((total + size))
  done < <(git diff-tree -r --no-commit-id --no-renames "$commit" | tr '\t' ' ')
done
echo "commits since $base: $(git rev-list --count "$base..HEAD"), packed $((packed >> 20)) MiB (limit 512)," \
     "diffs counted old + new: $((total >> 20)) MiB (limit 256; keep well under)"
for path in "${!per_file[@]}"; do echo "${per_file[$path]} $path"; done | sort -rn | head -8 |
  awk '{printf "  %6.1f MiB  %s\n", $1 / 1048576, $2}'
