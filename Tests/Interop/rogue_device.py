#!/usr/bin/env python3
"""A Modbus TCP device of our own (raw sockets, asyncio; not pymodbus) that misbehaves on demand.

It serves `sunspec-gateway/registers` captures (Fixtures/*.json: blocks of 0-based addresses, `null`
registers and addresses outside the blocks are missing) as unit ids of one port, answers function 3
and 4 (both from the same blocks unless the capture has function-4 blocks of its own), exception 2
for a read touching a missing register, 3 for a count outside 1..125, 1 for any other function, and
0x0B (or nothing, `missing_unit="timeout"`) for a unit it does not serve. With no fault active every
reply is correct Modbus TCP: the MBAP echoes the transaction id, protocol 0, the right length and
the request's unit id.

Faults are switched at run time from the test (`fault(NAME, ...)`, `clear()`), or with `--fault` on
the command line. Every fault takes `every=N` (1 request in N; default every one), `count=K` (the
next K matching requests, then it ends), `seconds=T` (for T seconds), `after=M` (skip the first M
matching requests), `p=P` (probability per request) and `units=[..]` (only requests for these units):

  wrong_unit       the answer of unit+`offset` (default 1): its unit id in the MBAP and, when that
                   unit is served, its registers (else the poison registers)
  wrong_protocol   protocol id `pid` (default 1) in the MBAP, poison registers
  duplicate        the reply sent twice; `delay` (default 0) seconds between the two copies
  busy             exception `code` (default 6, server busy) instead of the answer
  exceptions       a random exception of `codes` (default 2, 3, 4, 6); use with `p`
  slow             the reply sent `delay` seconds late (replies stay in order)
  bad_fc           the reply carries the other read function (3 <-> 4), poison registers
  bad_bytecount    byte count and data `delta` registers off (default -1: one register short, the
                   frame consistent otherwise), poison registers
  bad_length       the MBAP length field `delta` bytes off (default +2), the PDU otherwise right,
                   poison registers

The poison registers (`set_poison`) are what a faulty frame carries, so that a reading built from one
can be recognised: by default the device's own registers plus 1, model headers and SunS kept.
`set_capture(unit, capture)` swaps a unit's map (a firmware update). `counter(unit, addr)` makes one
register count the replies carrying it (its value in each reply, and when that reply was sent, are
logged). Every request is logged as `Req(t, wall, conn, unit, fc, addr, count, tid, result)`;
`result` is "ok", "exc N" or "none" (not answered), with "+fault" for each fault applied.

    rogue_device.py CAPTURE... [--unit U]... [--port P] [--fault NAME[:key=value,...]]...
"""

import argparse
import asyncio
import collections
import json
import random
import struct
import sys
import threading
import time

from loop_server import LoopServer

SUNS = (0x5375, 0x6E53)
FAULTS = ("wrong_unit", "wrong_protocol", "duplicate", "busy", "exceptions", "slow", "bad_fc", "bad_bytecount",
          "bad_length")

Req = collections.namedtuple("Req", "t wall conn unit fc addr count tid result")


def load_capture(capture):
    """A capture (path or dict) as {function: {addr: value}}; function 0 = both 3 and 4."""
    if isinstance(capture, str):
        with open(capture, encoding="utf-8") as f:
            capture = json.load(f)
    if capture.get("format") != "sunspec-gateway/registers":
        raise ValueError("not a sunspec-gateway/registers capture")
    functions = {int(b.get("function", 3)) for b in capture["blocks"]}
    tables = {}
    for b in capture["blocks"]:
        fc = int(b.get("function", 3)) if functions - {3} else 0
        table = tables.setdefault(fc, {})
        for i, v in enumerate(b["registers"]):
            if v is not None:
                table[int(b["start"]) + i] = int(v) & 0xFFFF
    return tables


def table_for(tables, fc):
    return tables.get(0, tables.get(fc, {}))


def header_addrs(table):
    """Addresses of SunS and of every model's ID and L (and the end marker) in a register table."""
    out = set()
    for base in (40000, 0, 50000, 40001, 1, 50001):
        if (table.get(base), table.get(base + 1)) == SUNS:
            out |= {base, base + 1}
            a = base + 2
            while a in table and a + 1 in table and len(out) < 2000:
                out |= {a, a + 1}
                if table[a] == 0xFFFF:
                    break
                a += 2 + table[a + 1]
            break
    return out


def default_poison(tables):
    out = {}
    for fc, table in tables.items():
        keep = header_addrs(table)
        out[fc] = {a: (v if a in keep else (v + 1) & 0xFFFF) for a, v in table.items()}
    return out


