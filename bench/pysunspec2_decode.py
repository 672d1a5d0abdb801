#!/usr/bin/env python3
"""pysunspec2 side of `make bench`: decode SunSpec register images the way pysunspec2 does.

    # (a) core decode of one capture, warm, many iterations
    /tmp/venv/bin/python bench/pysunspec2_decode.py core [--capture Fixtures/battery-inverter.json]
                                                         [--seconds 3] [--iterations N]
    # (b) pipeline: JSONL of captures -> one JSON line per decoded model
    /tmp/venv/bin/python bench/pysunspec2_decode.py pipeline HISTORY.jsonl [--out FILE]

Each prints exactly one JSON line on stdout:

    {"peer":"pysunspec2","bench":"core","decodes_per_s":..,"us_per_decode":..,"registers":..,"values":..}
    {"peer":"pysunspec2","bench":"pipeline","captures":N,"seconds":..,"captures_per_s":..}

(plus a few extra keys: iterations, models, pysunspec2 version ...).

What one decode is: the capture's registers are packed to big-endian bytes (what pysunspec2's Modbus
client gets off the wire), the SunSpec chain is walked from the SunS marker (ID, L, ... up to 0xFFFF),
and every model is decoded with pysunspec2's own code path for reading a device: `Model.set_mb(bytes)`
followed by `get_dict(computed=True)` (scale factors applied, not-implemented -> None).  The Model
objects are created once, from the first image, as pysunspec2's scan() does; later decodes reuse them
as a polling client does (they are rebuilt if the chain layout changes).
"""

import argparse
import json
import os
import struct
import sys
import time

import sunspec2
import sunspec2.device as ss_device

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUNS = (0x5375, 0x6E53)
BASES = (40000, 0, 50000)


def image_from_capture(cap):
    """(start, registers) of the block holding the SunS marker."""
    for b in cap["blocks"]:
        regs, start = b["registers"], b["start"]
        for base in BASES:
            i = base - start
            if 0 <= i < len(regs) - 1 and regs[i] == SUNS[0] and regs[i + 1] == SUNS[1]:
                return base, regs[i:]
        if len(regs) >= 2 and regs[0] == SUNS[0] and regs[1] == SUNS[1]:
            return start, regs
    raise ValueError("no SunS marker in capture")


def walk(regs):
    """[(model_id, register offset of ID, L)] from a register list starting at SunS."""
    layout = []
    off, n = 2, len(regs)
    while off + 1 < n:
        mid, ln = regs[off], regs[off + 1]
        if mid == 0xFFFF:
            break
        if off + 2 + ln > n:
            raise ValueError("model %d at offset %d runs past the image" % (mid, off))
        layout.append((mid, off, ln))
        off += 2 + ln
    return layout


class Pysunspec2Decoder:
    def __init__(self):
        self.layout = None
        self.models = None

    def _build(self, layout, data):
        models = []
        for mid, off, ln in layout:
            m = ss_device.Model(model_id=mid, model_len=ln, data=data[off * 2:(off + ln + 2) * 2])
            if m.error_info:
                raise RuntimeError("pysunspec2 model %d: %s" % (mid, m.error_info.strip()))
            models.append(m)
        self.layout, self.models = layout, models

    def decode(self, regs):
        """Registers (list of uint16 starting at SunS) -> list of per-model computed dicts."""
        data = struct.pack(">%dH" % len(regs), *regs)
        layout = walk(regs)
        if layout != self.layout:
            self._build(layout, data)
        out = []
        for (mid, off, ln), model in zip(layout, self.models):
            model.set_mb(data[off * 2:(off + ln + 2) * 2])
            out.append(model.get_dict(computed=True))
        return out


def count_values(obj):
    """(points, non-null points) in decoded dicts, ignoring pysunspec2's mid/error/model_id keys."""
    if isinstance(obj, list):
        tot = [count_values(x) for x in obj]
        return sum(t[0] for t in tot), sum(t[1] for t in tot)
    if isinstance(obj, dict):
        a = b = 0
        for k, v in obj.items():
            if k in ("mid", "error", "model_id"):
                continue
            if isinstance(v, (dict, list)):
                x, y = count_values(v)
                a, b = a + x, b + y
            else:
                a += 1
                b += v is not None
        return a, b
    return 1, int(obj is not None)


