#!/usr/bin/env python3
"""Interop check: sunspec-gateway's decoder against pysunspec2 (the SunSpec Alliance reference).

For every model definition shipped in pysunspec2 (sunspec2/models/json/model_*.json) this builds
K randomized register images (random repeat counts, random values per point type, not-implemented
sentinels, odd scale factors, some with repeats that do not fit L), wraps each one as a register capture (SunS at 40000, the model,
the end marker), writes all captures as one .jsonl, runs `GATEWAY decode FILE` once and compares
every point of every `reading` record with what pysunspec2 decodes from the same registers.

Only the differences documented in Tests/Interop/README.md are allowed; they are counted and
reported separately from mismatches. Exit status: 0 when there is no mismatch, every image that
pysunspec2 decodes has a record from the gateway and the gateway exited 0; 1 otherwise; 2 on
usage/setup errors.

    decode_interop.py --gateway PATH [--seed N] [--per-model K] [--workdir DIR]
                      [--models ID,ID,...] [--show N] [--json-report FILE] [--quiet]

Run it with the Python that has pysunspec2 installed (Tests/Interop/requirements.txt).
"""

import argparse
import collections
import decimal
import glob
import ipaddress
import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

try:
    import sunspec2
    import sunspec2.device as ss_device
except ImportError as exc:  # pragma: no cover - setup error
    sys.stderr.write("decode_interop.py: pysunspec2 is not importable from %s (%s)\n"
                     "install Tests/Interop/requirements.txt into this Python\n" % (sys.executable, exc))
    sys.exit(2)

decimal.getcontext().prec = 100

BASE_ADDR = 40000
MAX_MODEL_REGS = 2000          # ID + L + body, roughly
SF_MIN, SF_MAX = -10, 10       # scale factors outside this range are "not usable" for us

TYPE_LEN = {
    "int16": 1, "uint16": 1, "count": 1, "acc16": 1, "enum16": 1, "bitfield16": 1, "pad": 1,
    "sunssf": 1, "int32": 2, "uint32": 2, "acc32": 2, "enum32": 2, "bitfield32": 2, "ipaddr": 2,
    "float32": 2, "int64": 4, "uint64": 4, "acc64": 4, "float64": 4, "eui48": 4, "ipv6addr": 8,
}
# integer point types: (bits, signed, not-implemented raw value)
INT_TYPES = {
    "int16": (16, True, 0x8000), "uint16": (16, False, 0xFFFF), "count": (16, False, 0xFFFF),
    "acc16": (16, False, 0), "enum16": (16, False, 0xFFFF), "bitfield16": (16, False, 0xFFFF),
    "int32": (32, True, 0x80000000), "uint32": (32, False, 0xFFFFFFFF), "acc32": (32, False, 0),
    "enum32": (32, False, 0xFFFFFFFF), "bitfield32": (32, False, 0xFFFFFFFF),
    "int64": (64, True, 0x8000000000000000), "uint64": (64, False, 0xFFFFFFFFFFFFFFFF),
    "acc64": (64, False, 0),
}
EXCLUDED_TYPES = ("sunssf", "pad")
EXCLUDED_NAMES = ("ID", "L")
FLOAT32_PYSUNSPEC2_SENTINEL_BITS = 0x4EFF8000   # the float 2143289344.0 == 0x7FC00000 as a number

# documented difference kinds (see README.md)
KIND_SF = "1-sf-not-usable"
KIND_DECIMAL = "2-decimal-vs-float"
KIND_FLOAT32 = "3-float32-text"
KIND_FORMAT = "4-address-format"
KIND_EUI48_ZERO = "5a-eui48-all-zero"
KIND_F32_SENTINEL = "5b-float32-2143289344"
KIND_STR_NUL = "5c-string-after-nul"
KINDS = (KIND_SF, KIND_DECIMAL, KIND_FLOAT32, KIND_FORMAT, KIND_EUI48_ZERO, KIND_F32_SENTINEL,
         KIND_STR_NUL)


class Raised(object):
    """A pysunspec2 point whose get_value raised."""

    def __init__(self, exc):
        self.exc = exc

    def __repr__(self):
        return "<pysunspec2 raised %s: %s>" % (type(self.exc).__name__, self.exc)


# ----------------------------------------------------------------------------------------------
# model definitions


def models_dir():
    return os.path.join(os.path.dirname(sunspec2.__file__), "models", "json")


def load_model_defs():
    defs = {}
    for path in glob.glob(os.path.join(models_dir(), "model_*.json")):
        with open(path) as f:
            d = json.load(f)
        defs[int(d["id"])] = d
    return dict(sorted(defs.items()))


def point_len(pdef):
    if pdef["type"] == "string":
        return int(pdef["size"])
    n = TYPE_LEN[pdef["type"]]
    if pdef.get("size") is not None and int(pdef["size"]) != n:
        raise ValueError("point %s: size %s != type length %s" % (pdef["name"], pdef["size"], n))
    return n


def group_len(gdef, counts, legacy):
    """Registers of one instance of gdef with the chosen repeat counts (includes ID and L at top)."""
    n = sum(point_len(p) for p in gdef.get("points", []))
    for sub in gdef.get("groups", []):
        c = repeat_count(sub, counts, legacy)
        n += c * group_len(sub, counts, legacy)
    return n


def repeat_count(gdef, counts, legacy):
    """1 for a single group, the chosen count for a repeating one."""
    if "count" not in gdef:
        return 1
    c = gdef["count"]
    if isinstance(c, str):
        return counts[c]
    if int(c) == 0:
        return legacy[gdef["name"]]
    return int(c)


