#!/usr/bin/env bash
# Installs everything xlnet's build, tests and demo need on Debian 12, as root:
# the Debian packages listed in every */apt-packages.txt of the repository
# (each component lists its own), then the npm dependencies (npm ci).
# Idempotent: packages already installed are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "xlnet: $*" >&2; exit 1; }

[ "$(uname -s)" = Linux ] || die "needs Linux (found $(uname -s))"
[ "$(id -u)" = 0 ] || die "needs root (it installs Debian packages and creates network namespaces); run it with sudo"
command -v apt-get >/dev/null || die "needs a Debian system with apt-get (Debian 12 is the reference)"

mapfile -t pkgs < <(find . -name apt-packages.txt -not -path './node_modules/*' -print0 | xargs -0 cat \
  | sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$' | sort -u)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "xlnet: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine has no package lists yet; refresh them when a package is unknown.
  if ! apt-get install -y -q -o DPkg::Lock::Timeout=900 --no-install-recommends "${missing[@]}"; then
    apt-get update -q
    apt-get install -y -q -o DPkg::Lock::Timeout=900 --no-install-recommends "${missing[@]}"
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "xlnet: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
