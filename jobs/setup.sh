#!/usr/bin/env bash
# Install what pilemix needs to build and test (Debian/Ubuntu packages), then
# configure and build it in ./build. Safe to run again: it installs only what
# is missing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# libarchive-dev, zlib1g-dev: input formats; python3, gzip, xz-utils, bzip2,
# tar: the format tests write their corpora with tools other than pilemix.
packages=(meson ninja-build pkg-config gcc libopenmpi-dev openmpi-bin libzstd-dev
          libxxhash-dev libjansson-dev libarchive-dev zlib1g-dev check zstd xxhash jq
          python3 gzip xz-utils bzip2 tar)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

builddir=${BUILDDIR:-build}
if [ ! -f "$builddir/build.ninja" ]; then
    meson setup "$builddir" ${MESON_ARGS:-} >/dev/null
else
    meson setup --reconfigure "$builddir" ${MESON_ARGS:-} >/dev/null
fi
ninja -C "$builddir"