def count_refs(gdef, depth=1, out=None):
    """{count point name: minimum allowed value} and [legacy (count 0) groups] of a model."""
    if out is None:
        out = ({}, [])
    for sub in gdef.get("groups", []):
        c = sub.get("count")
        if isinstance(c, str):
            # a count of 0 for a nested group makes pysunspec2 fall back to the length-derived
            # count of legacy models and misdecode (see README): keep nested counts >= 1
            minimum = 0 if depth == 1 else 1
            out[0][c] = max(out[0].get(c, 0), minimum)
        elif c is not None and int(c) == 0:
            out[1].append(sub["name"])
        count_refs(sub, depth + 1, out)
    return out


# ----------------------------------------------------------------------------------------------
# random register images


def pick_count(rng, minimum):
    r = rng.random()
    if r < 0.12 and minimum == 0:
        return 0
    if r < 0.55:
        return rng.randint(max(1, minimum), 3)
    if r < 0.88:
        return rng.randint(4, 12)
    return rng.randint(13, 60)


def choose_counts(mdef, rng):
    refs, legacy_groups = count_refs(mdef["group"])
    counts = {name: pick_count(rng, minimum) for name, minimum in sorted(refs.items())}
    legacy = {name: pick_count(rng, 0) for name in legacy_groups}
    for _ in range(40):
        if group_len(mdef["group"], counts, legacy) <= MAX_MODEL_REGS:
            return counts, legacy
        # shrink the largest count until it fits
        for d in (counts, legacy):
            for k in d:
                if d[k] > 1:
                    d[k] = max(refs.get(k, 0), d[k] // 2)
    if group_len(mdef["group"], counts, legacy) > MAX_MODEL_REGS:
        counts = {k: refs[k] for k in counts}
        legacy = {k: 0 for k in legacy}
    return counts, legacy


def u(v, bits):
    return v & ((1 << bits) - 1)


def regs_of_int(v, nregs):
    v = u(v, 16 * nregs)
    return [(v >> (16 * (nregs - 1 - i))) & 0xFFFF for i in range(nregs)]


def regs_of_bytes(b):
    assert len(b) % 2 == 0
    return [(b[i] << 8) | b[i + 1] for i in range(0, len(b), 2)]


def rand_int(rng, ptype):
    bits, signed, sentinel = INT_TYPES[ptype]
    r = rng.random()
    lo = -(1 << (bits - 1)) if signed else 0
    hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    if r < 0.08:
        return u(sentinel, bits)
    if r < 0.12:
        return 0
    if r < 0.45:
        return u(rng.randint(-100, 100) if signed else rng.randint(0, 200), bits)
    if r < 0.55:
        return u(rng.choice([lo + 1, hi, -1, 1] if signed else [hi - 1, 1, 1 << (bits - 1)]), bits)
    if r < 0.75:
        return u(rng.randint(lo, hi), bits)
    # mid-sized values (typical for scaled quantities)
    return u(rng.randint(-60000, 60000) if signed else rng.randint(0, 120000), bits) \
        if bits > 16 else u(rng.randint(lo, hi), bits)


def rand_sunssf(rng):
    r = rng.random()
    if r < 0.86:
        return u(rng.randint(-4, 4), 16)
    if r < 0.90:
        return u(rng.choice([-1, 1]) * rng.randint(5, 10), 16)
    if r < 0.94:
        return 0x8000
    if r < 0.99:
        return u(rng.choice([-1, 1]) * rng.randint(11, 40), 16)
    return u(rng.choice([32767, -32767, 400, -400, 127]), 16)


def rand_float32_bits(rng):
    r = rng.random()
    if r < 0.30:
        v = round(rng.uniform(-10000, 10000), rng.randint(0, 3))
        return struct.unpack(">I", struct.pack(">f", v))[0]
    if r < 0.55:
        # any finite float32
        return (rng.randint(0, 1) << 31) | (rng.randint(0, 254) << 23) | rng.getrandbits(23)
    if r < 0.65:
        return struct.unpack(">I", struct.pack(">f", float(rng.randint(-1000, 1000))))[0]
    if r < 0.73:
        return 0x7FC00000
    if r < 0.77:
        return rng.choice([0xFFC00000, 0x7F800001, 0x7FFFFFFF, 0xFFFFFFFF, 0x7FA00000])
    if r < 0.82:
        return rng.choice([0x80000000, 0x00000001, 0x807FFFFF, 0x7F7FFFFF, 0xFF7FFFFF,
                           0x00800000, 0x3F800000, 0x3DCCCCCD])
    if r < 0.84:
        return FLOAT32_PYSUNSPEC2_SENTINEL_BITS
    return 0


def rand_float64_bits(rng):
    r = rng.random()
    if r < 0.4:
        return struct.unpack(">Q", struct.pack(">d", round(rng.uniform(-1e6, 1e6), rng.randint(0, 6))))[0]
    if r < 0.7:
        return (rng.randint(0, 1) << 63) | (rng.randint(0, 2046) << 52) | rng.getrandbits(52)
    if r < 0.8:
        return 0x7FF8000000000000
    return 0


PRINTABLE = [chr(c) for c in range(0x20, 0x7F)]
NON_ASCII = list("\u00e4\u00f6\u00fc\u00df\u00e9\u00b0\u00b1\u00b5\u20ac\u2126\u03a9\u65e5\U0001F50B")


def rand_string_bytes(rng, nregs):
    nbytes = 2 * nregs
    r = rng.random()
    if r < 0.08:
        return bytes(nbytes)                                    # not implemented
    if r < 0.10:
        tail = "".join(rng.choice(PRINTABLE) for _ in range(rng.randint(1, nbytes - 1)))
        return (b"\0" + tail.encode()).ljust(nbytes, b"\0")     # first byte NUL: not implemented
    if r < 0.15:
        return "".join(rng.choice(PRINTABLE) for _ in range(nbytes)).encode()   # no terminator
    if r < 0.19 and nbytes >= 4:
        a = rng.randint(1, nbytes - 3)
        b = rng.randint(1, nbytes - a - 2)
        head = "".join(rng.choice(PRINTABLE) for _ in range(a))
        junk = "".join(rng.choice(PRINTABLE) for _ in range(b))
        return (head + "\0" + junk).encode().ljust(nbytes, b"\0")  # text after the terminator
    if r < 0.22 and nbytes >= 4:
        # valid UTF-8 with multi-byte characters (pysunspec2 decodes strings as UTF-8)
        out = b""
        while True:
            c = rng.choice(NON_ASCII + PRINTABLE[:10]).encode()
            if len(out) + len(c) > nbytes - 1:
                break
            out += c
            if rng.random() < 0.15:
                break
        return out.ljust(nbytes, b"\0")
    n = rng.randint(1, nbytes - 1) if nbytes > 1 else 1
    return "".join(rng.choice(PRINTABLE) for _ in range(n)).encode().ljust(nbytes, b"\0")


def rand_point_regs(rng, pdef):
    t = pdef["type"]
    n = point_len(pdef)
    if t in INT_TYPES:
        return regs_of_int(rand_int(rng, t), n)
    if t == "sunssf":
        return [rand_sunssf(rng)]
    if t == "pad":
        return [rng.choice([0, 0, 0, 0x8000, rng.getrandbits(16)])]
    if t == "float32":
        return regs_of_int(rand_float32_bits(rng), 2)
    if t == "float64":
        return regs_of_int(rand_float64_bits(rng), 4)
    if t == "string":
        return regs_of_bytes(rand_string_bytes(rng, n))
    if t == "ipaddr":
        return regs_of_int(0 if rng.random() < 0.1 else rng.getrandbits(32), 2)
    if t == "ipv6addr":
        r = rng.random()
        if r < 0.1:
            return [0] * 8
        if r < 0.4:   # addresses with zero runs (compressible notation)
            words = [rng.choice([0, 0, rng.getrandbits(16)]) for _ in range(8)]
            if not any(words):
                words[-1] = 1
            return words
        return [rng.getrandbits(16) for _ in range(8)]
    if t == "eui48":
        r = rng.random()
        if r < 0.05:
            return [0, 0xFFFF, 0xFFFF, 0xFFFF]                  # not implemented
        if r < 0.08:
            return [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF]
        if r < 0.13:
            return [0, 0, 0, 0]
        first = rng.getrandbits(16) if r < 0.18 else 0
        return [first] + [rng.getrandbits(16) for _ in range(3)]
    raise ValueError("unknown point type %s" % t)


class Slot(object):
    """One point of the image: where it is and how to find its scale factor."""
    __slots__ = ("path", "pdef", "off", "n", "sf_off", "sf_const")

    def __init__(self, path, pdef, off, n, sf_off, sf_const):
        self.path, self.pdef, self.off, self.n = path, pdef, off, n
        self.sf_off, self.sf_const = sf_off, sf_const


def point_slot(path, pdef, offsets, top_offsets, model_id=None):
    """The Slot of a point laid out at offsets[name]; its scale factor found in its own group, then at
    the top level (a name found nowhere is an error when `model_id` is given, else no scale factor)."""
    sf = pdef.get("sf")
    sf_off = sf_const = None
    if sf is not None:
        if isinstance(sf, str):
            sf_off = offsets.get(sf, top_offsets.get(sf))
            if sf_off is None and model_id is not None:
                raise ValueError("model %s: scale factor %s of %s not found" % (model_id, sf, pdef["name"]))
        else:
            sf_const = int(sf)
    return Slot(path + [pdef["name"]], pdef, offsets[pdef["name"]], point_len(pdef), sf_off, sf_const)


def build_image(mdef, rng, legacy65=False):
    """Return (regs, slots, shape, counts, legacy): regs starts with ID and L, shape mirrors the
    group tree (point slots and group instances), counts/legacy are the chosen repeat counts."""
    counts, legacy = choose_counts(mdef, rng)
    regs = []
    slots = []
    top = mdef["group"]
    top_offsets = {}
    legacy_total = sum(legacy.values())

    def emit_group(gdef, path, is_top):
        offsets = {}
        for pdef in gdef.get("points", []):
            name = pdef["name"]
            if legacy65 and is_top and name == "Pad":
                continue
            off = len(regs)
            offsets[name] = off
            if is_top:
                top_offsets[name] = off
            n = point_len(pdef)
            if is_top and name == "ID":
                v = [int(mdef["id"])]
            elif is_top and name == "L":
                v = [0]      # patched below
            elif is_top and name in counts:
                v = [counts[name]]
            elif pdef["type"] == "count" and len(legacy) == 1 and rng.random() < 0.8:
                v = [legacy_total]   # e.g. model 401 N: informative only, L decides the count
            else:
                v = rand_point_regs(rng, pdef)
            assert len(v) == n, (pdef, v)
            regs.extend(v)
        node = {"points": [], "groups": []}
        for pdef in gdef.get("points", []):
            name = pdef["name"]
            if name not in offsets:
                continue
            slot = point_slot(path, pdef, offsets, top_offsets, model_id=mdef["id"])
            slots.append(slot)
            node["points"].append(slot)
        for sub in gdef.get("groups", []):
            if "count" in sub:
                c = repeat_count(sub, counts, legacy)
                insts = [emit_group(sub, path + [sub["name"], i], False) for i in range(c)]
                node["groups"].append((sub["name"], True, insts))
            else:
                node["groups"].append((sub["name"], False, emit_group(sub, path + [sub["name"]], False)))
        return node

    shape = emit_group(top, [], True)
    regs[1] = len(regs) - 2
    return regs, slots, shape, counts, legacy


MISFIT_SHARE = 0.15            # of the images of a model with a count-0 group
MISFIT_ERROR = "not a whole number of"


def make_misfit(mdef, regs, shape, counts, legacy, rng):
    """Sometimes (MISFIT_SHARE) turn an image whose last top-level group has count 0 into one whose
    repeats do not fit L: 1 to (repeat size - 1) random registers more, L grown to match (a Solren
    PVI85's 402). Returns (the image's fixed part alone, its L set to it; the shape with that group
    empty) and changes regs in place, or None and leaves the image alone."""
    groups = mdef["group"].get("groups", [])
    if len(legacy) != 1 or not groups or groups[-1]["name"] not in legacy or groups[-1].get("groups"):
        return None
    one = group_len(groups[-1], counts, legacy)
    if one < 2 or rng.random() >= MISFIT_SHARE:
        return None
    extra = rng.randint(1, one - 1)
    regs.extend(rng.randrange(0x10000) for _ in range(extra))
    regs[1] = len(regs) - 2
    fixed = group_len(mdef["group"], counts, {name: 0 for name in legacy})
    fixed_regs = regs[:fixed]
    fixed_regs[1] = fixed - 2
    name = groups[-1]["name"]
    shape = dict(shape, groups=[(n, rep, [] if n == name else sub) for n, rep, sub in shape["groups"]])
    return fixed_regs, shape


def shape_of(mdef, regs):
    """The point layout of a model image with given registers (repeat counts read from them, count-0
    groups sized from L): the same `shape` build_image returns for the images it makes."""
    pos = [0]
    top_offsets = {}
    length = regs[1]
    legacy65 = mdef["id"] == 1 and length == 65

    def emit(gdef, path, is_top):
        offsets = {}
        for pdef in gdef.get("points", []):
            if legacy65 and is_top and pdef["name"] == "Pad":
                continue
            offsets[pdef["name"]] = pos[0]
            if is_top:
                top_offsets[pdef["name"]] = pos[0]
            pos[0] += point_len(pdef)
        node = {"points": [], "groups": []}
        for pdef in gdef.get("points", []):
            if pdef["name"] in offsets:
                node["points"].append(point_slot(path, pdef, offsets, top_offsets))
        for sub in gdef.get("groups", []):
            if "count" in sub:
                c = sub["count"]
                if isinstance(c, str):
                    n = regs[offsets.get(c, top_offsets.get(c))]
                elif int(c) == 0:    # legacy: as many as L leaves room for, none if not a whole number
                    one = sum(point_len(p) for p in sub.get("points", []))
                    room = max(0, length + 2 - pos[0])
                    n = room // one if one and room % one == 0 else 0
                else:
                    n = int(c)
                insts = [emit(sub, path + [sub["name"], i], False) for i in range(n)]
                node["groups"].append((sub["name"], True, insts))
            else:
                node["groups"].append((sub["name"], False, emit(sub, path + [sub["name"]], False)))
        return node

    return emit(mdef["group"], [], True)


# ----------------------------------------------------------------------------------------------
# pysunspec2 side


def regs_to_bytes(regs):
    return struct.pack(">%dH" % len(regs), *regs)


def pysunspec2_decode(mid, regs):
    """Decode like pysunspec2's Modbus scan does: a Model for the id with L as model length."""
    data = regs_to_bytes(regs)
    model = ss_device.Model(model_id=mid, model_addr=BASE_ADDR + 2, model_len=regs[1], data=data)
    model.set_mb(data)
    try:
        d = model.get_dict(computed=True)
    except Exception:
        # get_dict raises for some scale factors (e.g. OverflowError for sf 400): walk the points
        # one by one so that only those points are marked
        d = dict(_walk_values(model))
    return model, d


def _walk_values(group):
    for name, p in group.points.items():
        try:
            yield name, p.get_value(computed=True)
        except Exception as exc:
            yield name, Raised(exc)
    for name, g in group.groups.items():
        if isinstance(g, list):
            yield name, [dict(_walk_values(x)) for x in g]
        else:
            yield name, dict(_walk_values(g))


# ----------------------------------------------------------------------------------------------
# comparison

MISSING = object()


def sf_state(slot, regs):
    """(sf value or None, usable?) for a scaled point; (None, True) if not scaled."""
    if slot.sf_const is not None:
        return slot.sf_const, SF_MIN <= slot.sf_const <= SF_MAX
    if slot.sf_off is None:
        return None, True
    raw = regs[slot.sf_off]
    if raw == 0x8000:
        return None, False
    v = raw - 0x10000 if raw & 0x8000 else raw
    return v, SF_MIN <= v <= SF_MAX


def raw_int(slot, regs):
    v = 0
    for r in regs[slot.off:slot.off + slot.n]:
        v = (v << 16) | r
    return v


def raw_bytes(slot, regs):
    return regs_to_bytes(regs[slot.off:slot.off + slot.n])


def value_implemented(slot, regs):
    t = slot.pdef["type"]
    if t in INT_TYPES:
        return raw_int(slot, regs) != INT_TYPES[t][2]
    if t == "float32":
        return not math.isnan(struct.unpack(">f", raw_bytes(slot, regs))[0])
    if t == "float64":
        return not math.isnan(struct.unpack(">d", raw_bytes(slot, regs))[0])
    if t == "string":
        return raw_bytes(slot, regs)[0] != 0
    if t in ("ipaddr", "ipv6addr"):
        return raw_int(slot, regs) != 0
    if t == "eui48":
        return raw_bytes(slot, regs)[2:] != b"\xff" * 6
    return True


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v):
    return is_int(v) or isinstance(v, Decimal)


