#!/bin/bash
# Builds the two test helpers into <out>/test/, where <out> is a build.sh
# cache dir (its src/ has the headers, root/ the patched libxenlight).
# Kept out of build.sh's cache key: editing a helper must not rebuild Xen.
#   nohv-preload.so  lets xl/libxl run without a hypervisor (see its source)
#   nic-readback     lists a domain's vifs through libxl and frees them
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:?usage: build-helpers.sh OUT}
CFLAGS=(-O2 -Wall -Wextra -Werror -D__XEN_TOOLS__ -I "$OUT/src/tools/include")
mkdir -p "$OUT/test"

stale() { [[ ! -f $1 || $2 -nt $1 ]]; }

so=$OUT/test/nohv-preload.so
if stale "$so" "$HERE/nohv-preload.c"; then
    gcc "${CFLAGS[@]}" -shared -fPIC -o "$so.tmp" "$HERE/nohv-preload.c"
    mv "$so.tmp" "$so"
fi

bin=$OUT/test/nic-readback
if stale "$bin" "$HERE/nic-readback.c"; then
    # Linked against the tree's libxenlight; libxentoollog is the host's at run time.
    gcc "${CFLAGS[@]}" -o "$bin.tmp" "$HERE/nic-readback.c" \
        "$OUT/root/usr/lib/x86_64-linux-gnu/libxenlight.so" \
        "$OUT/src/tools/libs/toollog/libxentoollog.so"
    mv "$bin.tmp" "$bin"
fi
