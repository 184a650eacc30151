#!/usr/bin/env python3
"""cbor_crosscheck.py: checks the C codec's encoding of test_changeset's full set with an independent decoder (cbor2).

Usage:
    mkdir -p /tmp/kr && KIROKU_TEST_DUMP=/tmp/kr build/tests/test_changeset && \
        /usr/bin/python3 tests/unit/cbor_crosscheck.py /tmp/kr/changeset_full.cbor

(Debian's python3-cbor2 lives in /usr/bin/python3's path; a pyenv python3 first in PATH does not see it.)

It decodes the file with cbor2, checks it against schema/changeset.cddl (types, key order, element counts),
then re-encodes the same set built here in Python and compares the bytes. Exit status 0 when all agree.
"""
import sys

import cbor2

JAPANESE = "体育館の床が濡れていて、生徒が転倒しました。"
HLC_1 = (1763650000123 << 16) | 2
HLC_2 = (1763650000500 << 16) | 0
RECORD_A = bytes([0x01, 0x93, 0x4a, 0x6b, 0x2c, 0x10, 0x7e, 0x51, 0x9a, 0x00, 0xff, 0x13, 0x37, 0x42, 0x08, 0xc4])
RECORD_B = bytes([0x01, 0x93, 0x4a, 0x6b, 0x2c, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01])
U64_MAX = (1 << 64) - 1
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1

# The set test_changeset.c's full_set() builds, as plain Python data, keys in the order they are written.
EXPECTED = {
    1: 1,
    2: "hub",
    3: "school-12",
    4: [
        ["agent-1", 41, RECORD_A, "incident", "school-12", HLC_2, None, [
            ["title", "Fall in the gym", None],
            ["summary", JAPANESE, [HLC_1, "hub"]],
            ["zero", 0, None],
            ["minus_one", -1, None],
            ["small", 24, None],
            ["wide", -65537, None],
            ["int_min", I64_MIN, None],
            ["int_max", I64_MAX, [1, "a"]],
            ["injured", True, None],
            ["reported", False, None],
            ["cleared", None, [HLC_1, "agent-1"]],
            ["empty", "", None],
        ]],
        ["agent-1", 42, RECORD_A, "incident", "school-12", HLC_2 + 1, [HLC_1, "hub"],
         [["_deleted", True, None]],
         [["title", [HLC_1, "agent-1"]], ["summary", [HLC_2, "hub"]]]],
        ["agent-2.gym_pc", U64_MAX, RECORD_B, "pi_handling", "school-12", U64_MAX, None, []],
    ],
    5: {"agent-1": 40, "agent-2.gym_pc": 0},
    6: 100,
    7: 250,
    8: True,
    9: 99,
    10: 3,
}


def fail(msg):
    print("cbor_crosscheck: " + msg, file=sys.stderr)
    sys.exit(1)


def check_version(v, where, nullable):
    if v is None and nullable:
        return
    if not (isinstance(v, list) and len(v) == 2 and isinstance(v[0], int) and v[0] > 0 and isinstance(v[1], str)):
        fail(f"{where}: not a version [hlc, node]: {v!r}")


def check_structure(cs):
    if not isinstance(cs, dict):
        fail("the top level is not a map")
    keys = list(cs.keys())
    if keys != sorted(keys) or not all(isinstance(k, int) and 1 <= k <= 10 for k in keys):
        fail(f"keys are not ascending unsigned integers 1..10: {keys}")
    if cs.get(1) != 1 or not isinstance(cs.get(2), str) or not isinstance(cs.get(4), list):
        fail("format, sender or changes missing or of the wrong type")
    for i, c in enumerate(cs[4], 1):
        if not isinstance(c, list) or len(c) not in (8, 9):
            fail(f"change {i}: not an array of 8 or 9 elements")
        origin, seq, record, kind, facility, hlc, del_base, writes = c[:8]
        if not (isinstance(origin, str) and isinstance(seq, int) and seq >= 1 and isinstance(record, bytes)
                and len(record) == 16 and isinstance(kind, str) and isinstance(facility, str)
                and isinstance(hlc, int) and hlc > 0 and isinstance(writes, list)):
            fail(f"change {i}: wrong element types: {c[:8]!r}")
        check_version(del_base, f"change {i}: del_base", True)
        for k, w in enumerate(writes, 1):
            if not (isinstance(w, list) and len(w) == 3 and isinstance(w[0], str)
                    and (w[1] is None or isinstance(w[1], (str, int, bool)))):
                fail(f"change {i}: write {k}: {w!r}")
            check_version(w[2], f"change {i}: write {k}: base", True)
        if len(c) == 9:
            for k, s in enumerate(c[8], 1):
                if not (isinstance(s, list) and len(s) == 2 and isinstance(s[0], str)):
                    fail(f"change {i}: seen {k}: {s!r}")
                check_version(s[1], f"change {i}: seen {k}: version", False)
    if 5 in cs and not all(isinstance(k, str) and isinstance(v, int) for k, v in cs[5].items()):
        fail("acks are not a map of text to unsigned integers")


def main():
    if len(sys.argv) != 2:
        fail("usage: cbor_crosscheck.py FILE")
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    cs = cbor2.loads(data)
    check_structure(cs)
    if cs != EXPECTED:
        fail("the decoded set differs from the expected one")
    again = cbor2.dumps(EXPECTED)
    if again != data:
        fail(f"cbor2 encodes the same set differently ({len(again)} bytes vs {len(data)})")
    print(f"cbor_crosscheck: {len(data)} bytes, {len(cs[4])} changes: structure and bytes agree with cbor2")


if __name__ == "__main__":
    main()