def dec_of_float(f):
    return Decimal(repr(f))


def f32_of_decimal(d):
    """Correctly rounded float32 (as a Python float) nearest to the decimal d."""
    f = float(d)
    if math.isinf(f):
        return f
    try:
        b = struct.unpack(">I", struct.pack(">f", f))[0]
    except OverflowError:
        return math.copysign(math.inf, f)
    cands = []
    for bb in (b - 1, b, b + 1):
        bb &= 0xFFFFFFFF
        c = struct.unpack(">f", struct.pack(">I", bb))[0]
        if not (math.isnan(c) or math.isinf(c)):
            cands.append((abs(Decimal(c) - d), bb & 1, c))   # nearest, ties to even
    return min(cands)[2]


def f32_of_float(f):
    return struct.unpack(">f", struct.pack(">f", f))[0]


def numbers_agree(ours, theirs, sfv):
    """Ours exact decimal vs pysunspec2 float/int: equal after rounding to the sf's decimals or
    within a relative 1e-12."""
    o = Decimal(ours)
    t = Decimal(theirs) if is_int(theirs) else dec_of_float(theirs)
    q = Decimal(1).scaleb(min(sfv, 0))
    if o.quantize(q, rounding=decimal.ROUND_HALF_EVEN) == t.quantize(q, rounding=decimal.ROUND_HALF_EVEN):
        return True
    scale = max(abs(o), abs(t))
    return scale == 0 or abs(o - t) <= scale * Decimal("1e-12")


