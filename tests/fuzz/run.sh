#!/bin/sh
# Build the API fuzzer (tests/fuzz/fuzz_api.c, libFuzzer + ASan/LSan + UBSan) and run it:
# first the seed corpus alone (every file once), then fuzzing for a bounded time.
#
#   tests/fuzz/run.sh [SECONDS] [BUILD_DIR]
#
# SECONDS: fuzzing time (default 60; 0: only replay the corpus). A long run is
# `tests/fuzz/run.sh 3600`. BUILD_DIR (default build-fuzz/ in the checkout) holds the binary,
# the working corpus (new inputs found; the seed corpus in the tree is read only) and
# crash artifacts (crash-*, timeout-*, leak-*). Exits nonzero on a crash, a model
# violation, a leak, a timeout (> 10 s for one input) or a build failure.
# Environment: CC (default clang), FUZZ_EXTRA_ARGS (extra libFuzzer flags).
# Needs clang with its runtimes (tools/setup.sh --verify) and pkg-config ck; exits 77
# (CTest: skipped) when clang or its libFuzzer/ASan runtime is missing.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${1:-60}
build=${2:-$root/build-fuzz}
cc=${CC:-clang}
case "$cc" in *clang*) ;; *) cc=clang ;; esac

mkdir -p "$build/obj" "$build/corpus" "$build/artifacts"

# --- The tool: clang that links a libFuzzer + ASan + UBSan program ----------------
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: SKIPPED: $cc not found (tools/setup.sh --verify)"
    exit 77
fi
probe="$build/probe"
mkdir -p "$probe"
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
    >"$probe/probe.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe/probe.c" -o "$probe/probe" \
        >"$probe/probe.log" 2>&1; then
    cat "$probe/probe.log"
    echo "fuzz: SKIPPED: $cc cannot link a libFuzzer program (Debian: libclang-rt-14-dev;" \
        "tools/setup.sh --verify)"
    exit 77
fi

# --- Build ------------------------------------------------------------------------
ck_cflags=$(pkg-config --cflags ck)
ck_libs=$(pkg-config --libs ck)
common="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -I$root/include -I$root/src
        -fsanitize=address,undefined -fno-sanitize-recover=undefined -pthread $ck_cflags"
objs=""
for src in "$root"/src/*.c; do
    obj="$build/obj/$(basename "$src" .c).o"
    # shellcheck disable=SC2086
    $cc $common -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
    objs="$objs $obj"
done
# shellcheck disable=SC2086
$cc $common -Wall -Wextra -Werror -fsanitize=fuzzer "$here/fuzz_api.c" $objs $ck_libs -lm \
    -o "$build/fuzz_api"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
log="$build/fuzz.log"

# --- Replay the seed corpus, each file once ----------------------------------------
n_seeds=$(find "$here/corpus" -type f | wc -l)
echo "fuzz: replaying $n_seeds seed inputs"
# shellcheck disable=SC2046
if ! "$build/fuzz_api" -timeout=10 -artifact_prefix="$build/artifacts/" \
        $(find "$here/corpus" -type f | sort) >"$build/replay.log" 2>&1; then
    tail -n 40 "$build/replay.log"
    echo "fuzz: FAILED replaying the seed corpus (log: $build/replay.log)"
    exit 1
fi
[ "$secs" -gt 0 ] || { echo "fuzz: corpus replay passed"; exit 0; }

# --- Fuzz ---------------------------------------------------------------------------
echo "fuzz: fuzzing for $secs s (working corpus $build/corpus, artifacts $build/artifacts)"
rc=0
# shellcheck disable=SC2086
"$build/fuzz_api" -max_total_time="$secs" -timeout=10 -max_len=512 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/" ${FUZZ_EXTRA_ARGS:-} \
    "$build/corpus" "$here/corpus" >"$log" 2>&1 || rc=$?
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$log" || true
grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb)' "$log" || true
echo "fuzz: working corpus: $(find "$build/corpus" -type f | wc -l) files"
if [ "$rc" -ne 0 ]; then
    grep -E 'model violation|ERROR: |SUMMARY: |Test unit written' "$log" | head -n 20 || true
    tail -n 60 "$log"
    echo "fuzz: FAILED (exit $rc, log: $log); reproduce: $build/fuzz_api <artifact>"
    exit 1
fi
echo "fuzz: passed"