class Fault(object):
    def __init__(self, name, every=1, count=None, seconds=None, after=0, p=None, units=None, seed=1, **params):
        if name not in FAULTS:
            raise ValueError("unknown fault %r (known: %s)" % (name, ", ".join(FAULTS)))
        self.name, self.every, self.count, self.after, self.p = name, max(1, int(every)), count, int(after), p
        self.until = time.monotonic() + seconds if seconds else None
        self.units = set(units) if units else None
        self.params = params
        self.rng = random.Random("%s:%s" % (name, seed))
        self.seen = 0         # matching requests since armed
        self.applied = 0

    def expired(self):
        return ((self.count is not None and self.applied >= self.count)
                or (self.until is not None and time.monotonic() >= self.until))

    def hit(self, unit):
        """Whether this request gets the fault (counts the request)."""
        if self.expired() or (self.units is not None and unit not in self.units):
            return False
        self.seen += 1
        if self.seen <= self.after:
            return False
        if (self.seen - self.after) % self.every != 0:
            return False
        if self.p is not None and self.rng.random() >= self.p:
            return False
        self.applied += 1
        return True


class RogueDevice(LoopServer):
    """The server. `units` is {unit id: capture path or dict}. start() returns self; port is set."""

    def __init__(self, units, host="127.0.0.1", port=0, missing_unit="gateway", name="rogue"):
        self.host, self.port, self.missing_unit, self.name = host, port, missing_unit, name
        self.lock = threading.RLock()
        self.maps = {int(u): load_capture(c) for u, c in units.items()}
        self.poison = {u: default_poison(t) for u, t in self.maps.items()}
        self.faults = []
        self.counters = {}         # unit -> [addr, next value]
        self.counter_log = collections.defaultdict(list)   # unit -> [(wall sent, mono sent, value)]
        self.log = []
        self.applied = collections.Counter()
        self.connections = 0
        self.loop = self.server = self.thread = None
        self.tasks = set()

    # -- control (any thread) ------------------------------------------------------------------

    def set_capture(self, unit, capture):
        tables = load_capture(capture)
        with self.lock:
            self.maps[int(unit)] = tables
            self.poison[int(unit)] = default_poison(tables)

    def set_poison(self, unit, capture):
        tables = load_capture(capture)
        with self.lock:
            self.poison[int(unit)] = tables

    def counter(self, unit, addr, start=1000):
        with self.lock:
            self.counters[int(unit)] = [int(addr), int(start)]

    def fault(self, name, **kw):
        f = Fault(name, **kw)
        with self.lock:
            self.faults = [x for x in self.faults if x.name != name] + [f]
        return f

    def clear(self, name=None):
        with self.lock:
            self.faults = [f for f in self.faults if name is not None and f.name != name]

    def active(self):
        with self.lock:
            return [f.name for f in self.faults if not f.expired()]

    def count(self, unit=None):
        with self.lock:
            return len(self.log) if unit is None else sum(1 for r in self.log if r.unit == unit)

    def per_unit(self):
        with self.lock:
            return collections.Counter(r.unit for r in self.log)

    def since(self, k=0, unit=None):
        with self.lock:
            return [r for r in self.log[k:] if unit is None or r.unit == unit]

    def counter_values(self, unit):
        with self.lock:
            return list(self.counter_log[unit])

    # -- the server ----------------------------------------------------------------------------

    def start(self):
        self.port = self._serve_on_thread(self.host, self.port, "rogue %s" % self.name)
        return self

    def __repr__(self):
        return "rogue device %s" % self.name

    async def _handle(self, reader, writer):
        task = asyncio.current_task()
        self.tasks.add(task)
        with self.lock:
            self.connections += 1
            conn = self.connections
        try:
            while True:
                head = await reader.readexactly(7)
                tid, pid, length, unit = struct.unpack(">HHHB", head)
                pdu = await reader.readexactly(max(0, length - 1))
                t, wall = time.monotonic(), time.time()
                sends = self._answer(conn, t, wall, tid, pid, unit, pdu)
                for delay, frame, counted in sends:
                    if delay < 0:         # a copy sent later, not holding up the next request
                        self.loop.call_later(-delay, self._write_late, writer, frame)
                        continue
                    if delay:
                        await asyncio.sleep(delay)
                    writer.write(frame)
                    if counted is not None:
                        with self.lock:
                            self.counter_log[unit].append((time.time(), time.monotonic(), counted))
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.tasks.discard(task)
            try:
                writer.close()
            except Exception:
                pass

    @staticmethod
    def _write_late(writer, frame):
        try:
            if not writer.is_closing():
                writer.write(frame)
        except Exception:
            pass

    def _answer(self, conn, t, wall, tid, pid, unit, pdu):
        """The frames to send for one request: [(delay, bytes, counter value or None)]."""
        fc = pdu[0] if pdu else 0
        addr = count = None
        if fc in (3, 4) and len(pdu) >= 5:
            addr, count = struct.unpack(">HH", pdu[1:5])
        with self.lock:
            tags = []
            hit = {}
            for f in self.faults:
                if f.hit(unit):
                    hit[f.name] = f
                    self.applied[f.name] += 1
                    tags.append(f.name)
            self.faults = [f for f in self.faults if not f.expired()]

            def exc(code, u=unit):
                return struct.pack(">HHHBBB", tid, 0, 3, u, (fc | 0x80) & 0xFF, code)

            counted = None
            if unit not in self.maps:
                frame = None if self.missing_unit == "timeout" else exc(0x0B)
                result = "none" if frame is None else "exc 11"
            elif fc not in (3, 4) or addr is None:
                frame, result = exc(1), "exc 1"
            elif not 1 <= count <= 125:
                frame, result = exc(3), "exc 3"
            elif "busy" in hit:
                code = int(hit["busy"].params.get("code", 6))
                frame, result = exc(code), "exc %d" % code
            elif "exceptions" in hit:
                code = hit["exceptions"].rng.choice(list(hit["exceptions"].params.get("codes", (2, 3, 4, 6))))
                frame, result = exc(code), "exc %d" % code
            else:
                table = table_for(self.maps[unit], fc)
                rng = range(addr, addr + count)
                if any(a not in table for a in rng):
                    frame, result = exc(2), "exc 2"
                else:
                    poisoned = any(k in hit for k in ("wrong_protocol", "bad_fc", "bad_bytecount", "bad_length"))
                    r_unit, r_pid, r_fc, r_delta, len_delta = unit, 0, fc, 0, 0
                    source = table
                    if "wrong_unit" in hit:
                        r_unit = (unit + int(hit["wrong_unit"].params.get("offset", 1))) & 0xFF
                        other = table_for(self.maps.get(r_unit, {}), fc)
                        if hit["wrong_unit"].params.get("data", "other") == "other" and all(a in other for a in rng):
                            source = other
                        else:
                            poisoned = True
                    if poisoned:
                        poison = table_for(self.poison.get(unit, {}), fc)
                        source = poison if all(a in poison for a in rng) else {a: (table[a] + 1) & 0xFFFF for a in rng}
                    values = [source[a] for a in rng]
                    c = self.counters.get(unit)
                    if c and source is table and addr <= c[0] < addr + count:
                        values[c[0] - addr] = c[1] & 0xFFFF
                        counted = c[1]
                        c[1] += 1
                    if "wrong_protocol" in hit:
                        r_pid = int(hit["wrong_protocol"].params.get("pid", 1))
                    if "bad_fc" in hit:
                        r_fc = 7 - fc             # 3 <-> 4
                    if "bad_bytecount" in hit:
                        r_delta = int(hit["bad_bytecount"].params.get("delta", -1))
                        values = (values + [0] * max(0, r_delta))[:max(0, len(values) + r_delta)]
                    if "bad_length" in hit:
                        len_delta = int(hit["bad_length"].params.get("delta", 2))
                    body = struct.pack(">BB", r_fc, 2 * len(values)) + struct.pack(">%dH" % len(values), *values)
                    frame = struct.pack(">HHHB", tid, r_pid, (len(body) + 1 + len_delta) & 0xFFFF, r_unit) + body
                    result = "ok"
            self.log.append(Req(t, wall, conn, unit, fc, addr, count, tid, "+".join([result] + tags)))
        if frame is None:
            return []
        delay = float(hit["slow"].params.get("delay", 0.5)) if "slow" in hit else 0.0
        sends = [(delay, frame, counted)]
        if "duplicate" in hit:
            d = float(hit["duplicate"].params.get("delay", 0.0))
            sends.append((-d, frame, None) if d > 0 else (0.0, frame, None))
        return sends


