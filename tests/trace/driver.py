#!/usr/bin/env python3
"""Tests of tools/wse-trace on the hand-written traces of this directory.

    driver.py TEST TOOL FIXTURES WORKDIR

TEST: help, check_valid, check_rejects, summary, merge or plot. The figures
asserted are worked out by hand from the fixtures' timelines (small.json: two
workers and a plain thread over 1.450 ms). Exit 0 passed, 1 failed, 77 skipped
(plot without gnuplot).
"""

import json
import os
import shutil
import subprocess
import sys

TEST, TOOL, HERE, WORK = sys.argv[1:5]
SMALL = os.path.join(HERE, "small.json")
RANK1 = os.path.join(HERE, "rank1.json")


def run(*args, env=None):
    """The tool's exit code, stdout and stderr."""
    p = subprocess.run([sys.executable, TOOL] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, env=env)
    return p.returncode, p.stdout, p.stderr


def fail(message):
    print("FAILED: " + message)
    sys.exit(1)


def expect(cond, message):
    if not cond:
        fail(message)


def rows(text):
    """The output's lines as lists of words, to compare rows whatever the spacing."""
    return [line.split() for line in text.splitlines()]


def test_help():
    for sub in ([], ["summary"], ["plot"], ["merge"], ["check"]):
        rc, out, err = run(*(sub + ["--help"]))
        expect(rc == 0 and "usage: wse-trace" in out, "%s --help: %d %s" % (sub, rc, err))
    rc, _, err = run()
    expect(rc == 2 and "usage" in err, "no command: exit 2 with the usage, got %d" % rc)


def test_check_valid():
    rc, out, err = run("check", SMALL, RANK1, os.path.join(HERE, "rounding.json"))
    expect(rc == 0, "check of the valid fixtures failed: " + err)
    lines = out.splitlines()
    expect(len(lines) == 3, "one line per file: %r" % out)
    expect(lines[0] == SMALL + ": 50 events, 3 threads, 5 flows: ok (unpaired arrows: "
           "1 ends without their submit, 1 submits whose task had not started)", lines[0])
    expect(lines[1] == RANK1 + ": 13 events, 2 threads, 1 flows: ok", lines[1])
    # A chunk ending 1 ns after its task and an arrow 1 ns after its chunk's start:
    # rounding, accepted.
    expect(lines[2].endswith(": 5 events, 1 threads, 0 flows: ok (unpaired arrows: "
                             "1 ends without their submit, 0 submits whose task had "
                             "not started)"), lines[2])


# Each broken fixture and what the message must say.
REJECTS = {
    "overlap.json": "pid 1 tid 2: slices overlap partially: task 'f' [10.0, 30.0] us "
                    "(traceEvents[2]) and wait 'wait' [20.0, 40.0] us (traceEvents[3])",
    "overlap_2ns.json": "slices overlap partially: task 'wse_for runner' [10.0, 30.0] us",
    "no_thread_name.json": "pid 1 tid 7 has events but no thread_name metadata",
    "bad_ph.json": 'traceEvents[2] (ph B, tid 2, ts 10.0): ph "B" is not one of M, X, '
                   's, f, i',
    "flow_not_at_start.json": "traceEvents[5] (ph f, tid 2, ts 15.0): flow end (id 0x10) "
                              "is not at the start of a task or chunk slice of its thread",
    "flow_no_bp.json": "an 'f' event needs \"bp\":\"e\"",
    "bad_from.json": 'args.from of a task slice must be one of '
                     'own/stolen/injected/claimed, not "robbed"',
    "negative_dur.json": "'dur' must be a number >= 0, not -1",
    "wait_no_outcome.json": "a wait slice needs args.outcome",
    "not_a_trace.json": "not a trace: the top level must be an object with a "
                        "'traceEvents' list",
}


def test_check_rejects():
    broken = os.path.join(HERE, "broken")
    found = sorted(f for f in os.listdir(broken) if f.endswith(".json"))
    expect(found == sorted(REJECTS), "broken/ holds %s, the test knows %s"
           % (found, sorted(REJECTS)))
    for name, message in sorted(REJECTS.items()):
        path = os.path.join(broken, name)
        rc, out, err = run("check", path)
        expect(rc == 1, "%s: exit %d, expected 1 (%s)" % (name, rc, out + err))
        expect(err.startswith("wse-trace check: %s: " % path) and message in err,
               "%s: expected '%s' in: %s" % (name, message, err))
        print("rejected %s: %s" % (name, err.strip()))
    rc, _, err = run("check", os.path.join(HERE, "missing.json"))
    expect(rc == 1 and "No such file" in err, "a missing file: %d %s" % (rc, err))


