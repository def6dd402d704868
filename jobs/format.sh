#!/usr/bin/env bash
# Format every C source and header of the repository with clang-format and
# the .clang-format at the root, or check that they are formatted.
#
#   jobs/format.sh            rewrite the files that are not formatted
#   jobs/format.sh --check    change nothing; list the files that are not
#                             formatted and exit 1 if there is any (CI)
#
# Files: the tracked *.c and *.h (git ls-files), so build directories and
# scratch files are never touched. Installs clang-format (Debian) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
case ${1:-} in
--check) check=1 ;;
"") ;;
*)
    echo "usage: jobs/format.sh [--check]" >&2
    exit 2
    ;;
esac

if ! command -v clang-format >/dev/null; then
    echo "format: installing clang-format"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        clang-format >/dev/null
fi

files=()
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    while IFS= read -r -d '' f; do files+=("$f"); done < <(git ls-files -z -- '*.c' '*.h')
else
    while IFS= read -r -d '' f; do files+=("$f"); done \
        < <(find . -path './build*' -prune -o -type f \( -name '*.c' -o -name '*.h' \) -print0)
fi

bad=()
for f in "${files[@]}"; do
    if ! clang-format --style=file "$f" | cmp -s - "$f"; then
        bad+=("$f")
    fi
done
if ((${#bad[@]} == 0)); then
    echo "format: ${#files[@]} files, all formatted ($(clang-format --version | head -n 1))"
    exit 0
fi
if ((check)); then
    printf 'format: not formatted: %s\n' "${bad[@]}"
    echo "format: ${#bad[@]} of ${#files[@]} files need jobs/format.sh ($(clang-format --version | head -n 1))"
    exit 1
fi
clang-format --style=file -i "${bad[@]}"
printf 'format: formatted %s\n' "${bad[@]}"
