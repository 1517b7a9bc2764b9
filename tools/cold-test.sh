#!/usr/bin/env bash
# `make test-cold`: the whole suite as a machine that never saw xlnet runs it.
# Every cache the build and the tests use is pointed at a new empty directory
# and every build output of the tree is removed first:
#   XLNET_CACHE        libxl builds and source download, xenlab images, debs, overlays
#   npm_config_cache   npm's download cache (npm ci fetches from the registry again)
#   TMPDIR             tsx's transform cache and every test's temporary files
#   node_modules, plugin/dist, datapath/build, lab/*/build   removed
# Debian packages already installed stay installed (apt is the machine, not a cache).
# The directory is removed at the end unless XLNET_COLD_KEEP=1.
#   make test-cold [TESTS=...]
set -euo pipefail
cd "$(dirname "$0")/.."
base=${XLNET_COLD_BASE:-/var/tmp}
cold=$(mktemp -d "$base/xlnet-cold.XXXXXX")
[[ ${XLNET_COLD_KEEP:-0} == 1 ]] || trap 'rm -rf "$cold"' EXIT
mkdir -p "$cold/cache" "$cold/npm" "$cold/tmp"
export XLNET_CACHE=$cold/cache npm_config_cache=$cold/npm TMPDIR=$cold/tmp
unset XLNET_XENLAB_CACHE
echo "xlnet: cold run: caches in $cold (empty), build outputs removed"
rm -rf node_modules
make -s clean
t0=$(date +%s)
status=0
make test TESTS="${TESTS:-}" || status=$?
echo "xlnet: cold run finished in $(( ($(date +%s) - t0) / 60 )) min $(( ($(date +%s) - t0) % 60 )) s, exit $status"
exit $status