def verify_against_reference(decoded, capture_path):
    """If <capture>.computed.json exists next to the capture, check the decode matches it."""
    ref_path = capture_path[:-5] + ".computed.json" if capture_path.endswith(".json") else None
    if not ref_path or not os.path.exists(ref_path):
        return None
    with open(ref_path, encoding="utf-8") as f:
        ref = json.load(f)
    got = [{k: v for k, v in d.items() if k not in ("mid", "error", "model_id")} for d in decoded]
    return got == [m["values"] for m in ref["models"]]


def bench_core(args):
    with open(args.capture, encoding="utf-8") as f:
        cap = json.load(f)
    _base, regs = image_from_capture(cap)
    dec = Pysunspec2Decoder()
    decoded = dec.decode(regs)
    ok = verify_against_reference(decoded, args.capture)
    if ok is False:
        print("pysunspec2 decode differs from the .computed.json reference", file=sys.stderr)
        return 1
    points, non_null = count_values(decoded)
    used = sum(ln + 2 for _, _, ln in dec.layout) + 4        # SunS + models + end marker
    for _ in range(args.warmup):
        dec.decode(regs)
    iterations = 0
    t0 = time.perf_counter()
    if args.iterations:
        for _ in range(args.iterations):
            dec.decode(regs)
        iterations = args.iterations
    else:
        batch = 10
        while True:
            for _ in range(batch):
                dec.decode(regs)
            iterations += batch
            if time.perf_counter() - t0 >= args.seconds:
                break
    elapsed = time.perf_counter() - t0
    print(json.dumps({
        "peer": "pysunspec2", "bench": "core",
        "decodes_per_s": round(iterations / elapsed, 1),
        "us_per_decode": round(elapsed / iterations * 1e6, 1),
        "registers": used, "values": points, "values_implemented": non_null,
        "models": len(dec.layout), "iterations": iterations, "seconds": round(elapsed, 3),
        "capture": os.path.relpath(args.capture, REPO) if os.path.isabs(args.capture) else args.capture,
        "pysunspec2": getattr(sunspec2, "__version__", "1.3.7"),
        "python": "%d.%d.%d" % sys.version_info[:3],
    }, separators=(",", ":")))
    return 0


def bench_pipeline(args):
    dec = Pysunspec2Decoder()
    captures = models = 0
    t0 = time.perf_counter()
    with open(args.input, encoding="utf-8") as fin, open(args.out, "w", encoding="utf-8") as fout:
        for line in fin:
            if not line.strip():
                continue
            cap = json.loads(line)
            _base, regs = image_from_capture(cap)
            for d in dec.decode(regs):
                fout.write(json.dumps(d))
                fout.write("\n")
                models += 1
            captures += 1
    elapsed = time.perf_counter() - t0
    print(json.dumps({
        "peer": "pysunspec2", "bench": "pipeline", "captures": captures,
        "seconds": round(elapsed, 3), "captures_per_s": round(captures / elapsed, 1),
        "models_written": models, "out": args.out,
        "pysunspec2": getattr(sunspec2, "__version__", "1.3.7"),
    }, separators=(",", ":")))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="pysunspec2 decode benchmark (peer side of make bench)")
    sub = ap.add_subparsers(dest="bench")
    c = sub.add_parser("core", help="decode one capture repeatedly")
    c.add_argument("--capture", default=os.path.join(REPO, "Fixtures", "battery-inverter.json"))
    c.add_argument("--seconds", type=float, default=3.0, help="minimum timed duration (default 3)")
    c.add_argument("--iterations", type=int, default=0, help="fixed iteration count instead of --seconds")
    c.add_argument("--warmup", type=int, default=50)
    p = sub.add_parser("pipeline", help="JSONL captures -> JSON lines per model")
    p.add_argument("input", help=".jsonl of captures (bench/make_history.py N OUT)")
    p.add_argument("--out", default=os.devnull, help="output file (default: /dev/null)")
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("core", "pipeline", "-h", "--help"):
        argv = ["core"] + argv                     # default: core
    args = ap.parse_args(argv)
    if args.bench == "pipeline":
        return bench_pipeline(args)
    return bench_core(args)


if __name__ == "__main__":
    sys.exit(main())
