#!/usr/bin/env bash
# `meson install` into a temporary DESTDIR puts everything where it belongs:
# bin/pilemix and bin/pilemix-gencorpus (running), share/man/man1/pilemix.1
# (rendering without warnings, naming every command of `pilemix --help`
# and every config key of the schema), share/pilemix/configs/*.json (valid
# JSON). And `pilemix --version` names zstd, jansson, xxHash and MPI, each
# built with and running, agreeing with pkg-config and Open MPI.
# usage: test_install.sh BUILD_DIR SOURCE_DIR
. "$(dirname "$0")/../mpi/lib.sh"
build=$1
src=$2

if meson install -C "$build" --no-rebuild --destdir "$T/root" >"$T/install.log" 2>&1; then
    ok "meson install --destdir"
else
    not_ok "meson install"
    tail -20 "$T/install.log"
    finish
    exit 1
fi
find_one() { find "$T/root" -path "$1" | head -n 1; }
bin=$(find_one '*/bin/pilemix')
gen=$(find_one '*/bin/pilemix-gencorpus')
man=$(find_one '*/share/man/man1/pilemix.1')
cfg=$(find_one '*/share/pilemix/configs/demo.json')
if [ -x "$bin" ] && [ -x "$gen" ] && [ -s "$man" ] && [ -s "$cfg" ]; then
    ok "installed: bin/pilemix, bin/pilemix-gencorpus, man1/pilemix.1, share/pilemix/configs"
else
    not_ok "installed files: bin '$bin' gen '$gen' man '$man' cfg '$cfg'"
    find "$T/root" -type f >&2
fi
for f in $(find "$T/root" -path '*/share/pilemix/configs/*.json'); do
    jq -e '.name and (.components | length > 0)' "$f" >/dev/null || not_ok "$f is not a config"
done
if "$gen" --help 2>&1 | grep -q 'usage: pilemix-gencorpus'; then
    ok "the installed generator runs"
else
    not_ok "the installed generator"
fi

# --version: every library, built with and running, matching what is installed.
"$bin" --version >"$T/version"
cat "$T/version"
v_ok=1
for lib in zstd:libzstd jansson:jansson xxHash:libxxhash; do
    name=${lib%%:*}
    want=$(pkg-config --modversion "${lib#*:}")
    grep -qE "^  $name +built with $want, running $want\$" "$T/version" || v_ok=0
done
ompi=$(ompi_info --version 2>/dev/null | sed -n 's/^Open MPI v\([0-9.]*\).*/\1/p' | head -n 1)
grep -qE "^  MPI +built with Open MPI $ompi \(MPI [0-9.]+\), running Open MPI v?$ompi" "$T/version" || v_ok=0
if [ "$v_ok" -eq 1 ] && head -1 "$T/version" | grep -qE '^pilemix [0-9]+\.[0-9]+\.[0-9]+$'; then
    ok "--version: zstd, jansson, xxHash and Open MPI, built with and running"
else
    not_ok "--version"
fi

# The man page: every command of --help and every config key of the schema.
missing=""
for c in $("$bin" --help | sed -n 's/^  pilemix \([a-z]*\) .*/\1/p'); do
    grep -q "^\.BI\? $c\b\|^\.B pilemix $c\b" "$man" || missing="$missing command:$c"
done
for k in $("$build/pilemix-config-doc" --markdown | sed -n 's/^| `\([^`]*\)` .*/\1/p'); do
    grep -qF ".B $k" "$man" || missing="$missing key:$k"
done
if [ -z "$missing" ]; then
    ok "the man page has every command and every config key"
else
    not_ok "the man page lacks$missing"
fi
if command -v groff >/dev/null; then
    if groff -k -man -Tutf8 -ww -z "$man" 2>"$T/groff.log" && [ ! -s "$T/groff.log" ]; then
        ok "groff renders the man page without warnings"
    else
        not_ok "groff warnings"
        cat "$T/groff.log"
    fi
else
    skip "groff not installed: the man page's roff is not checked"
fi
if command -v man >/dev/null; then
    if MANPAGER=cat MANWIDTH=100 man -l "$man" 2>/dev/null | grep -q "components\[\].epochs"; then
        ok "man -l renders it"
    else
        not_ok "man -l"
    fi
else
    skip "man not installed"
fi
# The page is generated from the template at build time: the template in
# the source tree is what the build used.
if [ "$(grep -c '^\.\\" @CONFIG_KEYS@$' "$src/docs/pilemix.1.in")" -eq 1 ] &&
    ! grep -q '@CONFIG_KEYS@\|@VERSION@' "$man"; then
    ok "the installed page has its placeholders filled"
else
    not_ok "placeholders"
fi
finish
