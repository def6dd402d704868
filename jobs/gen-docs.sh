#!/usr/bin/env bash
# Regenerate the generated parts of the README: the config table between the
# config-keys markers, from the schema table in src/config.c. Run it after
# adding or changing a config key, then commit README.md; the config_doc test
# fails until you do.
#
#   jobs/gen-docs.sh            uses ./build (BUILDDIR=... to change)
set -euo pipefail
cd "$(dirname "$0")/.."
builddir=${BUILDDIR:-build}
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" >/dev/null
ninja -C "$builddir" pilemix-config-doc >/dev/null
"$builddir/pilemix-config-doc" --update README.md
echo "gen-docs: README.md config table regenerated"