def parse_fault(text):
    name, _, rest = text.partition(":")
    kw = {}
    for item in filter(None, rest.split(",")):
        k, _, v = item.partition("=")
        if k == "units":
            kw[k] = [int(x) for x in v.split("/")]
        elif k == "codes":
            kw[k] = [int(x) for x in v.split("/")]
        else:
            kw[k] = float(v) if "." in v else int(v)
    return name, kw


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("capture", nargs="+")
    ap.add_argument("--unit", type=int, action="append", help="unit id of each capture, in order (default 1, 2, ...)")
    ap.add_argument("--port", type=int, default=5020)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--missing-unit", choices=("gateway", "timeout"), default="gateway")
    ap.add_argument("--fault", action="append", default=[], metavar="NAME[:k=v,...]",
                    help="e.g. wrong_unit:every=3  busy:count=20  slow:delay=0.5  exceptions:p=0.2,codes=2/6")
    args = ap.parse_args(argv)
    units = args.unit or list(range(1, len(args.capture) + 1))
    if len(units) != len(args.capture):
        ap.error("one --unit per capture")
    dev = RogueDevice(dict(zip(units, args.capture)), host=args.host, port=args.port,
                      missing_unit=args.missing_unit).start()
    for text in args.fault:
        name, kw = parse_fault(text)
        dev.fault(name, **kw)
    print("listening on %s:%d units %s" % (args.host, dev.port, ",".join(map(str, units))), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        dev.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
