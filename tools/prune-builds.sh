#!/usr/bin/env bash
# Removes old cached builds: in DIR, the subdirectories named by a 16-hex-digit
# key other than CURRENT, all but the KEEP newest (default 2). Used by every
# cache that keeps builds by key (libxl-patch/build.sh, xenlab/build-*.sh).
# Succeeds when there is nothing to prune (a first run on an empty cache).
#
#   tools/prune-builds.sh DIR CURRENT [KEEP]
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: $0 DIR CURRENT [KEEP]" >&2; exit 2; }
dir=$1 current=$2 keep=${3:-2}
[[ $keep =~ ^[0-9]+$ ]] || { echo "prune-builds.sh: KEEP must be a number, got '$keep'" >&2; exit 2; }
[[ -d $dir ]] || exit 0
mapfile -t old < <(find "$dir" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended \
    -regex '.*/[0-9a-f]{16}' ! -name "$current" -printf '%T@ %p\n' | sort -rn | cut -d' ' -f2-)
for d in "${old[@]:keep}"; do rm -rf -- "$d"; done
