#!/usr/bin/env python3
"""Stand-in for `sunspec-gateway decode FILE`, used only to test decode_interop.py itself.

It walks the SunSpec chain of each capture, lets pysunspec2 split the registers into points and
then converts the raw values the way our gateway is specified to (exact decimals, nulls for
unusable scale factors, dotted ipaddr, compressed IPv6, float32 shortest form, strings cut at the
first NUL, 00:00:00:00:00:00 for an all-zero eui48), printing our NDJSON `reading` records.

FAKE_GATEWAY_BUGS=comma,separated,list injects known faults so that the harness can be shown to
catch them (selftest.sh runs each): sfignore (scale factor not applied to uint16), drop705 (no
record for model 705), extrakey (an unknown key), countoff (one repeating instance lost), strnul
(strings not cut at NUL), int32neg (int32 read as unsigned), nullsf (sf=0 treated as null),
floatscale (scaled values computed in binary floating point), ipint (ipaddr as an integer),
eui48zero (all-zero eui48 as null), f32round (float32 printed with too few digits), meta (wrong
addr field).
"""
import ipaddress
import json
import math
import os
import struct
import sys
from decimal import Decimal

import sunspec2.device as ss_device

BUGS = set(filter(None, os.environ.get("FAKE_GATEWAY_BUGS", "").split(",")))


def f32_shortest(f):
    for n in range(1, 10):
        s = "%.*g" % (n, f)
        try:
            if struct.unpack(">f", struct.pack(">f", float(s)))[0] == f:
                return s
        except OverflowError:
            pass
    return repr(f)


class Raw(object):
    """A number already formatted as JSON text."""

    def __init__(self, text):
        self.text = text


def dumps(v):
    if v is None:
        return "null"
    if isinstance(v, Raw):
        return v.text
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Decimal):
        s = format(v, "f")
        return s
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ",".join(dumps(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k) + ":" + dumps(x) for k, x in v.items()) + "}"
    raise TypeError(type(v))


def point_value(p, group, model, data):
    t = p.pdef["type"]
    raw = data[p.offset * 2:(p.offset + p.len) * 2]
    v = p.value
    if t == "float32":
        f = struct.unpack(">f", raw)[0]
        if math.isnan(f):
            return None
        return Raw("%.5g" % f if "f32round" in BUGS else f32_shortest(f))
    if t == "float64":
        f = struct.unpack(">d", raw)[0]
        return None if math.isnan(f) else Raw(repr(f))
    if t == "string":
        if raw[0] == 0:
            return None
        if "strnul" in BUGS:
            return raw.rstrip(b"\0").decode()
        return raw.split(b"\0")[0].decode()
    if t == "ipaddr":
        if "ipint" in BUGS:
            return v
        return None if v is None else str(ipaddress.IPv4Address(v))
    if t == "ipv6addr":
        return None if not any(raw) else str(ipaddress.IPv6Address(raw))
    if t == "eui48":
        if raw[2:] == b"\xff" * 6 or ("eui48zero" in BUGS and not any(raw)):
            return None
        return ":".join("%02X" % b for b in raw[2:])
    if v is None:
        return None
    if t == "int32" and "int32neg" in BUGS and v < 0:
        v += 1 << 32
    sf = p.pdef.get("sf")
    if sf is None:
        return v
    if isinstance(sf, str):
        sp = group.points.get(sf) or model.points.get(sf)
        sfv = sp.value
    else:
        sfv = int(sf)
    if sfv is None or not -10 <= sfv <= 10:
        return None
    if "nullsf" in BUGS and sfv == 0:
        return None
    if "sfignore" in BUGS and t == "uint16":
        return v
    if "floatscale" in BUGS:
        return Raw(repr(v * 10.0 ** sfv))
    if sfv >= 0:
        return v * 10 ** sfv
    return Decimal(v).scaleb(sfv)


def group_values(group, model, data):
    out = {}
    for name, p in group.points.items():
        if name in ("ID", "L") and group is model:
            continue
        if p.pdef["type"] in ("sunssf", "pad"):
            continue
        out[name] = point_value(p, group, model, data)
    for name, g in group.groups.items():
        if isinstance(g, list):
            items = [group_values(x, model, data) for x in g]
            if "countoff" in BUGS and len(items) > 2:
                items = items[:-1]
            out[name] = items
        else:
            out[name] = group_values(g, model, data)
    if "extrakey" in BUGS and group is model:
        out["Bogus"] = 1
    return out


def decode_capture(cap):
    regs = {}
    for b in cap["blocks"]:
        for i, r in enumerate(b["registers"]):
            regs[b["start"] + i] = r
    base = 40000
    if regs.get(base) != 0x5375 or regs.get(base + 1) != 0x6E53:
        return
    addr = base + 2
    index = {}
    while regs.get(addr, 0xFFFF) != 0xFFFF:
        mid, ln = regs[addr], regs[addr + 1]
        words = [regs[a] for a in range(addr, addr + ln + 2)]
        data = struct.pack(">%dH" % len(words), *words)
        model = ss_device.Model(model_id=mid, model_addr=addr, model_len=ln, data=data)
        model.set_mb(data)
        k = index.get(mid, 0)
        index[mid] = k + 1
        if not ("drop705" in BUGS and mid == 705):
            rec = {"type": "reading", "device": cap.get("device"), "ts": cap.get("captured"), "model": mid,
                   "name": model.gname, "index": k, "addr": addr + (2 if "meta" in BUGS else 0), "len": ln,
                   "values": group_values(model, model, data)}
            sys.stdout.write(dumps(rec) + "\n")
        addr += ln + 2


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "decode":
        sys.stderr.write("usage: fake_gateway.py decode FILE\n")
        return 2
    with open(sys.argv[2]) as f:
        for line in f:
            if line.strip():
                decode_capture(json.loads(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
