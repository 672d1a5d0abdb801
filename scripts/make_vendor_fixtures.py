#!/usr/bin/env python3
"""Generate the vendor (non-SunSpec) battery captures in Fixtures/vendor/ and their README (deterministic).

Run from the repo root with the project's Python venv:

    .venv/bin/python scripts/make_vendor_fixtures.py           # write the captures and README.md
    .venv/bin/python scripts/make_vendor_fixtures.py --serve   # also serve each file with
                                                                # scripts/serve_capture.py and read every
                                                                # register back with pymodbus' client

Four battery systems, one capture per Modbus unit (the capture format holds one unit per document):

    huawei-luna2000.json     Huawei SUN2000 + LUNA2000-15-S0, unit 1, holding registers
    sungrow-sh.json          Sungrow SH10RT + SBR128, unit 1, input (function 4) and holding registers
    solaredge-storedge.json  SolarEdge StorEdge inverter, battery 1 at 0xE100, unit 1, holding registers
    victron-gx.json          Victron GX system values, unit 100
    victron-gx-battery.json  Victron GX battery service, unit 225

The register facts come from /work/shared/reference/vendor-registers.md (which names its public sources);
the few registers that fill the gaps of a contiguous read and that the reference does not list are named
after the same public sources (huawei-solar-lib, SunGather, solaredge_modbus, hass-victron) or, where no
source names them, written as 0 and marked so.  Every register is one row of a table below: the captures
and the README tables are both generated from those rows, and the script checks that each block is covered
exactly once.  All values describe the same moment: 2026-11-29T06:00:00Z, each battery discharging at
about 2.5 kW with its state of charge around 65 %.
"""

import argparse
import json
import math
import os
import re
import socket
import struct
import subprocess
import sys
from decimal import Decimal

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "Fixtures", "vendor")
FORMAT = "sunspec-gateway/registers"
CAPTURED = "2026-11-29T06:00:00.000Z"
F32_NAN = 0x7FC00000

HOLDING, INPUT = 3, 4

# --------------------------------------------------------------------------------------------
# Word encoders.  "big" word order = high word first; "little" = low word first.
# --------------------------------------------------------------------------------------------


def words_of(value, nwords, order):
    """An unsigned integer of nwords registers in the given word order."""
    ws = [(value >> (16 * (nwords - 1 - i))) & 0xFFFF for i in range(nwords)]
    return ws if order == "big" else ws[::-1]


def f32_bits(value):
    if isinstance(value, str) and value == "nan":
        return F32_NAN
    return struct.unpack(">I", struct.pack(">f", value))[0]


def f32_value(value):
    """The float32 a value is stored as (what a reader decodes)."""
    return struct.unpack(">f", struct.pack(">I", f32_bits(value)))[0]


def ascii_words(text, nregs):
    data = text.encode("ascii")
    assert len(data) <= 2 * nregs, text
    data = data.ljust(2 * nregs, b"\0")
    return [(data[2 * i] << 8) | data[2 * i + 1] for i in range(nregs)]


def scaled(raw, scale):
    """raw x scale as exact decimal text (65.3, 12.80, 6600)."""
    s = Decimal(str(scale))
    v = Decimal(raw) * s
    if s == s.to_integral_value():
        return str(int(v))
    return str(v.quantize(s))


def fmt_float(v):
    if math.isnan(v):
        return "NaN"
    return ("%.6f" % v).rstrip("0").rstrip(".") if v != int(v) else "%.1f" % v


# --------------------------------------------------------------------------------------------
# A capture: rows (one per register or register group) and the blocks they fill.
# --------------------------------------------------------------------------------------------


class Row:
    """One register (or run of registers) of a capture, with everything the README says about it."""

    def __init__(self, fc, addr, typ, words, raw, value, meaning, sunspec, doc=None, decoded=None):
        self.fc, self.addr, self.typ, self.words = fc, addr, typ, words
        self.raw, self.value, self.meaning, self.sunspec = raw, value, meaning, sunspec
        self.doc = doc                # Sungrow: the 1-based documented register number
        self.decoded = decoded        # (pymodbus DATATYPE name, word order, value) for the serve check


