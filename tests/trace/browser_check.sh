#!/bin/sh
# Opens a wsexec trace in real trace viewers inside headless Chromium and checks that they
# read all of it (browser_check.js says what is compared): chrome://tracing's viewer
# (Catapult), the Performance panel of Chromium's DevTools, and the Perfetto UI v20.1
# (the 2021 build on npm, served from 127.0.0.1; not today's ui.perfetto.dev).
#
#   tests/trace/browser_check.sh [--viewer catapult|devtools|perfetto|all] [--window FROM_MS,TO_MS] TRACE.json OUT.png
#
# Exit 0: every viewer read the whole file (OUT.png shows it); 1: one rejected or lost
# something; 77 (skipped): no node, Chromium or npm packages (tools/setup.sh --browser).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null 2>&1; then
    echo "SKIPPED: node not found (tools/setup.sh --browser)"
    exit 77
fi
if [ "$(node -p 'process.versions.node.split(".")[0] >= 20')" != true ]; then
    echo "SKIPPED: node $(node --version) is older than 20, which playwright-core needs"
    exit 77
fi
exec node "$here/browser_check.js" "$@"
