#!/bin/sh
# Opens a wsexec trace in real trace viewers inside headless Chromium and checks that they
# read all of it (browser_check.js says what is compared): chrome://tracing's viewer
# (Catapult), and the Performance panel of Chromium's DevTools.
#
#   tests/trace/browser_check.sh [--viewer catapult|devtools|all] [--window FROM_MS,TO_MS] TRACE.json OUT.png
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