def exact_at_scale(ours, sfv):
    o = Decimal(ours)
    q = Decimal(1).scaleb(min(sfv, 0))
    return o == o.quantize(q, rounding=decimal.ROUND_HALF_EVEN) if o.is_finite() else False


def ipv6_bytes_of_ours(s):
    if not isinstance(s, str):
        return None
    try:
        return ipaddress.IPv6Address(s).packed
    except ValueError:
        pass
    h = s.replace(":", "")
    if len(h) == 32:
        try:
            return bytes.fromhex(h)
        except ValueError:
            return None
    return None


def compare_point(slot, regs, ours, theirs):
    """Return ('equal'|'diff'|'mismatch', kind or reason)."""
    t = slot.pdef["type"]
    if ours is MISSING:
        return "mismatch", "point missing from our record"
    scaled = slot.sf_off is not None or slot.sf_const is not None
    sfv, sf_ok = sf_state(slot, regs)
    impl = value_implemented(slot, regs)

    if scaled and impl and not sf_ok:
        if ours is None:
            if theirs is None:
                return "equal", None
            return "diff", KIND_SF
        return "mismatch", "scale factor not implemented/out of range but our value is not null"
    if isinstance(theirs, Raised):
        return "mismatch", "pysunspec2 raised for a usable scale factor"

    # values that are implemented for us but not for pysunspec2 (documented kind 5)
    if t == "float32" and raw_int(slot, regs) == FLOAT32_PYSUNSPEC2_SENTINEL_BITS:
        # 2143289344.0 is an ordinary number; pysunspec2 mistakes it for the NaN pattern
        if is_num(ours) and f32_of_decimal(Decimal(ours)) == 2143289344.0:
            return ("diff", KIND_F32_SENTINEL) if theirs is None else ("equal", None)
        return "mismatch", "float32 2143289344.0 is a number, not the not-implemented NaN"
    if t == "eui48" and raw_int(slot, regs) == 0:
        # only FF:FF:FF:FF:FF:FF is "not implemented"; pysunspec2 also drops all-zero registers
        if ours == "00:00:00:00:00:00":
            return ("diff", KIND_EUI48_ZERO) if theirs is None else ("equal", None)
        return "mismatch", "all-zero eui48 is the address 00:00:00:00:00:00"

    if ours is None and theirs is None:
        return "equal", None

    if t in INT_TYPES:
        if ours is None or theirs is None:
            return "mismatch", "null on one side"
        if not scaled or not sfv:
            if not is_int(ours):
                return "mismatch", "expected an integer"
            return ("equal", None) if ours == theirs else ("mismatch", "values differ")
        if not is_num(ours):
            return "mismatch", "expected a number"
        if not exact_at_scale(ours, sfv):
            return "mismatch", "not exact at the scale factor's decimals"
        if not is_num(theirs) and not isinstance(theirs, float):
            return "mismatch", "pysunspec2 gave a non-number"
        t_dec = Decimal(theirs) if is_int(theirs) else dec_of_float(theirs)
        if Decimal(ours) == t_dec:
            return "equal", None
        if numbers_agree(ours, theirs, sfv):
            return "diff", KIND_DECIMAL
        return "mismatch", "values differ"

    if t in ("float32", "float64"):
        if ours is None or theirs is None:
            return "mismatch", "null on one side"
        if not is_num(ours):
            return "mismatch", "expected a number"
        if t == "float64":
            if float(Decimal(ours)) == theirs:
                return ("equal", None) if Decimal(ours) == dec_of_float(theirs) else ("diff", KIND_FLOAT32)
            return "mismatch", "values differ"
        if f32_of_decimal(Decimal(ours)) == f32_of_float(theirs):
            return ("equal", None) if Decimal(ours) == dec_of_float(theirs) else ("diff", KIND_FLOAT32)
        return "mismatch", "values differ"

    if t == "string":
        b = raw_bytes(slot, regs)
        nul = b.find(b"\0")
        if 0 < nul and b[nul:].strip(b"\0"):
            # text after the terminating NUL is not part of the string
            if isinstance(theirs, str) and isinstance(ours, str) and theirs.split("\0")[0] == ours:
                return "diff", KIND_STR_NUL
            return "mismatch", "string must end at the first NUL"
        if ours == theirs:
            return "equal", None
        return "mismatch", "strings differ"

    if t == "ipaddr":
        if ours is None or theirs is None:
            return "mismatch", "null on one side"
        if not isinstance(ours, str):
            return "mismatch", "ipaddr must be a dotted string"
        if is_int(theirs) and ours == str(ipaddress.IPv4Address(theirs)):
            return "diff", KIND_FORMAT
        return "mismatch", "addresses differ"

    if t == "ipv6addr":
        if ours is None or theirs is None:
            return "mismatch", "null on one side"
        ob = ipv6_bytes_of_ours(ours)
        tb = bytes.fromhex(theirs.replace(":", "")) if isinstance(theirs, str) else None
        if ob is not None and ob == tb:
            return ("equal", None) if ours == theirs else ("diff", KIND_FORMAT)
        return "mismatch", "addresses differ"

    if t == "eui48":
        if ours is None or theirs is None:
            return "mismatch", "null on one side"
        if ours == theirs:
            return "equal", None
        if isinstance(ours, str) and ours.upper() == theirs.upper():
            return "diff", KIND_FORMAT
        return "mismatch", "addresses differ"

    return "mismatch", "unhandled point type %s" % t


