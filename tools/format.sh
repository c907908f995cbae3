#!/bin/sh
# Lay out the C sources with clang-format and the repository's .clang-format.
#
#   tools/format.sh [--check] [PATH...]
#
# PATH: files or directories (default: src include tests tools bench examples, those
# that exist); directories are searched for *.c, *.h, *.cpp and *.hpp, skipping build
# trees (build*/, as .gitignore: bench/build holds CMake's generated sources).
# Without --check, reformats the files in place. With --check, changes nothing: lists
# the files whose layout differs from what clang-format would produce (with the number
# of lines that would change) and exits 1 if there is any, 0 if there is none.
# Needs clang-format (Debian 'clang-format', tools/setup.sh --verify); exits 77 without
# it. CLANG_FORMAT names another binary.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cf=${CLANG_FORMAT:-clang-format}
check=0
if [ "${1:-}" = "--check" ]; then
    check=1
    shift
fi
case "${1:-}" in
-*)
    echo "usage: tools/format.sh [--check] [PATH...]" >&2
    exit 2
    ;;
esac
if ! command -v "$cf" >/dev/null 2>&1; then
    echo "format: SKIPPED: $cf not found (tools/setup.sh --verify)"
    exit 77
fi

cd "$root"
if [ $# -eq 0 ]; then
    for d in src include tests tools bench examples; do
        [ -d "$d" ] && set -- "$@" "$d"
    done
fi

list=$(mktemp)
trap 'rm -f "$list"' EXIT
for p in "$@"; do
    if [ -d "$p" ]; then
        find "$p" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' \) \
            -not -path '*/corpus/*' -not -path '*/build*/*'
    elif [ -f "$p" ]; then
        echo "$p"
    else
        echo "format: no such file or directory: $p" >&2
        exit 2
    fi
done | sort -u >"$list"

differ=0
files=0
while IFS= read -r f; do
    files=$((files + 1))
    if [ "$check" -eq 1 ]; then
        # Lines of the file that would change (diff's '-' lines, less its header).
        n=$("$cf" --style=file "$f" | diff -U0 "$f" - | sed 1,2d | grep -c '^-' || true)
        if [ "$n" -gt 0 ]; then
            echo "$f: $n lines differ"
            differ=$((differ + 1))
        fi
    else
        "$cf" --style=file -i "$f"
    fi
done <"$list"

if [ "$check" -eq 1 ]; then
    if [ "$differ" -gt 0 ]; then
        echo "format: $differ of $files files differ from .clang-format (tools/format.sh to fix)"
        exit 1
    fi
    echo "format: $files files match .clang-format"
fi
exit 0
