#!/bin/sh
# Static analysis of src/ (and src/mpi/ when MPI is installed): clang-tidy (checks in .clang-tidy) and cppcheck (suppressions,
# each with its reason, in tools/cppcheck-suppressions.txt); and the layout of the C
# sources of src/ include/ tests/ tools/ bench/ examples/ against .clang-format
# (tools/format.sh --check). Exits nonzero if any of them reports anything.
#
#   tools/lint.sh [BUILD_DIR]
#
# BUILD_DIR (default build-lint/ in the checkout, so that two checkouts never share a
# CMake cache) receives a CMake configure with
# compile_commands.json (clang, no tests or tools: only the library's sources).
# Needs clang, clang-tidy, clang-format and cppcheck (tools/setup.sh --verify); exits 77
# (CTest: skipped) when one of them is missing.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-lint}
status=0

command -v cmake >/dev/null 2>&1 || { echo "lint: cmake not found (tools/setup.sh)"; exit 2; }
for tool in clang clang-tidy clang-format cppcheck; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "lint: SKIPPED: $tool not found (tools/setup.sh --verify)"
        exit 77
    fi
done

mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DCMAKE_C_COMPILER=clang \
    -DWSE_BUILD_TESTS=OFF -DWSE_BUILD_TOOLS=OFF >"$build/configure.log" 2>&1 ||
    { cat "$build/configure.log"; echo "lint: cmake configure failed"; exit 2; }

# --- clang-tidy --------------------------------------------------------------------
# src/mpi/*.c too when the configure found MPI (the MPI layer is in the compile
# database then); its own .clang-tidy drops one check, with the reason.
tidy_srcs="$root/src/*.c"
if grep -q '/src/mpi/' "$build/compile_commands.json" 2>/dev/null; then
    tidy_srcs="$tidy_srcs $root/src/mpi/*.c"
    tidy_what="src/*.c src/mpi/*.c"
else
    tidy_what="src/*.c (MPI not found: src/mpi skipped)"
fi
echo "lint: clang-tidy $(clang-tidy --version | sed -n 's/.*version \([0-9.]*\).*/\1/p' | head -n 1) on $tidy_what"
tidy_log="$build/clang-tidy.log"
: >"$tidy_log"
# shellcheck disable=SC2086 # the globs are meant to expand
for src in $tidy_srcs; do
    clang-tidy --quiet -p "$build" "$src" >>"$tidy_log" 2>&1 || status=1
done
if grep -qE '(warning|error):' "$tidy_log"; then
    status=1
fi
if [ "$status" -ne 0 ]; then
    cat "$tidy_log"
    echo "lint: clang-tidy reported findings"
else
    echo "lint: clang-tidy clean"
fi

# --- cppcheck ----------------------------------------------------------------------
echo "lint: $(cppcheck --version) on src/"
# The suppressions file gives each entry's reason on '#' lines, which are stripped
# here before cppcheck reads it.
supp="$build/cppcheck-suppressions.txt"
grep -vE '^[[:space:]]*(#|$)' "$root/tools/cppcheck-suppressions.txt" >"$supp"
if ! cppcheck --quiet --enable=warning,style,performance,portability --error-exitcode=1 \
        --inline-suppr --std=c11 -D_GNU_SOURCE -I "$root/include" -I "$root/src" \
        --suppressions-list="$supp" --template=gcc \
        "$root/src" >"$build/cppcheck.log" 2>&1 || [ -s "$build/cppcheck.log" ]; then
    cat "$build/cppcheck.log"
    echo "lint: cppcheck reported findings"
    status=1
else
    echo "lint: cppcheck clean"
fi

# --- clang-format ------------------------------------------------------------------
echo "lint: clang-format $(clang-format --version | sed -n 's/.*version \([0-9.]*\).*/\1/p' | head -n 1) (tools/format.sh --check)"
if ! "$root/tools/format.sh" --check >"$build/format.log" 2>&1; then
    cat "$build/format.log"
    echo "lint: clang-format layout differs (run tools/format.sh)"
    status=1
else
    tail -n 1 "$build/format.log"
fi
exit "$status"
