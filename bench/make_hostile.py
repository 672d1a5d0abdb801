#!/usr/bin/env python3
"""Write the worst-case inputs of issue 8's figures (timed with `decode`, peak RSS with /usr/bin/time -v).

    python3 bench/make_hostile.py OUT_DIR

OUT_DIR/scattered.json    1,000,000 one-register blocks, starts k % 65536 in a shuffled order
OUT_DIR/ordinary.json     the same 1,000,000 registers as 16 blocks of 62,500 (from 0, overlapping)
OUT_DIR/descending.csv    32,768 addresses from 32767 down to 0 (every line starts a new run)
OUT_DIR/ascending.csv     the same 32,768 addresses from 0 up (one run)

No SunS marker anywhere: decode reads and images them, finds no chain, exits 65. Deterministic
(seeded), generated at bench time, not committed.
"""

import os
import random
import sys

HEAD = '{"format":"sunspec-gateway/registers","version":1,"blocks":['


def main(argv):
    if len(argv) != 2:
        print("usage: make_hostile.py OUT_DIR", file=sys.stderr)
        return 2
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    starts = [k % 65536 for k in range(1_000_000)]
    random.Random(1).shuffle(starts)
    with open(os.path.join(out, "scattered.json"), "w") as f:
        f.write(HEAD + ",".join('{"start":%d,"registers":[%d]}' % (s, s & 0x7FFF) for s in starts) + "]}")
    block = ",".join(str(k & 0x7FFF) for k in range(62_500))
    with open(os.path.join(out, "ordinary.json"), "w") as f:
        f.write(HEAD + ",".join('{"start":0,"registers":[%s]}' % block for _ in range(16)) + "]}")
    with open(os.path.join(out, "descending.csv"), "w") as f:
        f.write("address,value\n" + "".join("%d,%d\n" % (a, a) for a in range(32767, -1, -1)))
    with open(os.path.join(out, "ascending.csv"), "w") as f:
        f.write("address,value\n" + "".join("%d,%d\n" % (a, a) for a in range(32768)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
