#!/bin/sh
# trace.sh PYTHON3 WSE_TRACE_TOOL DIR PROGRAM: run PROGRAM on 2 ranks with
# WSE_TRACE=DIR/rank-%r.json (each rank writes its own file, named by its rank),
# then merge them with tools/wse-trace and check the merged file: valid, one
# process track group per rank, each rank's tasks in it.
# Exit 77 (skipped) without mpirun or python3.
py=$1 tool=$2 dir=$3 prog=$4
here=$(dirname "$0")
[ -x "$py" ] || { echo "python3 not found: skipped"; exit 77; }
command -v mpirun >/dev/null 2>&1 || { echo "mpirun not found: skipped"; exit 77; }
rm -rf "$dir" && mkdir -p "$dir" || exit 1
# -x: mpirun passes the variable to every rank.
WSE_TRACE="$dir/rank-%r.json" "$here/run.sh" 2 -x WSE_TRACE "$prog" || exit 1
ls "$dir"/rank-0.json "$dir"/rank-1.json || exit 1
"$py" "$tool" merge "$dir"/rank-1.json "$dir"/rank-0.json -o "$dir/merged.json" || exit 1
"$py" "$tool" check "$dir/merged.json" || exit 1
"$py" - "$dir/merged.json" <<'PY' || exit 1
import json, sys
doc = json.load(open(sys.argv[1]))
names = sorted(e["args"]["name"] for e in doc["traceEvents"]
               if e["ph"] == "M" and e["name"] == "process_name")
assert len(names) == 2 and names[0].startswith("rank 0 ") and names[1].startswith("rank 1 "), names
pids = {e["pid"] for e in doc["traceEvents"] if e["ph"] == "X" and e["cat"] == "task"}
assert len(pids) == 2, "tasks on %d ranks" % len(pids)
print("merged: %s, tasks on both ranks" % ", ".join(names))
PY