def excluded(slot):
    """Points left out of our records: sunssf and pad points, and the model's own ID and L."""
    return slot.pdef["type"] in EXCLUDED_TYPES or (len(slot.path) == 1 and slot.path[0] in EXCLUDED_NAMES)


def expected_keys(node):
    keys = set()
    for slot in node["points"]:
        if not excluded(slot):
            keys.add(slot.path[-1])
    for name, _, _ in node["groups"]:
        keys.add(name)
    return keys


class ModelStats(object):
    def __init__(self, mid):
        self.mid = mid
        self.images = 0
        self.compared = 0
        self.equal = 0
        self.kinds = collections.Counter()
        self.mismatches = []     # dicts
        self.missing = 0         # images pysunspec2 decodes but ours does not output
        self.ref_failed = 0      # images pysunspec2 could not decode (should not happen)
        self.ref_errors = []
        self.our_errors = []     # 'errors' arrays of our records
        self.kind_examples = {}
        self.misfit = 0          # images whose repeats do not fit L (see make_misfit)


def path_str(path):
    out = ""
    for p in path:
        out += "[%d]" % p if isinstance(p, int) else ("." + p if out else p)
    return out


def compare_group(node, ours_obj, theirs_obj, regs, stats, ctx, path):
    exp = expected_keys(node)
    if not isinstance(ours_obj, dict):
        stats.mismatches.append(dict(ctx, path=path_str(path) or "values", ours=ours_obj, theirs="(group)",
                                     reason="expected an object", raw=None))
        return
    extra = sorted(set(ours_obj) - exp)
    for k in extra:
        stats.mismatches.append(dict(ctx, path=path_str(path + [k]), ours=ours_obj[k], theirs=MISSING,
                                     reason="unexpected key in our record", raw=None))
    for slot in node["points"]:
        name = slot.path[-1]
        if excluded(slot):
            continue
        ours = ours_obj.get(name, MISSING)
        theirs = theirs_obj.get(name, None) if isinstance(theirs_obj, dict) else None
        status, why = compare_point(slot, regs, ours, theirs)
        stats.compared += 1
        if status == "equal":
            stats.equal += 1
        elif status == "diff":
            stats.kinds[why] += 1
            stats.kind_examples.setdefault(why, dict(ctx, path=path_str(slot.path), ours=ours, theirs=theirs,
                                                     raw=raw_desc(slot, regs)))
        else:
            stats.mismatches.append(dict(ctx, path=path_str(slot.path), ours=ours, theirs=theirs,
                                         reason=why, raw=raw_desc(slot, regs), type=slot.pdef["type"]))
    for name, repeating, sub in node["groups"]:
        o = ours_obj.get(name, MISSING)
        th = theirs_obj.get(name, MISSING) if isinstance(theirs_obj, dict) else MISSING
        if repeating:
            if th is MISSING:
                th = []
            if o is MISSING and not sub:
                continue       # pysunspec2 leaves out empty repeating groups too
            if not isinstance(o, list) or len(o) != len(sub):
                stats.mismatches.append(dict(ctx, path=path_str(path + [name]),
                                             ours=("%d instances" % len(o)) if isinstance(o, list) else o,
                                             theirs="%d instances" % len(th),
                                             reason="repeating group count differs (image has %d)" % len(sub),
                                             raw=None))
                continue
            if len(th) != len(sub):
                stats.mismatches.append(dict(ctx, path=path_str(path + [name]), ours="%d instances" % len(o),
                                             theirs="%d instances" % len(th),
                                             reason="pysunspec2 group count differs from the image "
                                                    "(reference problem)", raw=None))
                continue
            for i, inst in enumerate(sub):
                compare_group(inst, o[i], th[i], regs, stats, ctx, path + [name, i])
        else:
            if o is MISSING:
                stats.mismatches.append(dict(ctx, path=path_str(path + [name]), ours=MISSING, theirs="(group)",
                                             reason="group missing from our record", raw=None))
                continue
            compare_group(sub, o, th if isinstance(th, dict) else {}, regs, stats, ctx, path + [name])