def test_summary():
    rc, out, err = run("summary", SMALL)
    expect(rc == 0, "summary failed: " + err)
    got = rows(out)
    want = [
        # thread, tid, then ms and % of 1.450 ms: busy, helping, waiting, spinning, parked
        "worker 0 4243 0.100 6.9 0.100 6.9 0.250 17.2 0.032 2.2 0.968 66.8",
        "worker 1 4244 0.800 55.2 0.000 0.0 0.000 0.0 0.075 5.2 0.570 39.3",
        "thread 4242 4242 0.000 0.0 0.470 32.4 0.748 51.6 0.000 0.0 0.000 0.0",
        "all 0.900 20.7 0.570 13.1 0.998 22.9 0.107 2.5 1.538 35.4",
        # tasks, stolen, injected, helped, chunks
        "worker 0 4243 3 1 1 1 0",
        "worker 1 4244 2 1 1 0 1",
        "thread 4242 4242 1 0 0 1 1",
        "all 6 2 2 2 2",
        # the longest tasks, then the longest waits
        "0.500 worker 1 compute",
        "0.400 worker 0 compute",
        "0.300 worker 1 wse_for runner",
        "0.050 worker 0 tail",
        "0.898 thread 4242 ALL_COMPLETED 3 0 forever",
        "0.350 worker 0 FIRST_EXCEPTION 2 0 1.5",
        "0.120 thread 4242 ALL_COMPLETED 1 0 2.5",
    ]
    for line in want:
        expect(line.split() in got, "summary lacks the row '%s':\n%s" % (line, out))
    expect(out.startswith(SMALL + ": wsexec 0.3.0, span 1.450 ms,"), out.splitlines()[0])
    # Longest first: compute (0.500) before wse_for runner (0.300).
    expect(out.index("0.500  worker 1") < out.index("0.300  worker 1"), "task order")
    print(out)


def merged_file(*extra):
    out = os.path.join(WORK, "merged.json")
    rc, text, err = run("merge", SMALL, RANK1, "-o", out, *extra)
    expect(rc == 0, "merge failed: " + err)
    return out


def test_merge():
    os.makedirs(WORK, exist_ok=True)
    out = merged_file()
    # Both inputs have pid 4242 and the flow id 0x1000 open at the same time: the
    # merged file must still check (no arrow between the ranks).
    rc, text, err = run("check", out)
    expect(rc == 0, "check of the merged file: " + err)
    expect(text.startswith(out + ": 65 events, 5 threads, 6 flows: ok"), text)
    with open(out) as f:
        doc = json.load(f)
    names = {e["pid"]: e["args"]["name"] for e in doc["traceEvents"]
             if e["ph"] == "M" and e["name"] == "process_name"}
    expect(sorted(names.values()) == ["rank 0 (pid 4242)", "rank 1 (pid 4242)"],
           "process names: %s" % names)
    expect(len({e["pid"] for e in doc["traceEvents"]}) == 2, "two distinct pids")
    expect(doc["displayTimeUnit"] == "ns" and doc["otherData"]["events_per_thread"] == 32768,
           "header: %s" % doc["otherData"])
    # The ranks' figures are those of their own files.
    rc, text, err = run("summary", out)
    expect(rc == 0, "summary of the merged file: " + err)
    expect("rank 1 (pid 4242): time in ms" in text, text)
    expect("worker 0 4243 0.285 19.7 0.000 0.0 0.000 0.0 0.025 1.7 0.190 13.1".split()
           in rows(text), "rank 1's worker 0:\n" + text)
    # --ranks names them; a wrong count is a usage error.
    out = merged_file("--ranks", "3,5")
    with open(out) as f:
        names = sorted(e["args"]["name"] for e in json.load(f)["traceEvents"]
                       if e["name"] == "process_name")
    expect(names == ["rank 3 (pid 4242)", "rank 5 (pid 4242)"], "--ranks: %s" % names)
    rc, _, err = run("merge", SMALL, RANK1, "-o", out, "--ranks", "1")
    expect(rc == 2 and "--ranks" in err, "--ranks 1 for two files: %d %s" % (rc, err))


def test_plot():
    os.makedirs(WORK, exist_ok=True)
    png = os.path.join(WORK, "small.png")
    # Without gnuplot on PATH: a clear message and exit 2.
    empty = os.path.join(WORK, "empty-path")
    os.makedirs(empty, exist_ok=True)
    rc, _, err = run("plot", SMALL, "-o", png, env=dict(os.environ, PATH=empty))
    expect(rc == 2 and "gnuplot not found" in err, "no gnuplot: %d %s" % (rc, err))
    if shutil.which("gnuplot") is None:
        print("SKIPPED: gnuplot not found (Debian package gnuplot-nox)")
        sys.exit(77)
    for args in ([SMALL], [SMALL, RANK1, "--from", "0.1", "--to", "0.6"]):
        if os.path.exists(png):
            os.remove(png)
        rc, out, err = run("plot", *args, "-o", png)
        expect(rc == 0, "plot %s: %s" % (args, err))
        with open(png, "rb") as f:
            head = f.read(8)
        expect(head == b"\x89PNG\r\n\x1a\n", "%s does not start with the PNG signature"
               % png)
        expect(os.path.getsize(png) > 1000, "%s is too small" % png)
        print(out.strip())


if __name__ == "__main__":
    globals()["test_" + TEST]()
    print("passed: " + TEST)
