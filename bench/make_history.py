#!/usr/bin/env python3
"""Write N consecutive captures of the battery inverter as JSON lines (input for the pipeline bench).

    /tmp/venv/bin/python bench/make_history.py 2000 .build/bench/history-2000.jsonl

Capture k is the simulated device k seconds after Fixtures/battery-inverter.json (line 1 is identical
to that fixture; Fixtures/history.jsonl is the first 20 lines of any such file). Deterministic: same
N, same bytes. Generated at bench time, not committed.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))

import json  # noqa: E402

import make_fixtures  # noqa: E402


def main(argv):
    if len(argv) != 3:
        print("usage: make_history.py N OUT.jsonl", file=sys.stderr)
        return 2
    n, out = int(argv[1]), argv[2]
    if n < 1:
        print("N must be >= 1", file=sys.stderr)
        return 2
    d = os.path.dirname(os.path.abspath(out))
    os.makedirs(d, exist_ok=True)
    t0 = time.perf_counter()
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for cap, _models, _state in make_fixtures.history_captures(n):
            f.write(json.dumps(cap, separators=(",", ":")))
            f.write("\n")
    os.replace(tmp, out)
    print("wrote %d captures to %s in %.1f s" % (n, out, time.perf_counter() - t0), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