def raw_desc(slot, regs):
    s = " ".join("%04X" % r for r in regs[slot.off:slot.off + slot.n])
    if slot.n > 8:
        s = " ".join("%04X" % r for r in regs[slot.off:slot.off + 8]) + " ..."
    s = "@%d [%s]" % (BASE_ADDR + 2 + slot.off, s)
    if slot.sf_off is not None:
        s += " sf@%d=%04X" % (BASE_ADDR + 2 + slot.sf_off, regs[slot.sf_off])
    elif slot.sf_const is not None:
        s += " sf=%d" % slot.sf_const
    return s


# ----------------------------------------------------------------------------------------------
# running


def run_gateway(gateway, capture_path, out_path, err_path, timeout):
    cmd = [gateway, "decode", capture_path]
    if gateway.endswith(".py"):
        cmd = [sys.executable] + cmd
    t0 = time.time()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        try:
            rc = subprocess.call(cmd, stdout=out, stderr=err, timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = "timeout"
        except OSError as exc:
            sys.stderr.write("cannot run %s: %s\n" % (gateway, exc))
            sys.exit(2)
    return rc, time.time() - t0


def parse_ours(out_path):
    records = collections.defaultdict(list)
    others = collections.defaultdict(list)
    bad_lines = []
    with open(out_path, "rb") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line, parse_float=Decimal)
            except ValueError as exc:
                bad_lines.append((n, str(exc), line[:200]))
                continue
            if not isinstance(rec, dict):
                bad_lines.append((n, "not an object", line[:200]))
                continue
            if rec.get("type") == "reading":
                records[rec.get("device")].append(rec)
            else:
                others[rec.get("device")].append(rec)
    return records, others, bad_lines