class Capture:
    def __init__(self, filename, device, unit, order, blocks, doc_offset=0, hex_addr=False):
        self.filename, self.device, self.unit, self.order = filename, device, unit, order
        self.blocks = blocks                  # [(function, start, count)]
        self.doc_offset = doc_offset          # documented number = address + doc_offset
        self.hex_addr = hex_addr
        self.rows = []

    # ---- row builders (addr is the 0-based protocol address) ----

    def _add(self, fc, addr, typ, words, raw, value, meaning, sunspec, decoded=None):
        doc = addr + self.doc_offset if self.doc_offset else None
        self.rows.append(Row(fc, addr, typ, words, raw, value, meaning, sunspec, doc, decoded))

    def u16(self, fc, addr, raw, meaning, sunspec="", scale=None, unit="", label=None):
        assert 0 <= raw <= 0xFFFF
        if label is not None:
            value = "%d = %s" % (raw, label)
        elif scale is not None:
            value = "%s %s" % (scaled(raw, scale), unit)
        else:
            value = "%d %s" % (raw, unit)
        self._add(fc, addr, "u16", [raw], "%d (0x%04X)" % (raw, raw), value.strip(), meaning, sunspec,
                  ("UINT16", "big", raw))

    def s16(self, fc, addr, raw, meaning, sunspec="", scale=1, unit="", sentinel=False):
        assert -0x8000 <= raw <= 0x7FFF
        w = raw & 0xFFFF
        value = "invalid (sentinel)" if sentinel else "%s %s" % (scaled(raw, scale), unit)
        self._add(fc, addr, "s16", [w], "%d (0x%04X)" % (w, w) + ("" if raw >= 0 else " = %d" % raw),
                  value.strip(), meaning, sunspec, ("INT16", "big", raw))

    def int32(self, fc, addr, raw, meaning, sunspec="", scale=1, unit="", signed=False, nwords=2):
        bits = 16 * nwords
        u = raw & ((1 << bits) - 1)
        ws = words_of(u, nwords, self.order)
        typ = ("s" if signed else "u") + str(bits)
        text = "[%s] = 0x%0*X" % (", ".join(str(w) for w in ws), nwords * 4, u)
        if signed and raw < 0:
            text += " = %d" % raw
        value = "%s %s" % (scaled(raw, scale), unit)
        dtype = ("INT" if signed else "UINT") + str(bits)
        self._add(fc, addr, typ, ws, text, value.strip(), meaning, sunspec, (dtype, self.order, raw))

    def u32(self, fc, addr, raw, meaning, sunspec="", scale=1, unit=""):
        self.int32(fc, addr, raw, meaning, sunspec, scale, unit, signed=False)

    def s32(self, fc, addr, raw, meaning, sunspec="", scale=1, unit=""):
        self.int32(fc, addr, raw, meaning, sunspec, scale, unit, signed=True)

    def u64(self, fc, addr, raw, meaning, sunspec="", unit=""):
        self.int32(fc, addr, raw, meaning, sunspec, 1, unit, signed=False, nwords=4)

    def f32(self, fc, addr, value, meaning, sunspec="", unit=""):
        bits = f32_bits(value)
        ws = words_of(bits, 2, self.order)
        stored = f32_value(value)
        text = "[%s] = 0x%08X" % (", ".join(str(w) for w in ws), bits)
        shown = "NaN (sentinel)" if math.isnan(stored) else "%s %s" % (fmt_float(stored), unit)
        self._add(fc, addr, "f32", ws, text, shown.strip(), meaning, sunspec, ("FLOAT32", self.order, stored))

    def string(self, fc, addr, nregs, text, meaning, sunspec=""):
        ws = ascii_words(text, nregs)
        raw = "%d regs: %s" % (nregs, " ".join("%04X" % w for w in ws[:max(1, (len(text) + 1) // 2)]))
        raw += " then 0" if len(text) < 2 * nregs else ""
        self._add(fc, addr, "string", ws, raw, '"%s"' % text if text else "empty", meaning, sunspec)

    def fill(self, fc, addr, count, meaning, value=0):
        self._add(fc, addr, "u16" if count == 1 else "u16 x%d" % count, [value] * count,
                  "%d" % value if count == 1 else "%d (all %d)" % (value, count), "-", meaning, "-")

    # ---- assembly ----

    def image(self):
        """{function: {address: word}}, checking that rows tile the declared blocks exactly."""
        img = {HOLDING: {}, INPUT: {}}
        for r in self.rows:
            for i, w in enumerate(r.words):
                a = r.addr + i
                assert a not in img[r.fc], "%s: fc %d address %d written twice" % (self.filename, r.fc, a)
                img[r.fc][a] = w
        declared = {HOLDING: set(), INPUT: set()}
        for fc, start, count in self.blocks:
            declared[fc].update(range(start, start + count))
        for fc in (HOLDING, INPUT):
            extra = sorted(set(img[fc]) - declared[fc])
            missing = sorted(declared[fc] - set(img[fc]))
            assert not extra, "%s: fc %d rows outside the blocks: %s" % (self.filename, fc, extra[:8])
            assert not missing, "%s: fc %d block registers without a row: %s" % (self.filename, fc, missing[:8])
        return img

    def document(self):
        img = self.image()
        blocks = []
        for fc, start, count in self.blocks:
            blocks.append({"start": start, "function": fc,
                           "registers": [img[fc][a] for a in range(start, start + count)]})
        return {"format": FORMAT, "version": 1, "captured": CAPTURED, "device": self.device,
                "unit": self.unit, "blocks": blocks}

    def json_text(self):
        doc = self.document()
        lines = ["{"]
        for key in ("format", "version", "captured", "device", "unit"):
            lines.append("  %s: %s," % (json.dumps(key), json.dumps(doc[key])))
        lines.append('  "blocks": [')
        for i, b in enumerate(doc["blocks"]):
            sep = "," if i + 1 < len(doc["blocks"]) else ""
            lines.append('    {"start": %d, "function": %d, "registers": [%s]}%s'
                         % (b["start"], b["function"], ", ".join(str(v) for v in b["registers"]), sep))
        lines.append("  ]")
        lines.append("}")
        return "\n".join(lines) + "\n"

    # ---- README table ----

    def addr_text(self, r):
        n = len(r.words)
        if self.hex_addr:
            a = "%d (0x%04X)" % (r.addr, r.addr)
            if n > 1:
                a = "%d..%d (0x%04X..0x%04X)" % (r.addr, r.addr + n - 1, r.addr, r.addr + n - 1)
            return a
        return str(r.addr) if n == 1 else "%d..%d" % (r.addr, r.addr + n - 1)

    def table(self):
        doc_col = bool(self.doc_offset)
        head = "| address | " + ("doc. reg | " if doc_col else "") + "fc | type | raw | value | meaning | SunSpec |"
        out = [head, "|" + "---|" * (head.count("|") - 1)]
        def block_index(r):
            return next(i for i, (fc, start, count) in enumerate(self.blocks)
                        if fc == r.fc and start <= r.addr < start + count)
        for r in sorted(self.rows, key=lambda r: (block_index(r), r.addr)):
            n = len(r.words)
            cells = [self.addr_text(r)]
            if doc_col:
                cells.append(str(r.doc) if n == 1 else "%d..%d" % (r.doc, r.doc + n - 1))
            cells += [str(r.fc), r.typ, r.raw, r.value, r.meaning, r.sunspec or "-"]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(out)

    def blocks_text(self):
        parts = []
        for fc, start, count in self.blocks:
            if self.hex_addr:
                parts.append("fc %d %d..%d (0x%04X..0x%04X, %d regs)" % (fc, start, start + count - 1, start,
                                                                         start + count - 1, count))
            elif self.doc_offset:
                parts.append("fc %d %d..%d (documented %d..%d, %d regs)" % (
                    fc, start, start + count - 1, start + self.doc_offset, start + count - 1 + self.doc_offset,
                    count))
            else:
                parts.append("fc %d %d..%d (%d reg%s)" % (fc, start, start + count - 1, count, "" if count == 1 else "s"))
        return "; ".join(parts)


# --------------------------------------------------------------------------------------------
# 1. Huawei SUN2000 + LUNA2000 (reference section 1). FC03, 32-bit high word first.
# --------------------------------------------------------------------------------------------

LIB = "(huawei-solar-lib; not in the reference)"


def huawei():
    c = Capture("huawei-luna2000.json", "Huawei SUN2000-5KTL-M1 + LUNA2000-15-S0", 1, "big",
                [(HOLDING, 37000, 23), (HOLDING, 37046, 4), (HOLDING, 37758, 9), (HOLDING, 37780, 4),
                 (HOLDING, 38452, 12), (HOLDING, 47000, 1), (HOLDING, 47075, 28)])
    H = HOLDING
    # unit 1 (the only unit)
    c.u16(H, 37000, 2, "Unit-1 running status", "802.State = 3 CONNECTED (same as 37762)", label="running")
    c.s32(H, 37001, -2745, "Unit-1 charge/discharge power (native + = charging)",
          "802.W = +2745 W (same as 37765)", unit="W")
    c.u16(H, 37003, 4526, "Unit-1 bus voltage", "802.V = 452.6 V (same as 37763)", scale=0.1, unit="V")
    c.u16(H, 37004, 653, "Unit-1 SOC", "802.SoC = 65.3 % (same as 37760)", scale=0.1, unit="%")
    c.fill(H, 37005, 1, "not named by the reference or huawei-solar-lib")
    c.u16(H, 37006, 4, "Unit-1 working mode B " + LIB, label="maximise self-consumption")
    c.u32(H, 37007, 5000, "Unit-1 rated charge power " + LIB, unit="W")
    c.u32(H, 37009, 5000, "Unit-1 rated discharge power " + LIB, unit="W")
    c.fill(H, 37011, 3, "not named by the reference or huawei-solar-lib")
    c.u16(H, 37014, 0, "Unit-1 fault ID", "802.EvtVnd1 = 0")
    c.u32(H, 37015, 0, "Unit-1 current-day charge " + LIB, scale=0.01, unit="kWh")
    c.u32(H, 37017, 435, "Unit-1 current-day discharge " + LIB, scale=0.01, unit="kWh")
    c.fill(H, 37019, 2, "not named by the reference or huawei-solar-lib")
    c.s16(H, 37021, -61, "Unit-1 bus current (native + = charging)", "802.A = +6.1 A (same as 37764)",
          scale=0.1, unit="A")
    c.s16(H, 37022, 0x7FFF, "Unit-1 battery temperature: DELIBERATE Huawei s16 invalid sentinel 0x7FFF",
          "803.ModTmpAvg = not available (None), never 3276.7 °C", scale=0.1, unit="°C", sentinel=True)
    # storage (all units)
    c.u32(H, 37046, 5000, "Max charge power", "802.WChaRteMax = 5000 W", unit="W")
    c.u32(H, 37048, 4600, "Max discharge power", "802.WDisChaRteMax = 4600 W", unit="W")
    c.u32(H, 37758, 15000, "Rated capacity (all units)", "802.WHRtg = 15000 Wh; 713.WHRtg = 15000 Wh", unit="Wh")
    c.u16(H, 37760, 653, "SOC (combined)", "802.SoC = 65.3 %; 713.SoC = 65.3 %", scale=0.1, unit="%")
    c.fill(H, 37761, 1, "not named by the reference or huawei-solar-lib")
    c.u16(H, 37762, 2, "Running status", "802.State = 3 CONNECTED", label="running")
    c.u16(H, 37763, 4526, "Bus voltage", "802.V = 452.6 V", scale=0.1, unit="V")
    c.s16(H, 37764, -61, "Bus current (native + = charging, assumed like 37765)", "802.A = +6.1 A (sign flipped)",
          scale=0.1, unit="A")
    c.s32(H, 37765, -2745, "Charge/discharge power (native + = charging)",
          "802.W = +2745 W (sign flipped); 802.ChaSt = 3 DISCHARGING", unit="W")
    c.u32(H, 37780, 421357, "Total charge", "701.TotWhAbs = 4213570 Wh", scale=0.01, unit="kWh")
    c.u32(H, 37782, 391124, "Total discharge", "701.TotWhInj = 3911240 Wh", scale=0.01, unit="kWh")
    # pack temperatures: unit 1 packs 1-3 (valid), unit 2 packs 1-3 (unit 2 not installed)
    packs = [(215, 198), (221, 203), (218, 199)]
    for i, (tmax, tmin) in enumerate(packs):
        c.s16(H, 38452 + 2 * i, tmax, "Unit-1 pack %d max temperature" % (i + 1),
              "803.ModTmpMax candidate" + (" (the maximum: 803.ModTmpMax = 22.1 °C)" if tmax == 221 else ""),
              scale=0.1, unit="°C")
        c.s16(H, 38453 + 2 * i, tmin, "Unit-1 pack %d min temperature" % (i + 1),
              "803.ModTmpMin candidate" + (" (the minimum: 803.ModTmpMin = 19.8 °C)" if tmin == 198 else ""),
              scale=0.1, unit="°C")
    for i in range(3):
        for k, what in enumerate(("max", "min")):
            c.s16(H, 38458 + 2 * i + k, 0x7FFF,
                  "Unit-2 pack %d %s temperature: unit 2 not installed, s16 sentinel 0x7FFF" % (i + 1, what),
                  "ignored (None)", scale=0.1, unit="°C", sentinel=True)
    c.u16(H, 47000, 2, "Unit-1 product model", "802.Typ = 4 LITHIUM_ION", label="LUNA2000")
    # settings
    c.u32(H, 47075, 4000, "Max charging power setting (RW)", "124.WChaMax = 4000 W", unit="W")
    c.u32(H, 47077, 4600, "Max discharging power setting (RW)",
          "- (124 has no W discharge limit; the reference lists it with 47075)", unit="W")
    c.s32(H, 47079, 0, "Power limit of the grid-tied point " + LIB, unit="W")
    c.u16(H, 47081, 1000, "Charge cutoff capacity (RW)", "802.SoCMax = 100.0 %", scale=0.1, unit="%")
    c.u16(H, 47082, 50, "Discharge cutoff capacity (RW)", "802.SoCMin = 5.0 %", scale=0.1, unit="%")
    c.u16(H, 47083, 0, "Forced charge/discharge period " + LIB, unit="min")
    c.s32(H, 47084, 0, "Forced charge/discharge power " + LIB, unit="W")
    c.u16(H, 47086, 2, "Working mode settings (RW)", "- (the reference maps no point)",
          label="maximise self-consumption")
    c.u16(H, 47087, 0, "Charge from grid function " + LIB, label="disabled")
    c.u16(H, 47088, 500, "Grid charge cutoff SOC " + LIB, scale=0.1, unit="%")
    c.u16(H, 47089, 0, "Unit-2 product model " + LIB, "- (unit 2 absent)", label="none")
    c.fill(H, 47090, 10, "not named by the reference or huawei-solar-lib")
    c.u16(H, 47100, 0, "Forcible charge/discharge (RW)", "124.StorCtl_Mod = 0 (no bit set)", label="stop")
    c.u16(H, 47101, 0, "Forcible charge/discharge SOC " + LIB, scale=0.1, unit="%")
    c.u16(H, 47102, 150, "Backup-power SOC (RW)", "802.SoCRsvMin = 15.0 %", scale=0.1, unit="%")
    return c


# --------------------------------------------------------------------------------------------
# 2. Sungrow SH hybrid (reference section 2).  Documented numbers are 1-based: address = doc - 1.
#    32-bit values LOW word first.  Input registers are function 4, holding function 3.
# --------------------------------------------------------------------------------------------

SG = "(SunGather; not in the reference)"


def sungrow():
    c = Capture("sungrow-sh.json", "Sungrow SH10RT + SBR128", 1, "little",
                [(INPUT, 5213, 2), (INPUT, 5630, 9), (INPUT, 12999, 74),
                 (HOLDING, 13049, 51), (HOLDING, 33046, 2)], doc_offset=1)
    I, H = INPUT, HOLDING

    def a(doc):
        return doc - 1

    c.s32(I, a(5214), 2600, "Battery power (native + = discharging, - = charging)",
          "802.W = +2600 W (no flip); 802.ChaSt = 3 DISCHARGING", unit="W")
    c.s16(I, a(5631), 100, "Battery current (sign assumed as 5214: + = discharging)", "802.A = +10.0 A",
          scale=0.1, unit="A")
    c.fill(I, a(5632), 3, "not in the reference")
    c.u16(I, a(5635), 25, "BMS max charging current", "802.AChaMax = 25 A", unit="A")
    c.u16(I, a(5636), 30, "BMS max discharging current", "802.ADisChaMax = 30 A", unit="A")
    c.fill(I, a(5637), 2, "not in the reference")
    c.u16(I, a(5639), 1280, "Battery capacity (high precision)", "802.WHRtg = 12800 Wh; 713.WHRtg = 12800 Wh",
          scale=0.01, unit="kWh")
    # the 13000 block (documented 13000..13073: the u32 at 13072 ends at 13073)
    c.u16(I, a(13000), 0x0040, "Running (system) state", "802.State = 3 CONNECTED", label="0x40 Run")
    c.u16(I, a(13001), 0x002C, "Power-flow bits: b2 battery discharging, b3 load, b5 import",
          "802.ChaSt = 3 DISCHARGING (b2 set, b1 clear)", label="0x2C")
    c.u16(I, a(13002), 0, "Daily PV generation " + SG, scale=0.1, unit="kWh")
    c.u32(I, a(13003), 245183, "Total PV generation " + SG, scale=0.1, unit="kWh")
    c.u16(I, a(13005), 0, "Daily PV export " + SG, scale=0.1, unit="kWh")
    c.u32(I, a(13006), 61204, "Total PV export " + SG + " (SunGather types it U16; high word 0 here)",
          scale=0.1, unit="kWh")
    c.s32(I, a(13008), 2910, "Load power " + SG, unit="W")
    c.s32(I, a(13010), -310, "Export power " + SG + " (negative = importing)", unit="W")
    c.u16(I, a(13012), 0, "Daily battery charge from PV " + SG, scale=0.1, unit="kWh")
    c.u32(I, a(13013), 31056, "Total battery charge from PV " + SG, scale=0.1, unit="kWh")
    c.u32(I, a(13015), 123456, "CO2 reduction " + SG, scale=0.1, unit="kg")
    c.u16(I, a(13017), 0, "Daily direct energy consumption " + SG, scale=0.1, unit="kWh")
    c.u32(I, a(13018), 81234, "Total direct energy consumption " + SG, scale=0.1, unit="kWh")
    c.u16(I, a(13020), 2596, "Battery voltage", "802.V = 259.6 V", scale=0.1, unit="V")
    c.s16(I, a(13021), 100, "Battery current (superseded by 5631; magnitude here)", "- (802.A comes from 5631)",
          scale=0.1, unit="A")
    c.s16(I, a(13022), 2600, "Battery power (superseded by 5214; sign depends on firmware, magnitude here)",
          "- (802.W comes from 5214)", unit="W")
    c.u16(I, a(13023), 648, "Battery level (SOC)", "802.SoC = 64.8 %; 713.SoC = 64.8 %", scale=0.1, unit="%")
    c.u16(I, a(13024), 0xFFFF, "State of health: DELIBERATE 0xFFFF = unavailable",
          "802.SoH = not available; 713.SoH = not available (never 6553.5 %, never 0)", label="unavailable")
    c.s16(I, a(13025), 175, "Battery temperature", "803.ModTmpAvg = 17.5 °C", scale=0.1, unit="°C")
    c.u16(I, a(13026), 44, "Daily discharge", scale=0.1, unit="kWh")
    c.u32(I, a(13027), 73129, "Total discharge", "701.TotWhInj = 7312900 Wh", scale=0.1, unit="kWh")
    c.u16(I, a(13029), 1000, "Self-consumption of the day " + SG, scale=0.1, unit="%")
    c.u16(I, a(13030), 0x55, "Grid state " + SG, label="0x55 on-grid")
    for k, amps in enumerate((42, 41, 43)):
        c.s16(I, a(13031 + k), amps, "Phase %s current %s" % ("ABC"[k], SG), scale=0.1, unit="A")
    c.s32(I, a(13034), 2540, "Total active power " + SG, unit="W")
    c.u16(I, a(13036), 4, "Daily import energy " + SG, scale=0.1, unit="kWh")
    c.u32(I, a(13037), 40217, "Total import energy " + SG, scale=0.1, unit="kWh")
    c.u16(I, a(13039), 0xFFFF, "Battery capacity, older SH5K/SH3K6/SH4K6 only: 0xFFFF = unavailable",
          "- (802.WHRtg comes from 5639)", label="unavailable")
    c.u16(I, a(13040), 0, "Daily charge", scale=0.1, unit="kWh")
    c.u32(I, a(13041), 77884, "Total charge", "701.TotWhAbs = 7788400 Wh", scale=0.1, unit="kWh")
    c.u16(I, a(13043), 0, "DRM state " + SG)
    c.fill(I, a(13044), 1, "not named by the reference or SunGather")
    c.u16(I, a(13045), 0, "Daily export energy " + SG, scale=0.1, unit="kWh")
    c.u32(I, a(13046), 98765, "Total export energy " + SG, scale=0.1, unit="kWh")
    c.fill(I, a(13048), 2, "not named by the reference or SunGather")
    for k, name in enumerate(("Inverter alarm", "Grid-side fault", "System fault 1", "System fault 2",
                              "DC-side fault", "Permanent fault", "BDC-side fault", "BDC-side permanent fault")):
        c.u32(I, a(13050 + 2 * k), 0, name + " " + SG
              + (" (input table; holding doc. reg 13050 is the EMS mode)" if k == 0 else ""))
    c.u32(I, a(13066), 0, "Battery fault", "802.EvtVnd1 = 0 (with doc. reg 13068)")
    c.u32(I, a(13068), 0, "Battery alarm", "802.EvtVnd1 = 0 (with doc. reg 13066)")
    c.u32(I, a(13070), 0, "BMS alarm", "802.EvtVnd2 = 0 (with doc. reg 13072)")
    c.u32(I, a(13072), 0, "BMS protection", "802.EvtVnd2 = 0 (with doc. reg 13070)")
    # holding
    c.u16(H, a(13050), 0, "EMS mode (RW)", "802.LocRemCtl = 1 LOCAL (my mapping: 0 self-consumption -> LOCAL)",
          label="self-consumption")
    c.u16(H, a(13051), 0xCC, "Forced charge/discharge command (RW)", "124.StorCtl_Mod = 0 (no bit set)",
          label="0xCC stop")
    c.u16(H, a(13052), 5000, "Forced charge/discharge power (RW)", "124.WChaMax = 5000 W", unit="W")
    c.fill(H, a(13053), 5, "not in the reference")
    c.u16(H, a(13058), 1000, "Max SoC (RW)", "802.SoCMax = 100.0 %", scale=0.1, unit="%")
    c.u16(H, a(13059), 50, "Min SoC (RW)", "802.SoCMin = 5.0 %", scale=0.1, unit="%")
    c.fill(H, a(13060), 40, "not in the reference")
    c.u16(H, a(13100), 10, "Reserved SoC for backup (RW)", "802.SoCRsvMin = 10 %", unit="%")
    c.u16(H, a(33047), 640, "Battery max charge power", "802.WChaRteMax = 6400 W", scale=10, unit="W")
    c.u16(H, a(33048), 700, "Battery max discharge power", "802.WDisChaRteMax = 7000 W", scale=10, unit="W")
    return c


# --------------------------------------------------------------------------------------------
# 3. SolarEdge StorEdge (reference section 3).  FC03; float32, u32 and u64 LOW word first.
# --------------------------------------------------------------------------------------------

SE4 = "(solaredge_modbus; not in the reference)"


def solaredge():
    c = Capture("solaredge-storedge.json", "SolarEdge StorEdge inverter + battery 1 (BAT-10K1P)", 1, "little",
                [(HOLDING, 0xE004, 14), (HOLDING, 0xE100, 68), (HOLDING, 0xE144, 86), (HOLDING, 0xE200, 68)],
                hex_addr=True)
    H = HOLDING
    # control registers E004..E011
    c.u16(H, 0xE004, 1, "Storage control mode (RW)",
          "802.LocRemCtl = 1 LOCAL (my mapping: 4 remote control -> 0 REMOTE, else LOCAL)",
          label="maximise self-consumption")
    c.u16(H, 0xE005, 0, "Storage AC charge policy " + SE4, label="disabled")
    c.f32(H, 0xE006, 0.0, "Storage AC charge limit " + SE4, unit="kWh or %")
    c.f32(H, 0xE008, 10.0, "Backup reserve (RW)", "802.SoCRsvMin = 10.0 %; 124.MinRsvPct = 10.0 %", unit="%")
    c.u16(H, 0xE00A, 7, "Charge/discharge default mode (RW)", "- (used only in remote control)",
          label="maximise self-consumption")
    c.u32(H, 0xE00B, 3600, "Remote command timeout (RW)", "124.InOutWRte_RvrtTms = 3600 s", unit="s")
    c.u16(H, 0xE00D, 0, "Remote command mode (RW)",
          "124.StorCtl_Mod = 0 (E004 is not 4, so no remote command is active)", label="off")
    c.f32(H, 0xE00E, 5000.0, "Remote charge limit (RW)", "124.WChaMax = 5000 W", unit="W")
    c.f32(H, 0xE010, 4000.0, "Remote discharge limit (RW)",
          "124.OutWRte needs a % of WMax: 4000 W (no WMax here)", unit="W")
    # battery 1, first fixed block E100..E143 (68 registers)
    c.string(H, 0xE100, 16, "SolarEdge", "Manufacturer (16 regs, S4 layout; value plausible, not read from a device)")
    c.string(H, 0xE110, 16, "BAT-10K1P", "Model (16 regs; plausible)")
    c.string(H, 0xE120, 16, "2.0.6", "Firmware version (16 regs; plausible)")
    c.string(H, 0xE130, 16, "7E10423B", "Serial number (16 regs; plausible)")
    c.u16(H, 0xE140, 15, "Battery device id (255 = absent)", "- (present)")
    c.u16(H, 0xE141, 802, "SunSpec DID", "-")
    c.f32(H, 0xE142, 9700.0, "Rated energy", "802.WHRtg = 9700 Wh; 713.WHRtg = 9700 Wh", unit="Wh")
    # second fixed block E144..E199 (86 registers)
    c.f32(H, 0xE144, 4800.0, "Max continuous charge power", "802.WChaRteMax = 4800 W", unit="W")
    c.f32(H, 0xE146, 5000.0, "Max continuous discharge power", "802.WDisChaRteMax = 5000 W", unit="W")
    c.f32(H, 0xE148, 7000.0, "Max charge peak power " + SE4, unit="W")
    c.f32(H, 0xE14A, 7500.0, "Max discharge peak power " + SE4, unit="W")
    c.fill(H, 0xE14C, 32, "reserved (not named by the reference or solaredge_modbus)")
    c.f32(H, 0xE16C, 22.5, "Average temperature", "803.ModTmpAvg = 22.5 °C", unit="°C")
    c.f32(H, 0xE16E, "nan", "Max temperature: DELIBERATE float NaN 0x7FC00000",
          "803.ModTmpMax = not available")
    c.f32(H, 0xE170, 392.5, "Instantaneous voltage", "802.V = 392.5 V", unit="V")
    c.f32(H, 0xE172, -6.375, "Instantaneous current (native + = charging)", "802.A = +6.375 A (sign flipped)",
          unit="A")
    c.f32(H, 0xE174, -2500.0, "Instantaneous power (native + = charging)",
          "802.W = +2500 W (sign flipped); 802.ChaSt = 3 DISCHARGING", unit="W")
    c.u64(H, 0xE176, 3245680, "Lifetime export (discharge) energy", "701.TotWhInj = 3245680 Wh", unit="Wh")
    c.u64(H, 0xE17A, 3512340, "Lifetime import (charge) energy", "701.TotWhAbs = 3512340 Wh", unit="Wh")
    c.f32(H, 0xE17E, 9506.0, "Max energy", "-", unit="Wh")
    c.f32(H, 0xE180, 6179.0, "Available energy", "713.WHAvail = 6179 Wh", unit="Wh")
    c.f32(H, 0xE182, 98.0, "SOH", "802.SoH = 98.0 %; 713.SoH = 98.0 %", unit="%")
    c.f32(H, 0xE184, 65.0, "SOE", "802.SoC = 65.0 %; 713.SoC = 65.0 %", unit="%")
    c.u32(H, 0xE186, 4, "Status", "802.ChaSt = 3 DISCHARGING")
    c.rows[-1].value = "4 = Discharge"
    c.u32(H, 0xE188, 4, "Internal status", "802.State = 3 CONNECTED")
    c.rows[-1].value = "4 = Discharge"
    c.fill(H, 0xE18A, 8, "Event log words (no events)")
    c.rows[-1].sunspec = "802.EvtVnd1 = 0"
    c.fill(H, 0xE192, 8, "Internal / vendor event log words (no events)")
    c.rows[-1].sunspec = "802.EvtVnd2 = 0"
    # battery 2: absent
    c.fill(H, 0xE200, 64, "Battery 2 identity strings: empty (battery 2 absent)")
    c.u16(H, 0xE240, 255, "Battery 2 device id", "battery 2 absent (255; S4's test)")
    c.u16(H, 0xE241, 0, "Battery 2 SunSpec DID", "-")
    c.f32(H, 0xE242, 0.0, "Battery 2 rated energy", "battery 2 absent (not > 0; S5's test)", unit="Wh")
    return c


# --------------------------------------------------------------------------------------------
# 4. Victron GX (reference section 4).  FC03; 32-bit high word first.  One capture per unit id.
# --------------------------------------------------------------------------------------------

HV = "(hass-victron; not in the reference)"


def victron_system():
    c = Capture("victron-gx.json", "Victron GX (Cerbo GX) system, com.victronenergy.system", 100, "big",
                [(HOLDING, 840, 5)])
    H = HOLDING
    c.u16(H, 840, 520, "System battery voltage", "802.V = 52.0 V", scale=0.1, unit="V")
    c.s16(H, 841, -480, "System battery current (native + = charging)", "802.A = +48.0 A (sign flipped)",
          scale=0.1, unit="A")
    c.s16(H, 842, -2498, "System battery power (native + = charging)", "802.W = +2498 W (sign flipped)", unit="W")
    c.u16(H, 843, 65, "System SOC", "802.SoC = 65 %", unit="%")
    c.u16(H, 844, 2, "Battery state", "802.ChaSt = 3 DISCHARGING", label="discharging")
    return c


def victron_battery():
    c = Capture("victron-gx-battery.json", "Victron GX battery service (Lynx Smart BMS, 4 x 12.8 V 300 Ah)", 225,
                "big", [(HOLDING, 256, 71), (HOLDING, 1282, 10)])
    H = HOLDING
    c.s32(H, 256, -2498, "Battery power, s32 (native + = charging)",
          "802.W = +2498 W (sign flipped); 802.ChaSt = 3 DISCHARGING", unit="W")
    c.s16(H, 258, -2498, "Battery power, s16 (native + = charging)", "802.W = +2498 W (same as 256)", unit="W")
    c.u16(H, 259, 5204, "Battery voltage", "802.V = 52.04 V", scale=0.01, unit="V")
    c.u16(H, 260, 0, "Starter battery voltage " + HV + ": none", scale=0.01, unit="V")
    c.s16(H, 261, -480, "Current (native + = charging)", "802.A = +48.0 A (sign flipped)", scale=0.1, unit="A")
    c.s16(H, 262, 185, "Temperature", "803.ModTmpAvg = 18.5 °C", scale=0.1, unit="°C")
    c.u16(H, 263, 0, "Mid-point voltage " + HV + ": not measured", scale=0.01, unit="V")
    c.u16(H, 264, 0, "Mid-point deviation " + HV + ": not measured", scale=0.01, unit="%")
    c.u16(H, 265, 1050, "Consumed Ah " + HV + ": shown as raw / -10 = -105.0 Ah")
    c.rows[-1].value = "-105.0 Ah"
    c.u16(H, 266, 650, "SOC", "802.SoC = 65.0 %; 713.SoC = 65.0 %", scale=0.1, unit="%")
    alarms = {267: ("Alarm (any)", ""), 268: ("Low voltage alarm", "802.Evt1 UNDER_VOLT bit clear"),
              269: ("High voltage alarm", "802.Evt1 OVER_VOLT bit clear"), 270: ("Low starter-voltage alarm", ""),
              271: ("High starter-voltage alarm", ""), 272: ("Low SOC alarm", "802.Evt1 UNDER_SOC_MIN bit clear"),
              273: ("Low temperature alarm", "802.Evt1 UNDER_TEMP bit clear"),
              274: ("High temperature alarm", "802.Evt1 OVER_TEMP bit clear"), 275: ("Mid-voltage alarm", ""),
              276: ("Low fused-voltage alarm", ""), 277: ("High fused-voltage alarm", ""),
              278: ("Fuse blown alarm", ""), 279: ("High internal-temperature alarm", "")}
    for reg, (name, ss) in alarms.items():
        c.u16(H, reg, 0, name, ss, label="none")
    c.u16(H, 280, 0, "Relay " + HV, label="open")
    c.u16(H, 281, 2400, "Deepest discharge " + HV + ": raw / -10 = -240.0 Ah")
    c.rows[-1].value = "-240.0 Ah"
    c.u16(H, 282, 1560, "Last discharge " + HV + ": raw / -10 = -156.0 Ah")
    c.rows[-1].value = "-156.0 Ah"
    c.u16(H, 283, 1180, "Average discharge " + HV + ": raw / -10 = -118.0 Ah")
    c.rows[-1].value = "-118.0 Ah"
    c.u16(H, 284, 187, "Charge cycles", "802.NCyc = 187")
    c.u16(H, 285, 0, "Full discharges " + HV)
    c.u16(H, 286, 0, "Total Ah drawn " + HV + ": not provided")
    c.u16(H, 287, 4710, "Minimum voltage (history) " + HV, scale=0.01, unit="V")
    c.u16(H, 288, 5680, "Maximum voltage (history) " + HV, scale=0.01, unit="V")
    c.u16(H, 289, 864, "Time since last full charge " + HV, scale=100, unit="s")
    c.u16(H, 290, 0, "Automatic syncs " + HV)
    for reg, name in ((291, "Low voltage alarms (count)"), (292, "High voltage alarms (count)"),
                      (293, "Low starter-voltage alarms (count)"), (294, "High starter-voltage alarms (count)"),
                      (295, "Minimum starter voltage"), (296, "Maximum starter voltage"),
                      (297, "Low fused-voltage alarms (count)"), (298, "High fused-voltage alarms (count)"),
                      (299, "Minimum fused voltage"), (300, "Maximum fused voltage")):
        c.u16(H, reg, 0, name + " " + HV)
    c.u16(H, 301, 22440, "Discharged energy", "701.TotWhInj = 2244000 Wh", scale=0.1, unit="kWh")
    c.u16(H, 302, 23917, "Charged energy", "701.TotWhAbs = 2391700 Wh", scale=0.1, unit="kWh")
    c.u16(H, 303, 144, "Time to go " + HV, scale=100, unit="s")
    c.u16(H, 304, 985, "SOH", "802.SoH = 98.5 %; 713.SoH = 98.5 %", scale=0.1, unit="%")
    c.u16(H, 305, 568, "Max charge voltage", "802.VMax = 56.8 V", scale=0.1, unit="V")
    c.u16(H, 306, 448, "Min discharge voltage", "802.VMin = 44.8 V", scale=0.1, unit="V")
    c.u16(H, 307, 1500, "Max charge current", "802.AChaMax = 150.0 A", scale=0.1, unit="A")
    c.u16(H, 308, 2000, "Max discharge current", "802.ADisChaMax = 200.0 A", scale=0.1, unit="A")
    c.u16(H, 309, 3000, "Capacity", "802.AHRtg = 300.0 Ah", scale=0.1, unit="Ah")
    for k in range(4):
        c.s32(H, 310 + 2 * k, 0, "Last error %d time %s: none" % (k + 1, HV), unit="s (Unix time)")
    c.s16(H, 318, 170, "Min cell temperature", "803.ModTmpMin = 17.0 °C", scale=0.1, unit="°C")
    c.s16(H, 319, 195, "Max cell temperature", "803.ModTmpMax = 19.5 °C", scale=0.1, unit="°C")
    alarms2 = {320: ("High charge current alarm", "802.Evt1 OVER_CHARGE_CURRENT bit clear"),
               321: ("High discharge current alarm", "802.Evt1 OVER_DISCHARGE_CURRENT bit clear"),
               322: ("Cell imbalance alarm", "802.Evt1 VOLTAGE_IMBALANCE bit clear"),
               323: ("Internal failure alarm", "802.Evt1 OTHER_ALARM bit clear"), 324: ("High charge-temperature alarm", ""),
               325: ("Low charge-temperature alarm", ""), 326: ("Low cell-voltage alarm (1 = almost discharged)", "")}
    for reg, (name, ss) in alarms2.items():
        c.u16(H, reg, 0, name, ss, label="none")
    c.rows[-1].sunspec = "- (802.Evt1 = 0: no alarm register set)"
    c.u16(H, 1282, 9, "State", "802.State = 3 CONNECTED", label="running")
    c.u16(H, 1283, 0, "Error " + HV, label="none")
    c.u16(H, 1284, 1, "System switch " + HV, label="on")
    c.u16(H, 1285, 0, "Balancing " + HV, label="inactive")
    c.u16(H, 1286, 4, "Number of batteries " + HV)
    c.u16(H, 1287, 1, "Batteries parallel " + HV)
    c.u16(H, 1288, 4, "Batteries in series " + HV)
    c.u16(H, 1289, 4, "Cells per battery " + HV)
    c.u16(H, 1290, 324, "Min cell voltage", "802.CellVMin = 3.24 V", scale=0.01, unit="V")
    c.u16(H, 1291, 327, "Max cell voltage", "802.CellVMax = 3.27 V", scale=0.01, unit="V")
    return c


CAPTURES = [huawei, sungrow, solaredge, victron_system, victron_battery]

# --------------------------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------------------------

INTRO = """\
# Vendor battery captures (non-SunSpec register maps)

Generated by `scripts/make_vendor_fixtures.py` (deterministic; re-run from the repo root with
`.venv/bin/python scripts/make_vendor_fixtures.py`; `--serve` also serves every file with
`scripts/serve_capture.py` and reads every register back with pymodbus' client). Do not edit by hand: the
captures and the tables below come from the same rows of that script.

Four battery systems that speak their vendor's own register map, not SunSpec, as test input for the vendor
profiles that map them onto SunSpec models (802 battery; 701, 713, 124, 803 where the vendor has the data).
The register facts come from `/work/shared/reference/vendor-registers.md`, which names its public sources. A
block that a profile would read in one request also contains registers the reference does not list. Those
rows are named after the same public sources (huawei-solar-lib, SunGather, solaredge_modbus, hass-victron)
and marked "not in the reference", or are written as 0 where no source names them. No profile should
rely on them.

Every file is a `sunspec-gateway/registers` v1 capture with `"captured": "2026-11-29T06:00:00.000Z"`. It
describes one moment: each battery is discharging at about 2.5 kW (2.5-2.75 kW) into the house, with its
state of charge around 65 %. Addresses are 0-based Modbus protocol (PDU) addresses. `function` 3 blocks are
holding registers, `function` 4 blocks are input registers. There is one Modbus unit per file, because the
format holds one unit per document.

| file | device | unit | blocks |
|---|---|---|---|
"""

CONVENTIONS = """\
## Conventions used in the tables

- **address**: the 0-based protocol address that goes on the wire. For Sungrow, **doc. reg** is the 1-based
  number in Sungrow's documentation: address = doc. reg - 1. SolarEdge addresses are also given in hex.
- **raw**: the register words in capture order. For multi-register values this is followed by the combined
  unsigned value in hex and, when the value is negative, its signed reading.
- **value**: raw x the reference's Scale column, with units (enum values are given with their vendor meaning).
- **SunSpec**: the point the row is meant to map to, from the reference's "->SunSpec" column, and the value
  a profile should produce. Mappings the reference does not give are marked "my mapping". "-" means the row
  does not map to any point.
- **Sign convention (SunSpec side).** 802 `W` and `A` are **positive while discharging**, the same way 701's
  W is positive for generation. This is the convention of `Fixtures/README.md` (battery-inverter). Every
  battery here is discharging, so every expected 802 `W` and `A` is positive, and 802 `ChaSt` is
  3 DISCHARGING. The native sign of each vendor is given with its file. Huawei, SolarEdge and Victron
  report discharge as negative, so their profiles flip the sign. Sungrow 5214 already reports discharge as
  positive.
- **Enum mappings** (vendor value -> SunSpec) for the values written here:

| vendor register | value here | SunSpec |
|---|---|---|
| Huawei 37762 / 37000 running status | 2 running | 802.State = 3 CONNECTED (reference: 0 -> 1, 1 -> 4, 2 -> 3, 3 -> 99, 4 -> 4) |
| Huawei 37765 sign | negative (discharging) | 802.ChaSt = 3 DISCHARGING |
| Huawei 47000 product | 2 LUNA2000 | 802.Typ = 4 LITHIUM_ION |
| Huawei 47100 forcible charge/discharge | 0 stop | 124.StorCtl_Mod = 0 (1 charge -> bit 0, 2 discharge -> bit 1) |
| Sungrow 13000 system state | 0x40 Run | 802.State = 3 CONNECTED (my mapping: 0x2 -> 1, 0x8/0x10 -> 4, 0x20/0x2501 -> 2, 0x40/0x400/0x800/0x1000/0x4000 -> 3, 0x100 -> 99) |
| Sungrow 13001 power-flow bits | 0x2C (b2 set) | 802.ChaSt = 3 DISCHARGING (b1 -> 4 CHARGING) |
| Sungrow 13050 EMS mode | 0 self-consumption | 802.LocRemCtl = 1 LOCAL (my mapping: 2/3/4 -> 0 REMOTE) |
| Sungrow 13051 forced command | 0xCC stop | 124.StorCtl_Mod = 0 (0xAA -> bit 0, 0xBB -> bit 1) |
| SolarEdge E186 status | 4 Discharge | 802.ChaSt = 3 DISCHARGING (my mapping: 0 -> 1 OFF, 3 -> 4 CHARGING, 1/6/7 -> 6 HOLDING) |
| SolarEdge E188 internal status | 4 Discharge | 802.State = 3 CONNECTED (my mapping: 0 -> 1, 1/10 -> 4, 2 -> 2, 3/4/6/7 -> 3, 5 -> 99) |
| SolarEdge E004 control mode | 1 max self-consumption | 802.LocRemCtl = 1 LOCAL (my mapping: 4 remote control -> 0 REMOTE) |
| Victron 844 battery state (unit 100) | 2 discharging | 802.ChaSt = 3 DISCHARGING (reference: 0 -> 6, 1 -> 4, 2 -> 3) |
| Victron 1282 state (unit 225) | 9 running | 802.State = 3 CONNECTED (my mapping: 0-8 and 15-17 -> 2, 10 -> 99, 12 -> 1, 14 -> 4) |
| Victron 267-279, 320-326 alarms | all 0 | 802.Evt1 = 0 |
"""

NOTES = {
    "huawei-luna2000.json": """\
**Native sign.** The library is silent on the sign of 37765; third-party code treats > 0 as charging, and so
does this fixture. 37765 = -2745 W (discharging) -> **802.W = +2745 W**. The currents 37764/37021 are assumed
to follow the same sign: -6.1 A -> **802.A = +6.1 A**.

**Deliberate sentinels.**
- **37022 = 0x7FFF** (unit-1 battery temperature). This is Huawei's s16 invalid sentinel, which the library
  decodes to None. It is the only source of 803.ModTmpAvg, so ModTmpAvg must come out *not available*, never
  3276.7 °C.
- **38458-38463 = 0x7FFF.** LUNA2000 unit 2 is not installed (47089 unit-2 product = 0 none), so its six pack
  temperatures read as the sentinel. This is an assumption: the sources do not say what an absent unit
  returns. A profile that takes the max/min over all twelve pack registers has to skip them:
  803.ModTmpMax = max(21.5, 22.1, 21.8) = **22.1 °C**, 803.ModTmpMin = min(19.8, 20.3, 19.9) = **19.8 °C**.

**Expected SunSpec values.** 802: WHRtg 15000 Wh, SoC 65.3 %, State 3, V 452.6 V, A +6.1 A, W +2745 W,
ChaSt 3, WChaRteMax 5000 W, WDisChaRteMax 4600 W, SoCMax 100.0 %, SoCMin 5.0 %, SoCRsvMin 15.0 %, Typ 4,
EvtVnd1 0. The capture has no AHRtg source; AHRtg is mandatory in 802, so the profile must decide what to do
without it. 713: WHRtg 15000 Wh, SoC 65.3 %. 701: TotWhAbs 4213570 Wh, TotWhInj 3911240 Wh. 124: WChaMax
4000 W, StorCtl_Mod 0. 803: ModTmpMax 22.1 °C, ModTmpMin 19.8 °C, ModTmpAvg not available.

The unit-1 registers 37000-37022 repeat the combined values, because this system has one unit. Reads stay
well under Huawei's 64-register cap (the largest block is 28 registers).
""",
    "sungrow-sh.json": """\
**Addresses.** Sungrow documents 1-based register numbers. Every register is placed at its PDU address =
documented number - 1, as mkaiser (`address: 13022 # reg 13023`) and SungrowClient (`address - 1`) do.
Example: SOC, documented 13023, is at address 13022 with function 4. The requested "13000-13072" input block
is written as documented 13000..**13073** (addresses 12999..13072), so that the u32 BMS protection at
13072 is complete. 32-bit values are **low word first**: 5214 (address 5213) is {raw:5213}; total discharge 13027
(address 13026) is {raw:13026}.

**Native sign.** 5214 is negative while charging and positive while discharging, which is already SunSpec's
convention. 5214 = +2600 W -> **802.W = +2600 W**, with no flip. The sources do not give the sign of 5631;
it is assumed to follow 5214 (+10.0 A -> **802.A = +10.0 A**). 13021/13022 are the older registers: their
sign depends on firmware (old firmware is always positive, firmware from about Oct 2024 reports + =
charging), so they hold magnitudes here and a profile must not take a sign from them.

**Deliberate sentinels.**
- **13024 (SoH) = 0xFFFF**, "unavailable" (mkaiser's `nan_value`). 802.SoH and 713.SoH must be *not
  available*: not 6553.5 %, and not 0, which is what SungrowClient would give.
- **13039 = 0xFFFF.** The older-model capacity register does not apply to an SH10RT. 802.WHRtg comes from
  5639 (12.80 kWh -> 12800 Wh).

**Input and holding overlap.** Input addresses 12999..13072 and holding addresses 13049..13099 overlap at
13049..13072. The same address has different meanings in the two tables: input 13050 (documented) is the
inverter-alarm u32, holding 13050 is the EMS mode. `scripts/serve_capture.py` serves the two tables
separately, and `CaptureJSON.parse` keeps them apart (`Capture.image` for function 3, `Capture.inputImage` for
function 4). A reader that merges all blocks into one image would overwrite one table with the other.

**Expected SunSpec values.** 802: WHRtg 12800 Wh, SoC 64.8 %, SoH not available, State 3, V 259.6 V,
A +10.0 A, W +2600 W, ChaSt 3, AChaMax 25 A, ADisChaMax 30 A, WChaRteMax 6400 W, WDisChaRteMax 7000 W,
SoCMax 100.0 %, SoCMin 5.0 %, SoCRsvMin 10 %, LocRemCtl 1 (my mapping), EvtVnd1 0, EvtVnd2 0. The capture has
no AHRtg and no Typ source; both are mandatory in 802, so the profile must decide what to do without them.
713: WHRtg 12800 Wh, SoC 64.8 %, SoH not available. 701: TotWhInj 7312900 Wh, TotWhAbs 7788400 Wh. 124:
StorCtl_Mod 0, WChaMax 5000 W. 803: ModTmpAvg 17.5 °C.
""",
    "solaredge-storedge.json": """\
**Word order.** float32, u32 and u64 values are all **low word first**. solaredge_modbus decodes the whole
battery class, and the control registers E004-E010, with little word order, and the reference says
"u32/u64 per the doc". Example: E142 rated energy 9700.0 is {raw:0xE142}; E176 u64 3245680 is
{raw:0xE176}. Strings are plain ASCII, two bytes per register, NUL-padded (word order does not apply
to them).

**Layout.** The battery is read in S5's two fixed blocks: 68 registers at 0xE100 (manufacturer, model,
firmware version and serial, 16 registers each, then E140 device id, E141 DID, E142 rated energy), and
86 registers at 0xE144 (0xE144..0xE199). The control registers 0xE004..0xE011 (E004 to the end of the E010
float) form a third block. The identity strings follow the layout the source gives (solaredge_modbus); their
*values* are plausible inventions, not read from a device. **Battery 2 is absent.** Its 68-register block
at 0xE200 reads as empty strings, **E240 = 255** (S4's presence test) and rated energy E242 = 0.0 (S5's
test: not > 0). Battery 3 (0xE400 in S5, 0xE300 in S4) is not in the capture, so a read there answers
exception 2.

**Native sign.** This fixture takes + = charging (the reference infers this from S5's "inverted" sensor).
E174 = -2500.0 W and E172 = -6.375 A while discharging -> **802.W = +2500 W, 802.A = +6.375 A**. All floats
here are exactly representable in float32, so tests can compare them exactly.

**Deliberate sentinel.** **E16E (max temperature) = 0x7FC00000**, float NaN -> 803.ModTmpMax = *not
available*. E16C still gives ModTmpAvg = 22.5 °C.

**Expected SunSpec values.** 802: WHRtg 9700 Wh, WChaRteMax 4800 W, WDisChaRteMax 5000 W, SoC 65.0 %,
SoH 98.0 %, V 392.5 V, A +6.375 A, W +2500 W, ChaSt 3, State 3, SoCRsvMin 10.0 %, LocRemCtl 1 (my mapping),
EvtVnd1 0, EvtVnd2 0. The capture has no AHRtg and no Typ source; both are mandatory in 802, so the profile
must decide what to do without them. 713: WHRtg 9700 Wh, WHAvail 6179 Wh, SoC 65.0 %, SoH 98.0 %. 701:
TotWhInj 3245680 Wh, TotWhAbs 3512340 Wh. 124: WChaMax 5000 W, MinRsvPct 10.0 %, InOutWRte_RvrtTms 3600 s,
StorCtl_Mod 0. 803: ModTmpAvg 22.5 °C, ModTmpMax not available.
""",
    "victron-gx.json": """\
**Unit 100** is the system service (com.victronenergy.system); Victron recommends 100 over the alias 0.
**Native sign:** + = charging. 841 = -48.0 A and 842 = -2498 W while discharging -> **802.A = +48.0 A,
802.W = +2498 W**. 844 = 2 (discharging) gives 802.ChaSt = 3 directly. The system voltage (0.1 V steps,
52.0 V) and SOC (1 % steps, 65 %) are coarser copies of the battery service's 52.04 V and 65.0 %.

**Expected SunSpec values (system view).** 802: V 52.0 V, A +48.0 A, W +2498 W, SoC 65 %, ChaSt 3.
""",
    "victron-gx-battery.json": """\
**Unit 225** is the battery service, chosen as the brief asks. Real unit ids are per device: see the GX's
Settings -> Services -> Modbus TCP -> Available services. **Native sign:** + = charging. 256 (s32, high word
first: {raw:256}), 258 (s16 copy) and 261 (-48.0 A) are negative while discharging ->
**802.W = +2498 W, 802.A = +48.0 A**, 802.ChaSt = 3 DISCHARGING. Victron documents no sentinel, and none is
used here. Registers that this BMS does not provide (starter battery, mid-point, fused voltage) read 0.

**Expected SunSpec values.** 802: AHRtg 300.0 Ah, SoC 65.0 %, SoH 98.5 %, V 52.04 V, VMax 56.8 V,
VMin 44.8 V, A +48.0 A, W +2498 W, ChaSt 3, AChaMax 150.0 A, ADisChaMax 200.0 A, NCyc 187, State 3,
CellVMin 3.24 V, CellVMax 3.27 V, Evt1 0. The capture has no WHRtg and no Typ source; both are mandatory in
802, so the profile must decide what to do without them (300 Ah x 51.2 V nominal = 15360 Wh is an
inference, not a register). 713: SoC 65.0 %, SoH 98.5 %. 701: TotWhInj 2244000 Wh, TotWhAbs 2391700 Wh. 803:
ModTmpAvg 18.5 °C, ModTmpMin 17.0 °C, ModTmpMax 19.5 °C.
""",
}

TITLES = {
    "huawei-luna2000.json": "Huawei SUN2000 + LUNA2000 (`huawei-luna2000.json`, unit 1, function 3, 32-bit high word first)",
    "sungrow-sh.json": "Sungrow SH hybrid (`sungrow-sh.json`, unit 1, function 4 input + function 3 holding, 32-bit LOW word first)",
    "solaredge-storedge.json": "SolarEdge StorEdge (`solaredge-storedge.json`, unit 1, function 3, float32/u32/u64 LOW word first)",
    "victron-gx.json": "Victron GX system (`victron-gx.json`, unit 100, function 3)",
    "victron-gx-battery.json": "Victron GX battery service (`victron-gx-battery.json`, unit 225, function 3, 32-bit high word first)",
}

SERVE = """\
## Serving a capture

```
.venv/bin/python scripts/serve_capture.py Fixtures/vendor/sungrow-sh.json --port 15020
.venv/bin/python scripts/serve_capture.py Fixtures/vendor/victron-gx.json Fixtures/vendor/victron-gx-battery.json --port 15021
```

The second command serves both Victron units (100 and 225) from one server, as a GX does. The Sungrow capture
mixes both functions, so its function 4 blocks answer only function 4 requests and its function 3 blocks
answer only function 3 requests. A capture with only function 3 blocks answers function 3 and 4 alike (this
is the documented behaviour of `serve_capture.py`). Addresses outside a file's blocks answer exception 2.
"""


def fill_raw(text, cap):
    """Replace {raw:ADDR} in a note with the raw words of the row at ADDR (so notes cannot drift)."""
    rows = {r.addr: r for r in cap.rows}
    return re.sub(r"\{raw:(0x[0-9A-Fa-f]+|\d+)\}", lambda m: rows[int(m.group(1), 0)].raw, text)


def readme(caps):
    out = [INTRO]
    for c in caps:
        out.append("| `%s` | %s | %d | %s |\n" % (c.filename, c.device, c.unit, c.blocks_text()))
    out.append("\n" + CONVENTIONS)
    for c in caps:
        out.append("\n## %s\n\n" % TITLES[c.filename])
        out.append(fill_raw(NOTES[c.filename], c) + "\n")
        out.append(c.table() + "\n")
    out.append("\n" + SERVE)
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------


def self_check(caps):
    """Decode every typed row again with pymodbus' converters (independent of the encoders above)."""
    from pymodbus.client import ModbusTcpClient as C
    n = 0
    for c in caps:
        c.image()
        for r in c.rows:
            if r.decoded is None:
                continue
            dtype, order, want = r.decoded
            got = C.convert_from_registers(r.words, getattr(C.DATATYPE, dtype), word_order=order)
            ok = (math.isnan(got) and math.isnan(want)) if isinstance(want, float) and math.isnan(want) else got == want
            assert ok, "%s %d: %s decodes to %r, wanted %r" % (c.filename, r.addr, dtype, got, want)
            n += 1
    return n


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def serve_check(caps):
    """Serve each file with scripts/serve_capture.py and read every register back with pymodbus."""
    from pymodbus.client import ModbusTcpClient
    from pymodbus.pdu import ExceptionResponse
    groups = [[c] for c in caps if not c.filename.startswith("victron")]
    groups.append([c for c in caps if c.filename.startswith("victron")])     # units 100 + 225 together
    total = 0
    for group in groups:
        port = free_port()
        paths = [os.path.join(OUT, c.filename) for c in group]
        proc = subprocess.Popen([sys.executable, os.path.join(REPO, "scripts", "serve_capture.py"), *paths,
                                 "--port", str(port)], stdout=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            assert line.startswith("listening"), "serve_capture.py: %r" % line
            client = ModbusTcpClient("127.0.0.1", port=port, timeout=3)
            assert client.connect()
            for c in group:
                img = c.image()
                for fc, start, count in c.blocks:
                    read = client.read_holding_registers if fc == HOLDING else client.read_input_registers
                    for off in range(0, count, 100):
                        n = min(100, count - off)
                        rr = read(start + off, count=n, device_id=c.unit)
                        assert not rr.isError(), "%s fc %d %d+%d: %s" % (c.filename, fc, start + off, n, rr)
                        want = [img[fc][a] for a in range(start + off, start + off + n)]
                        assert rr.registers == want, "%s fc %d at %d: read back differs" % (c.filename, fc, start)
                        total += n
                    # the other function code must not see this block (only checked where the capture
                    # mixes functions: a holding-only capture is served to both, as serve_capture documents)
                    if len({b[0] for b in c.blocks}) > 1:
                        other = client.read_input_registers if fc == HOLDING else client.read_holding_registers
                        addrs = img[HOLDING if fc == INPUT else INPUT]
                        if start not in addrs:
                            rr = other(start, count=1, device_id=c.unit)
                            assert rr.isError(), "%s: %d answered with the other function code" % (c.filename, start)
                # a register just outside the first block answers exception 2
                fc, start, count = c.blocks[0]
                read = client.read_holding_registers if fc == HOLDING else client.read_input_registers
                rr = read(start - 1, count=1, device_id=c.unit)
                assert isinstance(rr, ExceptionResponse) and rr.exception_code == 2, (c.filename, rr)
            report_examples(client, group)
            client.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return total


def report_examples(client, group):
    """Print a few decoded values read over TCP, the way a profile would read them."""
    from pymodbus.client import ModbusTcpClient as C
    for c in group:
        ex = EXAMPLES.get(c.filename, [])
        for fc, addr, count, dtype, order, scale, label in ex:
            read = client.read_holding_registers if fc == HOLDING else client.read_input_registers
            rr = read(addr, count=count, device_id=c.unit)
            v = C.convert_from_registers(rr.registers, getattr(C.DATATYPE, dtype), word_order=order)
            if scale != 1 and not (isinstance(v, float) and math.isnan(v)):
                v = float(Decimal(v) * Decimal(str(scale)))
            print("  %-24s unit %3d fc %d addr %5d %-7s %-6s -> %-10s %s" % (c.filename, c.unit, fc, addr, dtype,
                                                                            order, v, label))


EXAMPLES = {
    "huawei-luna2000.json": [
        (HOLDING, 37758, 2, "UINT32", "big", 1, "rated capacity Wh"),
        (HOLDING, 37760, 1, "UINT16", "big", 0.1, "SOC %"),
        (HOLDING, 37765, 2, "INT32", "big", 1, "power W (+ = charging)"),
        (HOLDING, 37022, 1, "INT16", "big", 1, "unit-1 temperature raw (0x7FFF sentinel)"),
        (HOLDING, 47102, 1, "UINT16", "big", 0.1, "backup SOC %"),
    ],
    "sungrow-sh.json": [
        (INPUT, 5213, 2, "INT32", "little", 1, "battery power W (doc 5214, + = discharging)"),
        (INPUT, 5630, 1, "INT16", "big", 0.1, "battery current A (doc 5631)"),
        (INPUT, 13022, 1, "UINT16", "big", 0.1, "SOC % (doc 13023)"),
        (INPUT, 13023, 1, "UINT16", "big", 1, "SOH raw (doc 13024, 65535 = unavailable)"),
        (INPUT, 13026, 2, "UINT32", "little", 0.1, "total discharge kWh (doc 13027)"),
        (HOLDING, 13049, 1, "UINT16", "big", 1, "EMS mode (doc 13050)"),
        (HOLDING, 33046, 1, "UINT16", "big", 10, "max charge power W (doc 33047)"),
    ],
    "solaredge-storedge.json": [
        (HOLDING, 0xE142, 2, "FLOAT32", "little", 1, "rated energy Wh"),
        (HOLDING, 0xE174, 2, "FLOAT32", "little", 1, "power W (+ = charging)"),
        (HOLDING, 0xE184, 2, "FLOAT32", "little", 1, "SOE %"),
        (HOLDING, 0xE16E, 2, "FLOAT32", "little", 1, "max temperature (NaN)"),
        (HOLDING, 0xE176, 4, "UINT64", "little", 1, "lifetime discharge Wh"),
        (HOLDING, 0xE240, 1, "UINT16", "big", 1, "battery 2 device id"),
    ],
    "victron-gx.json": [
        (HOLDING, 842, 1, "INT16", "big", 1, "system battery power W (+ = charging)"),
        (HOLDING, 843, 1, "UINT16", "big", 1, "system SOC %"),
    ],
    "victron-gx-battery.json": [
        (HOLDING, 256, 2, "INT32", "big", 1, "battery power W (+ = charging)"),
        (HOLDING, 259, 1, "UINT16", "big", 0.01, "voltage V"),
        (HOLDING, 266, 1, "UINT16", "big", 0.1, "SOC %"),
        (HOLDING, 1290, 1, "UINT16", "big", 0.01, "min cell voltage V"),
    ],
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--serve", action="store_true",
                   help="also serve each file with scripts/serve_capture.py and read it back with pymodbus")
    args = p.parse_args(argv)
    caps = [make() for make in CAPTURES]
    os.makedirs(OUT, exist_ok=True)
    for c in caps:
        with open(os.path.join(OUT, c.filename), "w", encoding="utf-8") as f:
            f.write(c.json_text())
    with open(os.path.join(OUT, "README.md"), "w", encoding="utf-8") as f:
        f.write(readme(caps))
    n = self_check(caps)
    print("wrote %d captures and README.md to %s; %d typed values decode back with pymodbus"
          % (len(caps), os.path.relpath(OUT, REPO), n))
    if args.serve:
        total = serve_check(caps)
        print("served and read back %d registers with scripts/serve_capture.py" % total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
