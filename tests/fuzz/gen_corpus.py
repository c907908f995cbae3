#!/usr/bin/env python3
"""Write the seed corpus of tests/fuzz/fuzz_api.c into tests/fuzz/corpus/.

Each seed is a small program in the fuzzer's byte layout (see the comment at the top
of fuzz_api.c): byte 0 configures the executor, then opcode bytes with operands.
Run it again after changing the layout: python3 tests/fuzz/gen_corpus.py
"""
import os

(SUBMIT, BATCH, CANCEL, ON_DONE, WAIT, WAIT_UNTIL, FUTURE_WAIT, OBSERVE, SHUTDOWN,
 RECREATE, RETAIN, RELEASE, BAD) = range(13)
VALUE, FAIL, SLEEP, CHILDREN, DEADLOCK, SELF_WAIT, WAIT_OTHERS = range(7)
FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED = 0, 1, 2        # mode byte % 3
T0, T_HALF_MS, T_2MS, FOREVER = 0, 1, 2, 3                       # timeout byte % 4
OUT_NULL, OUT_SEP, OUT_INPLACE = 0, 1, 2                         # outmode byte % 3


def cfg(workers, fast_park=False, small_deque=False):
    return [(workers - 1) | (4 if fast_park else 0) | (8 if small_deque else 0)]


def submit(kind, param=0):
    return [SUBMIT, kind, param]


def wait(slots, mode, timeout, outmode, until=False):
    return [WAIT_UNTIL if until else WAIT, len(slots) - 1, mode, timeout, outmode] + slots


SEEDS = {
    "submit_value": cfg(1) + submit(VALUE, 7) + [OBSERVE, 0],
    "submit_fail_wait_first_exception": cfg(2) + submit(VALUE, 1) + submit(FAIL, 9)
    + submit(SLEEP, 1) + wait([0, 1, 2], FIRST_EXCEPTION, FOREVER, OUT_SEP),
    "sleep_wait_first_completed_poll": cfg(2) + submit(SLEEP, 3) + submit(SLEEP, 2)
    + wait([0, 1], FIRST_COMPLETED, T0, OUT_INPLACE) + wait([0, 1], FIRST_COMPLETED, FOREVER, OUT_NULL),
    "all_completed_small_timeout": cfg(3) + submit(SLEEP, 3) + submit(VALUE, 2)
    + wait([0, 1, 1, 0], ALL_COMPLETED, T_HALF_MS, OUT_SEP) + wait([1, 0], ALL_COMPLETED, T_2MS, OUT_INPLACE),
    "wait_until_modes": cfg(4) + submit(SLEEP, 2) + submit(FAIL, 200) + submit(VALUE, 3)
    + wait([0, 1, 2], FIRST_COMPLETED, T0, OUT_SEP, until=True)
    + wait([0, 1, 2], FIRST_EXCEPTION, T_2MS, OUT_INPLACE, until=True)
    + wait([2, 1, 0], ALL_COMPLETED, FOREVER, OUT_NULL, until=True),
    "children_one_worker": cfg(1) + submit(CHILDREN, 3) + submit(CHILDREN, 0x2f)
    + wait([0, 1], ALL_COMPLETED, FOREVER, OUT_SEP),
    "children_fast_park_small_deque": cfg(2, True, True) + [BATCH, 3, CHILDREN, 0x13]
    + wait([0, 1, 2, 3], ALL_COMPLETED, FOREVER, OUT_INPLACE),
    "cancel_pending": cfg(1) + submit(SLEEP, 3) + submit(VALUE, 1) + submit(VALUE, 2)
    + [CANCEL, 2, CANCEL, 1, CANCEL, 0] + wait([0, 1, 2], FIRST_EXCEPTION, FOREVER, OUT_SEP),
    "callbacks": cfg(2) + submit(VALUE, 1) + [ON_DONE, 0] + submit(FAIL, 3) + [ON_DONE, 1]
    + [FUTURE_WAIT, 0, FOREVER, ON_DONE, 0, CANCEL, 1, ON_DONE, 1],
    "future_wait_timeouts": cfg(1) + submit(SLEEP, 3) + [FUTURE_WAIT, 0, T0, FUTURE_WAIT, 0, T_HALF_MS,
                                                         FUTURE_WAIT, 0, T_2MS, FUTURE_WAIT, 0, FOREVER],
    "shutdown_wait": cfg(2) + submit(SLEEP, 1) + submit(VALUE, 2) + [SHUTDOWN, 1] + submit(VALUE, 3)
    + wait([0, 1], ALL_COMPLETED, T0, OUT_SEP),
    "shutdown_cancel_pending": cfg(1) + submit(SLEEP, 3) + submit(VALUE, 1) + submit(CHILDREN, 2)
    + [ON_DONE, 1, SHUTDOWN, 2] + wait([0, 1, 2], ALL_COMPLETED, FOREVER, OUT_SEP) + [BATCH, 1, VALUE, 0],
    "shutdown_wait_cancel": cfg(2) + submit(SLEEP, 2) + submit(SLEEP, 2) + submit(SLEEP, 2)
    + [SHUTDOWN, 3, SHUTDOWN, 0] + submit(VALUE, 0),
    "recreate_mixed_executors": cfg(2) + submit(VALUE, 1) + [RECREATE] + submit(SLEEP, 2)
    + wait([0, 1], FIRST_COMPLETED, FOREVER, OUT_SEP) + wait([1, 0], ALL_COMPLETED, FOREVER, OUT_INPLACE),
    "retain_release": cfg(1) + submit(SLEEP, 1) + [RETAIN, 0, RELEASE, 0, RELEASE, 0]
    + submit(VALUE, 5) + [RELEASE, 0],
    "deadlock_probes": cfg(1) + submit(DEADLOCK, 0) + submit(DEADLOCK, 1) + submit(SELF_WAIT, 0)
    + submit(SELF_WAIT, 1) + wait([0, 1, 2, 3], ALL_COMPLETED, FOREVER, OUT_SEP),
    "worker_waits_on_others": cfg(2, True) + submit(SLEEP, 3) + submit(FAIL, 4)
    + submit(WAIT_OTHERS, 0x88) + submit(WAIT_OTHERS, 0xc6) + submit(WAIT_OTHERS, 0x45)
    + wait([0, 1, 2, 3, 4], ALL_COMPLETED, FOREVER, OUT_SEP),
    "worker_parks_in_wait": cfg(2, True) + submit(SLEEP, 3) + submit(WAIT_OTHERS, 8) + submit(SLEEP, 3)
    + submit(WAIT_OTHERS, 8) + wait([0, 1, 2, 3], ALL_COMPLETED, FOREVER, OUT_NULL),
    "bad_input": cfg(1) + submit(VALUE, 1)
    + sum(([BAD, w, 0] for w in range(12)), []) + [RELEASE, 0] + [BAD, 8, 0, BAD, 10, 0],
    "batch_many_wait_large": cfg(3, small_deque=True) + [BATCH, 3, VALUE, 0, BATCH, 3, FAIL, 1,
                                                        BATCH, 3, SLEEP, 0]
    + wait(list(range(12)), FIRST_EXCEPTION, FOREVER, OUT_INPLACE)
    + wait(list(range(12)), ALL_COMPLETED, FOREVER, OUT_SEP),
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    for name, prog in SEEDS.items():
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(bytes(b & 0xFF for b in prog))
    print(f"wrote {len(SEEDS)} seeds to {out}")


if __name__ == "__main__":
    main()