def fmt(v):
    if v is MISSING:
        return "(absent)"
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, (dict, list)):
        s = json.dumps(v, default=str)
        return s if len(s) < 80 else s[:77] + "..."
    return repr(v)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gateway", required=True, help="path of the sunspec-gateway binary")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--per-model", type=int, default=20, help="register images per model (default 20)")
    ap.add_argument("--workdir", help="where to write the captures and our output (default: a temp dir)")
    ap.add_argument("--models", help="comma-separated model ids (default: all)")
    ap.add_argument("--show", type=int, default=5, help="mismatches shown per model (default 5)")
    ap.add_argument("--timeout", type=float, default=900, help="gateway run timeout in seconds")
    ap.add_argument("--json-report", help="also write a machine-readable report here")
    ap.add_argument("-q", "--quiet", action="store_true", help="print only the summary line when passing")
    args = ap.parse_args(argv)

    defs = load_model_defs()
    if args.models:
        wanted = [int(x) for x in args.models.split(",") if x.strip()]
        unknown = [m for m in wanted if m not in defs]
        if unknown:
            sys.stderr.write("unknown model ids: %s\n" % unknown)
            return 2
        defs = {m: defs[m] for m in sorted(wanted)}
    workdir = args.workdir or tempfile.mkdtemp(prefix="sunspec-interop-")
    os.makedirs(workdir, exist_ok=True)
    capture_path = os.path.join(workdir, "images.jsonl")
    out_path = os.path.join(workdir, "ours.ndjson")
    err_path = os.path.join(workdir, "ours.stderr")

    # 1. images + pysunspec2 decode
    cases = []   # (device, mid, regs, shape, stats, model, theirs)
    stats = {}
    with open(capture_path, "w") as f:
        for mid, mdef in defs.items():
            rng = random.Random("%d:%d" % (args.seed, mid))
            st = stats[mid] = ModelStats(mid)
            for k in range(args.per_model):
                legacy65 = mid == 1 and rng.random() < 0.25
                regs, slots, shape, counts, legacy = build_image(mdef, rng, legacy65=legacy65)
                dev = "m%d-%d" % (mid, k)
                misfit = make_misfit(mdef, regs, shape, counts, legacy,
                                     random.Random("misfit:%d:%d:%d" % (args.seed, mid, k)))
                capture = {"format": "sunspec-gateway/registers", "version": 1, "captured": None,
                           "device": dev, "unit": 1,
                           "blocks": [{"start": BASE_ADDR, "function": 3,
                                       "registers": [0x5375, 0x6E53] + regs + [0xFFFF, 0]}]}
                f.write(json.dumps(capture, separators=(",", ":")) + "\n")
                if misfit is not None:
                    # pysunspec2 refuses the whole model; its decode of the fixed part alone is the
                    # reference for our fixed points
                    st.misfit += 1
                    fixed_regs, shape = misfit
                    try:
                        pysunspec2_decode(mid, regs)
                    except ss_device.ModelError:
                        pass
                    else:
                        st.mismatches.append(dict(
                            device=dev, model=mid, path="(model)", ours="(fixed points)", theirs="(decoded)",
                            raw=None, reason="pysunspec2 decoded a misfit image (README: it refuses it)"))
                    ref_regs = fixed_regs
                else:
                    ref_regs = regs
                try:
                    model, theirs = pysunspec2_decode(mid, ref_regs)
                except Exception as exc:
                    st.ref_failed += 1
                    st.ref_errors.append("%s: pysunspec2 raised %s: %s" % (dev, type(exc).__name__, exc))
                    cases.append((dev, mid, regs, shape, None, misfit is not None))
                    continue
                if model.error_info:
                    st.ref_errors.append("%s: %s" % (dev, model.error_info.strip()))
                cases.append((dev, mid, regs, shape, theirs, misfit is not None))

    # 2. one gateway run
    rc, elapsed = run_gateway(args.gateway, capture_path, out_path, err_path, args.timeout)
    records, others, bad_lines = parse_ours(out_path)

    # 3. compare
    for dev, mid, regs, shape, theirs, misfit in cases:
        st = stats[mid]
        st.images += 1
        if theirs is None:
            continue
        recs = records.get(dev, [])
        ctx = {"model": mid, "device": dev}
        if not recs:
            st.missing += 1
            note = "; ".join(fmt(r) for r in others.get(dev, []))[:300]
            st.mismatches.append(dict(ctx, path="(record)", ours=MISSING, theirs="(decoded)",
                                      reason="no reading record for this capture" + (": " + note if note else ""),
                                      raw=None))
            continue
        if len(recs) > 1:
            st.mismatches.append(dict(ctx, path="(record)", ours="%d records" % len(recs), theirs="1 model",
                                      reason="more than one reading record for a one-model capture", raw=None))
        rec = recs[0]
        meta = {"model": mid, "name": defs[mid]["group"]["name"], "index": 0, "addr": BASE_ADDR + 2,
                "len": regs[1], "ts": None}
        for key, want in meta.items():
            if rec.get(key, MISSING) != want:
                st.mismatches.append(dict(ctx, path="(%s)" % key, ours=rec.get(key, MISSING), theirs=want,
                                          reason="record field differs", raw=None))
        if rec.get("errors"):
            st.our_errors.append("%s: %s" % (dev, fmt(rec["errors"])))
        if misfit and not any(MISFIT_ERROR in e for e in rec.get("errors", [])):
            st.mismatches.append(dict(ctx, path="(errors)", ours=rec.get("errors", MISSING),
                                      theirs="(model refused)", raw=None,
                                      reason="a misfit image needs an error with '%s'" % MISFIT_ERROR))
        compare_group(shape, rec.get("values", MISSING), theirs, regs, st, ctx, [])

    # 4. report
    report = []

    def say(*a):
        report.append(" ".join(str(x) for x in a))

    total = collections.Counter()
    kinds_total = collections.Counter()
    failed_models = []
    say("sunspec-gateway decode vs pysunspec2 %s  seed=%d per-model=%d  workdir=%s"
          % (pysunspec2_version(), args.seed, args.per_model, workdir))
    say("gateway: %s  exit=%s  %.1fs  stdout records: %d readings, %d other, %d unparsable lines"
          % (args.gateway, rc, elapsed, sum(len(v) for v in records.values()),
             sum(len(v) for v in others.values()), len(bad_lines)))
    for n, why, line in bad_lines[:5]:
        say("  unparsable line %d (%s): %s" % (n, why, line))
    if rc != 0:
        with open(err_path, "rb") as f:
            tail = f.read()[-1500:].decode("utf-8", "replace")
        say("  gateway stderr (tail):\n    " + tail.replace("\n", "\n    "))
    say()
    hdr = "%7s %6s %9s %9s %s %9s %s" % ("model", "images", "compared", "equal",
                                         " ".join("%5s" % k.split("-")[0] for k in KINDS), "mismatch", "")
    say(hdr)
    for mid, st in stats.items():
        nmis = len(st.mismatches)
        flag = ""
        if nmis or st.missing:
            failed_models.append(mid)
            flag = "FAIL" + (" (%d images not output)" % st.missing if st.missing else "")
        if st.ref_failed:
            flag += " [pysunspec2 failed on %d images]" % st.ref_failed
        say("%7d %6d %9d %9d %s %9d %s" % (mid, st.images, st.compared, st.equal,
                                             " ".join("%5d" % st.kinds[k] for k in KINDS), nmis, flag))
        total["compared"] += st.compared
        total["equal"] += st.equal
        total["mismatch"] += nmis
        total["missing"] += st.missing
        total["ref_failed"] += st.ref_failed
        total["images"] += st.images
        total["misfit"] += st.misfit
        kinds_total.update(st.kinds)
    say()
    say("documented differences by kind:")
    for k in KINDS:
        ex = next((st.kind_examples[k] for st in stats.values() if k in st.kind_examples), None)
        exs = ("  e.g. %s %s: ours %s, pysunspec2 %s, raw %s"
               % (ex["device"], ex["path"], fmt(ex["ours"]), fmt(ex["theirs"]), ex["raw"])) if ex else ""
        say("  %-22s %8d%s" % (k, kinds_total[k], exs))
    ref_notes = [(mid, e) for mid, st in stats.items() for e in st.ref_errors]
    if ref_notes:
        say()
        say("pysunspec2 errors on generated images (%d; these point at the image generator):" % len(ref_notes))
        for mid, e in ref_notes[:10]:
            say("  %s" % e)
    our_notes = [e for st in stats.values() for e in st.our_errors]
    if our_notes:
        say()
        say("our records with 'errors' (%d; informational):" % len(our_notes))
        for e in our_notes[:10]:
            say("  %s" % e)
    if failed_models:
        say()
        say("MISMATCHES (first %d per model):" % args.show)
        for mid in failed_models:
            st = stats[mid]
            for m in st.mismatches[:args.show]:
                say("  model %d %s %s: ours %s, pysunspec2 %s -- %s%s"
                      % (mid, m["device"], m["path"], fmt(m["ours"]), fmt(m["theirs"]), m["reason"],
                         ("; raw %s" % m["raw"]) if m.get("raw") else ""))
            if len(st.mismatches) > args.show:
                say("  model %d: ... %d more" % (mid, len(st.mismatches) - args.show))
        reasons = collections.Counter((m.get("type", ""), m["reason"]) for st in stats.values()
                                      for m in st.mismatches)
        say()
        say("mismatches by point type and reason:")
        for (t, r), n in reasons.most_common():
            say("  %6d  %-10s %s" % (n, t or "-", r))

    if args.json_report:
        rep = {"seed": args.seed, "per_model": args.per_model, "gateway_exit": rc, "totals": dict(total),
               "kinds": dict(kinds_total), "failed_models": failed_models,
               "models": {str(mid): {"images": st.images, "compared": st.compared, "equal": st.equal,
                                     "kinds": dict(st.kinds), "missing": st.missing,
                                     "mismatches": [{k: fmt(v) if k in ("ours", "theirs") else v
                                                     for k, v in m.items()} for m in st.mismatches[:50]],
                                     "mismatch_count": len(st.mismatches)}
                          for mid, st in stats.items()}}
        with open(args.json_report, "w") as f:
            json.dump(rep, f, indent=1, default=str)

    ok = not failed_models and rc == 0
    if not (args.quiet and ok):
        print("\n".join(report))
        print()
    print("%s: %d models, %d images (%d misfit), %d points compared, %d equal, "
          "%d documented differences (%s), %d mismatches, %d images not output%s"
          % ("PASS" if ok else "FAIL" if rc == 0 else "FAIL (gateway exit %s)" % rc, len(stats),
             total["images"], total["misfit"], total["compared"], total["equal"], sum(kinds_total.values()),
             ", ".join("%s %d" % (k, kinds_total[k]) for k in KINDS if kinds_total[k]) or "none",
             total["mismatch"], total["missing"],
             (", pysunspec2 failed on %d images" % total["ref_failed"]) if total["ref_failed"] else ""))
    return 0 if ok else 1


def pysunspec2_version():
    try:
        from importlib.metadata import version
        return version("pysunspec2")
    except Exception:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
