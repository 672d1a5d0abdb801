#!/usr/bin/env python3
"""Interop check of the live gateway against devices that misbehave the way field devices do.

The devices are `rogue_device.py` (a raw-socket Modbus TCP server of our own whose faults are switched
at run time) and, for the real SMA map and maps with holes, pymodbus (scripts/serve_capture.py) behind
live_interop.py's counting MBAP proxy. The real gateway (`sunspec-gateway run --config`) polls them;
the script subscribes to its Unix socket. Every rogue case polls two devices: `rogue` (faults) and
`steady` (another rogue_device.py on its own port, never faulty). The rule checked throughout: a
reading is published only if its registers are the device's answer to the request that asked for
them, and a device that answers again is polled again. Cases:

  clean                 no fault: the baseline (online, values, ts, full rate) -- must pass
  wrong-unit            replies carrying unit 2's id and registers (units 1 and 2 behind one port hold
                        different values): 1 in 3, then every reply; then none
  wrong-protocol        replies with protocol id 1 (and other registers): 1 in 3, then all; then none
  duplicate-reply       every reply sent twice (at once, then 30 ms later): readings stay fresh
                        (a counter register in model 802 moves on every reply), the device stays online
  busy-during-discovery exception 6 for 20 requests from the second one at start, later for 2 s:
                        the full model list every time, then polled every interval
  random-exceptions     exceptions 2/3/4/6 with p=0.25 for 3 s: full model list, full rate after
  changed-map           the map is swapped (a firmware update): rediscovery, the new models, and
                        requests per poll back to the plan's optimum
  slow-replies          replies 120 ms late (timeout 400 ms): online, ts of the registers' arrival;
                        600 ms late: offline; on time: online, full rate
  bad-frames            wrong function code, byte count, MBAP length (1 in 2 each, then all): never
                        a reading from them; offline; then online, full rate
  sma                   Fixtures/real/sma-sunny-boy-3.6-2025-04-10.json (110 refused registers) over
                        pymodbus: ~20 polls online, every model (`scan`, offline decode) every poll, 0
                        refused requests, values (and errors) of the offline decode
  random-holes          Fixtures/battery-inverter.json with seeded random holes, as `sma`

    rogue_interop.py --gateway PATH [--cases a,b,...] [--seed N] [--workdir DIR] [-v]

Exit status: 0 when every case passes, 1 when one fails, 2 on a setup error (no pysunspec2/pymodbus, no
binary). One PASS/FAIL line per case with its figures (requests per poll, discovery transactions,
readings per second), the failing checks indented under it. Run it with the Python that has
Tests/Interop/requirements.txt installed.
"""

import argparse
import calendar
import collections
import json
import os
import random
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

try:
    import live_interop as lv            # gateway, subscriber, capture server, MBAP proxy, case runner
    from live_interop import CaseFailed
    import rogue_device as rd
    fi, di = lv.fi, lv.di
except ImportError as exc:  # pragma: no cover - setup error
    sys.stderr.write("rogue_interop.py: pysunspec2/pymodbus are not importable from %s (%s)\n"
                     "install Tests/Interop/requirements.txt into this Python\n" % (sys.executable, exc))
    sys.exit(2)

FIXTURE = os.path.join(ROOT, "Fixtures", "battery-inverter.json")
SMA = os.path.join(ROOT, "Fixtures", "real", "sma-sunny-boy-3.6-2025-04-10.json")
BASE = 40000
INTERVAL = 0.3                 # every device's poll interval
TIMEOUT = 0.3                  # the rogue and steady devices' timeout
WINDOW = 3.0                   # rate windows: 10 polls
RATE_MIN = 0.7                 # of the configured rate
FRESH = 0.25                   # a reading's ts at most this long after its registers were sent
OFFLINE_WAIT = 6.0
ONLINE_WAIT = 15.0
COUNTER_POINT = (802, "Hb")    # the register that counts replies (a heartbeat)
DEFS = lv.DEFS
log = lv.log


# ----------------------------------------------------------------------------------------------
# maps


def load(path):
    with open(path) as f:
        return json.load(f)


def write_capture(path, blocks, device, unit=1):
    cap = {"format": "sunspec-gateway/registers", "version": 1, "captured": None, "device": device, "unit": unit,
           "blocks": [{"start": s, "function": 3, "registers": r} for s, r in blocks]}
    with open(path, "w") as f:
        json.dump(cap, f, separators=(",", ":"))
    return path


def chain(regs, start=BASE):
    """[(addr, id, L)] of the models in a register list that starts with SunS at `start`."""
    out, off = [], 2
    while off + 1 < len(regs) and regs[off] != 0xFFFF:
        out.append((start + off, regs[off], regs[off + 1]))
        off += 2 + regs[off + 1]
    return out


def top_points(mid):
    """[(name, type, offset, size)] of a model's top-level points (offset from the ID register)."""
    out, off = [], 0
    for p in DEFS[mid]["group"].get("points", []):
        out.append((p["name"], p["type"], off, di.point_len(p)))
        off += di.point_len(p)
    return out


def point_offset(mid, name):
    return next(o for n, _t, o, _s in top_points(mid) if n == name)


def is_static(mid):
    """The gateway's Session.isStatic: model 1, or every published point static (read at discovery only)."""
    if mid == 1:
        return True
    if mid not in DEFS:
        return False

    def all_static(g):
        return (all(p["type"] in ("sunssf", "pad") or p.get("static") == "S" or p["name"] in ("ID", "L")
                    for p in g.get("points", [])) and all(all_static(s) for s in g.get("groups", [])))
    return all_static(DEFS[mid]["group"])


SENTINELS = {"int16": 0x8000, "uint16": 0xFFFF, "acc16": 0}


def twin_capture(src, out, device):
    """The same map with other values: in every model but 1, each implemented top-level number moved by 1
    (layout, counts, scale factors and headers kept), so a reading of the twin's registers is recognisable."""
    cap = load(src)
    regs = list(cap["blocks"][0]["registers"])
    for addr, mid, length in chain(regs):
        if mid == 1 or mid not in DEFS:
            continue
        for name, typ, off, size in top_points(mid):
            if off < 2 or off + size > length + 2 or typ not in ("uint16", "int16", "acc16", "uint32", "int32", "acc32"):
                continue
            i = addr - BASE + off + size - 1         # the low register
            v = regs[i]
            whole = regs[i - 1] << 16 | v if size == 2 else v
            if whole in (0xFFFF, 0x8000, 0, 0xFFFFFFFF, 0x80000000) and (size == 2 or v == SENTINELS.get(typ, -1)):
                continue
            regs[i] = (v + 1) & 0xFFFF if v not in (0x7FFF, 0xFFFE, 0xFFFF) else v - 1
    return write_capture(out, [(BASE, regs)], device)


def small_map(src, out, keep=(1, 701, 802)):
    """SunS, the source's models `keep` in that order, the end marker (the 'firmware update' map)."""
    regs = load(src)["blocks"][0]["registers"]
    new = [0x5375, 0x6E53]
    for addr, mid, length in chain(regs):
        if mid in keep:
            new += regs[addr - BASE:addr - BASE + 2 + length]
    new += [0xFFFF, 0]
    return write_capture(out, [(BASE, new)], "firmware-2")


def holed_capture(src, out, seed):
    """The source with random holes (seeded): 8 single registers and 6 runs of 3-20, never SunS, a model
    header or the end marker; each readable run a block of its own. Returns (path, holes)."""
    regs = load(src)["blocks"][0]["registers"]
    protected = {0, 1}
    for addr, _mid, _l in chain(regs):
        protected |= {addr - BASE, addr - BASE + 1}
    end = BASE + 2 + sum(2 + l for _a, _m, l in chain(regs))
    protected |= {end - BASE, end - BASE + 1}
    rng = random.Random("holes:%d" % seed)
    holes = set()
    for size in [1] * 8 + [rng.randint(3, 20) for _ in range(6)]:
        for _try in range(200):
            s = rng.randrange(2, len(regs) - size)
            span = set(range(s, s + size))
            if not span & (protected | holes) and not {s - 1, s + size} & holes:
                holes |= span
                break
    blocks, cur = [], None
    for i, v in enumerate(regs):
        if i in holes:
            cur = None
            continue
        if cur is None:
            cur = [BASE + i, []]
            blocks.append(cur)
        cur[1].append(v)
    write_capture(out, [tuple(b) for b in blocks], "holes-%d" % seed)
    return out, sorted(BASE + h for h in holes)


def poll_plan(spans, limit=125, readable=None):
    """Python twin of the gateway's PollPlan: the requests of one poll over model spans. With `readable`
    (a set of addresses), a gap between two spans is bridged only when every register in it is readable."""
    requests, cur = [], None

    def bridgeable(a, b):
        return readable is None or all(x in readable for x in range(a, b))

    for lo, hi in sorted(spans):
        n = hi - lo
        if n <= limit:
            if cur and hi - cur[0] <= limit and bridgeable(cur[1], lo):
                cur = (cur[0], hi)
            else:
                if cur:
                    requests.append(cur)
                cur = (lo, hi)
            continue
        start = lo
        if cur and lo - cur[0] < limit and cur[1] == lo:
            requests.append((cur[0], cur[0] + limit))
            start, cur = cur[0] + limit, None
        elif cur:
            requests.append(cur)
            cur = None
        while hi - start > limit:
            requests.append((start, start + limit))
            start += limit
        cur = (start, hi)
    if cur:
        requests.append(cur)
    return requests


class Ref(object):
    """`sunspec-gateway decode` of a capture: the expected readings, by address."""

    def __init__(self, binary, path, tag):
        recs, _lines, _err = fi.gateway_decode(binary, path, ["--format", "capture"])
        self.tag, self.path = tag, path
        self.by_addr = {r["addr"]: r for r in recs}
        self.models = [self.by_addr[a]["model"] for a in sorted(self.by_addr)]
        self.addrs = sorted(self.by_addr)
        self.polled = [a for a in self.addrs if not is_static(self.by_addr[a]["model"])]
        self.spans = [(a, a + 2 + self.by_addr[a]["len"]) for a in self.polled]
        self.optimum = len(poll_plan(self.spans))
        self.rate_addr = next((a for a in self.polled if self.by_addr[a]["model"] == 802),
                              self.polled[0] if self.polled else None)

    def diff(self, rec, ignore=(), allow_null=False, errors=False):
        """None when a live reading equals this decode (exact JSON values), else the first difference."""
        want = self.by_addr.get(rec.get("addr"))
        if want is None:
            return "no model at %s in %s" % (rec.get("addr"), self.tag)
        for f in ("model", "name", "index", "len"):
            if rec.get(f) != want.get(f):
                return "%s: live %s, %s %s" % (f, rec.get(f), self.tag, want.get(f))
        ours, theirs = rec.get("values"), want.get("values")
        if ignore and isinstance(ours, dict) and isinstance(theirs, dict):
            ours = {k: v for k, v in ours.items() if k not in ignore}
            theirs = {k: v for k, v in theirs.items() if k not in ignore}
        if allow_null:
            ours = fill_nulls(ours, theirs)
        d = fi.first_diff(ours, theirs, "values")
        if d:
            return "%s: live %s, %s %s" % (d[0], fi.show(d[1]), self.tag, fi.show(d[2]))
        if errors and rec.get("errors") != want.get("errors"):
            return "errors: live %s, %s %s" % (rec.get("errors"), self.tag, want.get("errors"))
        return None


def fill_nulls(ours, theirs):
    """`ours` with its nulls replaced by `theirs` (a point left null is not a wrong value)."""
    if ours is None:
        return theirs
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return {k: fill_nulls(v, theirs.get(k)) for k, v in ours.items()}
    if isinstance(ours, list) and isinstance(theirs, list):
        if not ours:                # a repeating group left out (its count point unread)
            return theirs
        if len(ours) == len(theirs):
            return [fill_nulls(a, b) for a, b in zip(ours, theirs)]
    return ours


def count_nulls(ours, theirs):
    if ours is None:
        return 0 if theirs is None else 1
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return sum(count_nulls(v, theirs.get(k)) for k, v in ours.items())
    if isinstance(ours, list) and isinstance(theirs, list):
        return sum(count_nulls(a, b) for a, b in zip(ours, theirs))
    return 0


def ts_epoch(ts):
    """RFC 3339 UTC with milliseconds -> seconds since the epoch (None when null)."""
    if not ts:
        return None
    main, _, frac = ts.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S")) + (float("0." + frac) if frac else 0.0)


def bursts(reqs, gap=INTERVAL / 2):
    """Requests (time first) split into polls at gaps longer than `gap`."""
    return lv.bursts(reqs, gap)


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else None


# ----------------------------------------------------------------------------------------------
# one case's devices, gateway and subscriber, and its soft checks


class Rig(object):
    """The rogue device (units -> captures), the steady device, the gateway polling both, a subscriber."""

    def __init__(self, ctx, tag, captures, counter=True, timeout=TIMEOUT, steady=True):
        self.ctx, self.tag = ctx, tag
        self.problems, self.figures = [], []
        self.rogue = ctx.procs.add(rd.RogueDevice(captures, name=tag)).start()
        self.steady = ctx.procs.add(rd.RogueDevice({1: FIXTURE}, name="steady")).start() if steady else None
        self.ref = Ref(ctx.binary, captures[1], "the device (decode)")
        self.steady_ref = Ref(ctx.binary, FIXTURE, "steady (decode)") if steady else None
        self.refs = [(0.0, self.ref)]         # (monotonic time served from, ref) of unit 1
        self.others = []                      # refs whose values must never be published as the device's
        self.timeout = timeout
        self.counter_addr = None
        if counter and self.ref.rate_addr is not None and self.ref.by_addr[self.ref.rate_addr]["model"] == COUNTER_POINT[0]:
            self.counter_addr = self.ref.rate_addr + point_offset(*COUNTER_POINT)
            self.rogue.counter(1, self.counter_addr, start=1000)
        self.gw = self.sub = None
        self.t_start = None

    def start(self):
        devices = [{"name": "rogue", "tcp": "127.0.0.1:%d" % self.rogue.port, "unit": 1,
                    "timeout": "%dms" % round(self.timeout * 1000)}]
        if self.steady:
            devices.append({"name": "steady", "tcp": "127.0.0.1:%d" % self.steady.port, "unit": 1})
        self.t_start = time.monotonic()
        self.gw = lv.start_gateway(self.ctx, self.tag, devices, interval="%dms" % round(INTERVAL * 1000),
                                   timeout="%dms" % round(TIMEOUT * 1000))
        self.sub = self.ctx.procs.add(lv.Subscriber(self.gw.socket_path))
        return self

    # soft and hard checks
    def check(self, cond, msg):
        if not cond:
            self.problems.append(msg)
            log("CHECK FAILED: %s" % msg)
        return cond

    def need(self, cond, msg):
        if not cond:
            self.problems.append(msg)
            self.fail()

    def fail(self):
        self.dump()
        raise CaseFailed("\n".join(self.problems + ["figures: " + "; ".join(self.figures)]))

    def dump(self):
        """The stream as received (time since the start, record) and the device's request log, for a failure."""
        if self.sub is None:
            return
        with open(os.path.join(self.ctx.workdir, "%s.stream.ndjson" % self.tag), "w") as f:
            for t, r in self.sub.snapshot():
                f.write(json.dumps({"t": round(t - self.t_start, 3), "record": r}, default=str) + "\n")
        rogue = getattr(self, "rogue", None)
        if rogue is not None:
            with open(os.path.join(self.ctx.workdir, "%s.requests.txt" % self.tag), "w") as f:
                for r in rogue.since(0):
                    f.write("%.3f conn %d unit %d fc %d %s+%s tid %d %s\n" % (r.t - self.t_start, r.conn, r.unit, r.fc,
                                                                           r.addr, r.count, r.tid, r.result))

    def figure(self, text):
        self.figures.append(text)
        log("figure: %s" % text)

    def alive(self):
        if not self.gw.alive():
            self.need(False, "the gateway exited (status %s): %s" % (self.gw.proc.poll(), self.gw.log_tail(600)))

    # the stream
    def ref_at(self, t):
        ref = self.refs[0][1]
        for since, r in self.refs:
            if t >= since:
                ref = r
        return ref

    def statuses(self, device, since=0.0):
        with self.sub.cond:
            return [(t, r) for t, r in self.sub.statuses(device) if t >= since]

    def readings(self, device, since=0.0, until=None, addr=None):
        with self.sub.cond:
            return [(t, r) for t, r in self.sub.readings(device, since)
                    if (until is None or t <= until) and (addr is None or r.get("addr") == addr)]

    def _serving(self, s, device, ref, since):
        st = s.statuses(device)
        if not st or st[-1][1].get("state") != "online" or st[-1][1].get("models") != ref.models:
            return False
        got = {r.get("addr") for _t, r in s.readings(device, since)}
        return all(a in got for a in (ref.polled or ref.addrs))

    def wait_serving(self, device, since, timeout, ref=None, what="online"):
        """Waits until the device's last status is online with the full model list and every polled model
        was read since `since`. Returns the time or None (a failed check)."""
        ref = ref or (self.ref_at(since) if device == "rogue" else self.steady_ref)
        ok = self.sub.wait(lambda s: self._serving(s, device, ref, since) or not self.gw.alive(), timeout)
        self.alive()
        if ok:
            return time.monotonic()
        st = self.statuses(device, since)
        last = self.statuses(device)[-1][1] if self.statuses(device) else {}
        polled = [r.get("addr") for _t, r in self.readings(device, since)]
        self.check(False, "%s: not %s with its %d models and fresh readings within %.0f s: last status %s %s "
                   "(error %s); statuses since: %s; %d readings since (models at %s)"
                   % (device, what, len(ref.models), timeout, last.get("state"), last.get("models"),
                      last.get("error"), [(round(t - since, 2), r.get("state"), len(r.get("models") or []))
                                          for t, r in st][:8],
                      len(polled), sorted(set(polled))[:12]))
        return None

    @staticmethod
    def _offline(s, device, since):
        """An offline status since `since`, or offline already then (no online after the last offline:
        a device already offline from an earlier phase publishes no new status until its next retry)."""
        st = s.statuses(device)
        if any(r.get("state") == "offline" for t, r in st if t >= since):
            return True
        last = {r.get("state"): t for t, r in st}
        return "offline" in last and last["offline"] > last.get("online", -1.0)

    def wait_offline(self, device, since, timeout, why):
        ok = self.sub.wait(lambda s: self._offline(s, device, since) or not self.gw.alive(), timeout)
        self.alive()
        if not ok:
            n = len(self.readings(device, since))
            self.check(False, "%s: never offline within %.0f s of %s (state %s, %d readings published meanwhile)"
                       % (device, timeout, why, self.sub.state(device), n))
            return None
        t, r = next(((t, r) for t, r in self.statuses(device, since) if r.get("state") == "offline"), (since, {}))
        log("%s offline after %.2f s: %s" % (device, t - since, r.get("error")))
        return t

    def rate_window(self, device, label, seconds=WINDOW):
        """Waits for a window's polls of the device (the rate model counted), deadline seconds/RATE_MIN;
        checks at least RATE_MIN of the configured rate. Returns readings per second."""
        ref = self.ref_at(time.monotonic()) if device == "rogue" else self.steady_ref
        addr = ref.rate_addr
        t0 = time.monotonic()
        want = int(round(seconds / INTERVAL))
        self.sub.wait(lambda s: len([1 for _t, r in s.readings(device, t0) if r.get("addr") == addr]) >= want
                      or not self.gw.alive(), seconds / RATE_MIN)
        self.alive()
        got = self.readings(device, t0, addr=addr)
        t1 = got[-1][0] if len(got) >= want else time.monotonic()
        rate = len(got) / max(t1 - t0, 1e-3)
        total = len(self.readings(device, t0, t1)) / max(t1 - t0, 1e-3)
        self.check(rate >= RATE_MIN / INTERVAL,
                   "%s %s: %.2f polls/s (model %s counted), expected at least %d%% of %.2f (interval %dms)"
                   % (device, label, rate, ref.by_addr[addr]["model"], RATE_MIN * 100, 1 / INTERVAL, INTERVAL * 1000))
        self.figure(("%s %s" % (device, label)).strip() + " %.2f polls/s (%.1f readings/s)" % (rate, total))
        return rate

    def rate_over(self, device, t0, t1, label):
        ref = self.steady_ref if device == "steady" else self.ref
        n = len(self.readings(device, t0, t1, addr=ref.rate_addr))
        rate = n / max(t1 - t0, 1e-3)
        self.check(rate >= RATE_MIN / INTERVAL, "%s %s: %.2f polls/s over %.1f s, expected at least %d%% of %.2f"
                   % (device, label, rate, t1 - t0, RATE_MIN * 100, 1 / INTERVAL))
        self.figure(("%s %s" % (device, label)).strip() + " %.2f polls/s" % rate)

    # what the device's readings must be
    def check_values(self, allow_null=False, errors=False, grace=None):
        """Every reading of `rogue` is the device's (the decode of the capture served when it arrived,
        or, within `grace` s of a swap, of the one before); none is another unit's or a faulty frame's."""
        ignore = (COUNTER_POINT[1],) if self.counter_addr else ()
        bad, foreign, nulls = [], collections.Counter(), 0
        recs = self.readings("rogue")
        for t, r in recs:
            ref = self.ref_at(t)
            d = ref.diff(r, ignore, allow_null, errors)
            if d and grace and self.ref_at(t - grace).diff(r, ignore, allow_null, errors) is None:
                d = None                       # registers read just before the swap
            if d:
                who = next((o.tag for o in self.others if o.diff(r, ignore) is None), None)
                if who is None and ref.diff(r, ignore, allow_null=True) is None:
                    who = "null points the device has values for (registers taken for unreadable)"
                foreign[who or "neither"] += 1
                bad.append((round(t - self.t_start, 2), r.get("model"), r.get("addr"), who, d))
            elif allow_null:
                nulls += count_nulls(r.get("values"), ref.by_addr[r["addr"]].get("values"))
        if allow_null:
            self.figure("%d null points in the device's readings" % nulls)
        if bad:
            what = ", ".join("%d %s" % (n, k if k.startswith("null") else "equal to %s" % k if k != "neither"
                                        else "neither the device's nor another known map's")
                             for k, n in foreign.items())
            t, m, a, who, d = bad[0]
            self.check(False, "%d of %d readings of rogue are not the device's registers (%s); first at %.2f s: "
                       "model %s at %s: %s" % (len(bad), len(recs), what, t, m, a, d))
        return len(bad)

    def check_fresh(self):
        """The counter register (one more on every reply): the readings of its model show strictly increasing
        values, each with a ts within FRESH s after the reply carrying it was sent (never a stale copy)."""
        if not self.counter_addr:
            return
        sent = {v: w for w, _m, v in self.rogue.counter_values(1)}
        addr = self.ref.rate_addr
        ignore = (COUNTER_POINT[1],)
        last, stale, repeats, n = None, [], [], 0
        for t, r in self.readings("rogue", addr=addr):
            if self.ref.diff(r, ignore) is not None:
                continue                       # not the device's registers: check_values reports it
            v = (r.get("values") or {}).get(COUNTER_POINT[1])
            if not isinstance(v, int):
                continue
            n += 1
            if last is not None and v <= last:
                repeats.append((round(t - self.t_start, 2), last, v))
            last = v
            ts, w = ts_epoch(r.get("ts")), sent.get(v)
            if w is None or ts is None:
                stale.append((round(t - self.t_start, 2), v, r.get("ts"), "never sent" if w is None else "ts null"))
            elif not (w - 0.02 <= ts <= w + FRESH):
                stale.append((round(t - self.t_start, 2), v, r.get("ts"), "%+.3f s from the reply" % (ts - w)))
        self.check(not repeats, "%d of %d readings of model %d repeat an older register image (%s did not move "
                   "on): first (at s, previous, this) %s" % (len(repeats), n, COUNTER_POINT[0], COUNTER_POINT[1],
                                                             repeats[:3]))
        self.check(not stale, "%d of %d readings of model %d have a ts that is not when their registers arrived: "
                   "first (at s, %s, ts, off) %s" % (len(stale), n, COUNTER_POINT[0], COUNTER_POINT[1], stale[:3]))

    def check_model_lists(self):
        """Every online status of rogue lists the full model list of the map served then."""
        short = [(round(t - self.t_start, 2), r.get("models")) for t, r in self.statuses("rogue")
                 if r.get("state") == "online" and r.get("models") not in [x.models for _s, x in self.refs]]
        self.check(not short, "rogue online with a model list that is not the device's (%d models): %s"
                   % (len(self.ref.models), short[:3]))

    def offline_during(self, device, t0, t1):
        return [(round(t - t0, 2), r.get("error")) for t, r in self.statuses(device, t0)
                if t <= t1 and r.get("state") == "offline"]

    # requests at the device
    def discovery_figure(self, t_from, t_online, label="discovery"):
        n = len([r for r in self.rogue.since(0, 1) if t_from <= r.t <= t_online])
        self.figure("%s %d transactions" % (label, n))
        return n

    def requests_per_poll(self, t0, t1, label="requests/poll"):
        polls = bursts([r for r in self.rogue.since(0, 1) if t0 <= r.t <= t1])
        sizes = [len(p) for p in polls[1:-1]] or [len(p) for p in polls]
        m = median(sizes)
        self.figure("%s %s (optimum %d)" % (label, m, self.ref_at(t1).optimum))
        return m

    def finish(self, line):
        self.check_model_lists()
        self.check(not self.sub.bad, "unparsable stream lines: %s" % self.sub.bad[:3])
        faults = dict(self.rogue.applied)
        if faults:
            self.figure("faults applied %s" % ", ".join("%s %d" % kv for kv in sorted(faults.items())))
        if self.problems:
            self.fail()
        return "; ".join([line] + self.figures)


def start_baseline(rig):
    """Gateway up, both devices online with their models; the first figures."""
    rig.start()
    t_on = rig.wait_serving("rogue", rig.t_start, lv.ONLINE_TIMEOUT)
    rig.wait_serving("steady", rig.t_start, lv.ONLINE_TIMEOUT)
    if t_on is None:
        rig.fail()
    rig.discovery_figure(rig.t_start, t_on)
    return t_on


def fault_cycle(rig, arm, partial=None, persistent=None, partial_applied=6, partial_seconds=3.0):
    """A partial phase (the fault on some replies: nothing from them may be published), a persistent
    one (the device must go offline), then recovery: online with its models, full rate, and steady
    kept its rate throughout."""
    t_fault = time.monotonic()
    if partial:
        f = arm(**partial)
        deadline = time.monotonic() + partial_seconds
        lv.wait_until(lambda: f.applied >= partial_applied or time.monotonic() > deadline, partial_seconds + 1)
        rig.rogue.clear()
    if persistent:
        t_p = time.monotonic()
        arm(**persistent)
        rig.wait_offline("rogue", t_p, OFFLINE_WAIT, "every reply being faulty")
        rig.rogue.clear()
    t_clear = time.monotonic()
    if rig.wait_serving("rogue", t_clear, ONLINE_WAIT, what="online again") is not None:
        rig.figure("back %.1f s after the fault ended" % (time.monotonic() - t_clear))
        rig.rate_window("rogue", "after recovery")
    rig.rate_over("steady", t_fault, time.monotonic(), "during the faults")
    return t_clear


# ----------------------------------------------------------------------------------------------
# the cases


def case_clean(ctx):
    rig = Rig(ctx, "clean", {1: FIXTURE})
    t_on = start_baseline(rig)
    t0 = time.monotonic()
    rig.rate_window("rogue", "")
    rig.rate_over("steady", t0, time.monotonic(), "")
    rig.requests_per_poll(t_on, time.monotonic())
    rig.check(not rig.offline_during("rogue", 0, time.monotonic()), "rogue went offline: %s"
              % rig.offline_during("rogue", 0, time.monotonic()))
    rig.check_values()
    rig.check_fresh()
    return rig.finish("no fault")


def twin_of(ctx, tag):
    return twin_capture(FIXTURE, os.path.join(ctx.workdir, "%s-twin.json" % tag), "twin")


def case_wrong_unit(ctx):
    twin = twin_of(ctx, "wrong-unit")
    rig = Rig(ctx, "wrong-unit", {1: FIXTURE, 2: twin})
    rig.others = [Ref(ctx.binary, twin, "unit 2 (decode)")]
    start_baseline(rig)
    fault_cycle(rig, lambda **kw: rig.rogue.fault("wrong_unit", units=[1], **kw),
                partial={"every": 3}, persistent={"every": 1})
    rig.check_values()
    rig.check_fresh()
    return rig.finish("unit 1's replies as unit 2 (its id and registers)")


def case_wrong_protocol(ctx):
    twin = twin_of(ctx, "wrong-protocol")
    rig = Rig(ctx, "wrong-protocol", {1: FIXTURE})
    rig.rogue.set_poison(1, twin)
    rig.others = [Ref(ctx.binary, twin, "the faulty frames' registers")]
    start_baseline(rig)
    fault_cycle(rig, lambda **kw: rig.rogue.fault("wrong_protocol", pid=1, **kw),
                partial={"every": 3}, persistent={"every": 1})
    rig.check_values()
    rig.check_fresh()
    return rig.finish("protocol id 1")


def case_duplicate_reply(ctx):
    rig = Rig(ctx, "duplicate-reply", {1: FIXTURE})
    start_baseline(rig)
    t_all = time.monotonic()
    for delay, label in ((0.0, "duplicates at once"), (0.03, "duplicates 30 ms late")):
        t0 = time.monotonic()
        rig.rogue.fault("duplicate", delay=delay)
        rig.rate_window("rogue", "with %s" % label)
        rig.rogue.clear()
        t1 = time.monotonic()
        off = rig.offline_during("rogue", t0, t1)
        rig.check(not off, "rogue went offline with %s (a copy is not an error of the device): %s"
                  % (label, off[:3]))
        rig.figure("%s: %d requests" % (label, len([r for r in rig.rogue.since(0, 1) if t0 <= r.t <= t1])))
    t_clear = time.monotonic()
    if rig.wait_serving("rogue", t_clear, ONLINE_WAIT, what="online after the duplicates"):
        rig.rate_window("rogue", "after")
    rig.rate_over("steady", t_all, time.monotonic(), "during the duplicates")
    rig.check_values()
    rig.check_fresh()
    return rig.finish("each reply twice")


def case_busy_during_discovery(ctx):
    rig = Rig(ctx, "busy-during-discovery", {1: FIXTURE})
    busy = rig.rogue.fault("busy", code=6, count=20, after=1)
    rig.start()
    t_on = rig.wait_serving("rogue", rig.t_start, ONLINE_WAIT, what="online after 20 busy answers at discovery")
    rig.wait_serving("steady", rig.t_start, lv.ONLINE_TIMEOUT)
    rig.figure("busy answers at discovery %d" % busy.applied)
    if t_on:
        rig.discovery_figure(rig.t_start, t_on)
        rig.rate_window("rogue", "after the busy discovery")
    # later: busy for 2 s (polls, and a rediscovery if it goes offline)
    t_fault = time.monotonic()
    rig.rogue.fault("busy", code=6, seconds=2.0)
    lv.wait_until(lambda: not rig.rogue.active(), 3.0)
    t_clear = time.monotonic()
    if rig.wait_serving("rogue", t_clear, ONLINE_WAIT, what="online after 2 s of busy answers"):
        rig.figure("back %.1f s after the busy time" % (time.monotonic() - t_clear))
        rig.rate_window("rogue", "after 2 s busy")
    rig.rate_over("steady", t_fault, time.monotonic(), "during the busy time")
    last = rig.rogue.since(0, 1)[-1] if rig.rogue.count(1) else None
    rig.figure("last request to rogue %.1f s before the end" % (time.monotonic() - last.t) if last else "no requests")
    rig.check_values()
    rig.check_fresh()
    return rig.finish("exception 6")


def case_random_exceptions(ctx):
    rig = Rig(ctx, "random-exceptions", {1: FIXTURE})
    t_on = start_baseline(rig)
    rig.sub.wait(lambda s: len([1 for _t, r in s.readings("rogue", t_on) if r["addr"] == rig.ref.rate_addr]) >= 4, 5)
    rig.requests_per_poll(t_on, time.monotonic(), "requests/poll before")
    fault_cycle(rig, lambda **kw: rig.rogue.fault("exceptions", codes=(2, 3, 4, 6), seed=ctx.seed, **kw),
                partial={"p": 0.25, "seconds": 3.0}, partial_applied=10 ** 6)
    t_end = time.monotonic()
    rig.requests_per_poll(t_end - WINDOW, t_end, "requests/poll after")
    rig.check_values(allow_null=True)
    rig.check_fresh()
    return rig.finish("exceptions 2/3/4/6, p=0.25, 3 s")


def case_changed_map(ctx):
    rig = Rig(ctx, "changed-map", {1: FIXTURE}, counter=False)
    new_path = small_map(FIXTURE, os.path.join(ctx.workdir, "changed-map-new.json"))
    new = Ref(ctx.binary, new_path, "the new map (decode)")
    t_on = start_baseline(rig)
    rig.sub.wait(lambda s: len([1 for _t, r in s.readings("rogue", t_on) if r["addr"] == rig.ref.rate_addr]) >= 4, 5)
    rig.requests_per_poll(t_on, time.monotonic(), "requests/poll before")
    t_swap = time.monotonic()
    rig.rogue.set_capture(1, new_path)
    rig.refs.append((t_swap, new))
    t_new = rig.wait_serving("rogue", t_swap, ONLINE_WAIT, ref=new, what="online with the new models %s" % new.models)
    if t_new:
        st = [r.get("state") for _t, r in rig.statuses("rogue", t_swap)]
        rig.check("discovering" in st, "no rediscovery after the map changed (statuses %s)" % st)
        rig.discovery_figure(t_swap, t_new, "rediscovery (with the failures before it)")
        rig.rate_window("rogue", "after the update")
        t_end = time.monotonic()
        per_poll = rig.requests_per_poll(t_new + INTERVAL, t_end, "requests/poll after")
        sizes = sorted({r.count for r in rig.rogue.since(0, 1) if t_new + INTERVAL <= r.t})
        rig.check(per_poll is not None and per_poll <= new.optimum,
                  "after the rediscovery a poll takes %s requests (sizes %s), the plan's optimum is %d"
                  % (per_poll, sizes[:6], new.optimum))
    rig.rate_over("steady", t_swap, time.monotonic(), "during the update")
    rig.check_values(grace=1.0)
    return rig.finish("%s -> %s" % (rig.ref.models, new.models))


def case_slow_replies(ctx):
    rig = Rig(ctx, "slow-replies", {1: FIXTURE}, timeout=0.4)
    rig.rogue.fault("slow", delay=0.12)
    rig.start()
    t_on = rig.wait_serving("rogue", rig.t_start, lv.ONLINE_TIMEOUT, what="online with replies 120 ms late")
    rig.wait_serving("steady", rig.t_start, lv.ONLINE_TIMEOUT)
    if t_on is None:
        rig.fail()
    rig.discovery_figure(rig.t_start, t_on, "discovery (120 ms a reply)")
    t0 = time.monotonic()
    rig.sub.wait(lambda s: len([1 for _t, r in s.readings("rogue", t0) if r["addr"] == rig.ref.rate_addr]) >= 3, 8)
    t1 = time.monotonic()
    rig.check(not rig.offline_during("rogue", 0, t1), "rogue went offline although every reply came before the "
              "timeout: %s" % rig.offline_during("rogue", 0, t1))
    rig.figure("under the timeout %.2f polls/s" % (len(rig.readings("rogue", t0, t1, rig.ref.rate_addr)) / (t1 - t0)))
    fault_cycle(rig, lambda **kw: rig.rogue.fault("slow", **kw), persistent={"delay": 0.6})
    rig.check_values()
    rig.check_fresh()
    return rig.finish("120 ms (timeout 400 ms), then 600 ms, then on time")


def case_bad_frames(ctx):
    twin = twin_of(ctx, "bad-frames")
    rig = Rig(ctx, "bad-frames", {1: FIXTURE})
    rig.rogue.set_poison(1, twin)
    rig.others = [Ref(ctx.binary, twin, "the bad frames' registers")]
    start_baseline(rig)
    t_fault = time.monotonic()
    kinds = ("bad_fc", "bad_bytecount", "bad_length")
    for kind in kinds:
        t0 = time.monotonic()
        f = rig.rogue.fault(kind, every=2)
        lv.wait_until(lambda: f.applied >= 6, 3.0)
        rig.rogue.clear()
        t1 = time.monotonic() + 0.1
        foreign = [1 for _t, r in rig.readings("rogue", t0, t1) if rig.others[0].diff(r, (COUNTER_POINT[1],)) is None]
        rig.figure("%s: %d frames, %d readings from them" % (kind, f.applied, len(foreign)))
    t_p = time.monotonic()
    for i, kind in enumerate(kinds):             # every reply bad, the three kinds in turn
        rig.rogue.fault(kind, every=3, after=i - 2)
    rig.wait_offline("rogue", t_p, OFFLINE_WAIT, "every frame being bad")
    rig.rogue.clear()
    t_clear = time.monotonic()
    if rig.wait_serving("rogue", t_clear, ONLINE_WAIT, what="online again"):
        rig.rate_window("rogue", "after recovery")
    rig.rate_over("steady", t_fault, time.monotonic(), "during the bad frames")
    rig.check_values()
    rig.check_fresh()
    return rig.finish("wrong function code, byte count, MBAP length")


def sparse_case(ctx, tag, capture, unit, note, polls=20):
    """pymodbus serves a map with refused registers behind the counting proxy; the gateway polls it ~20 times."""
    ref = Ref(ctx.binary, capture, "decode")
    server = ctx.procs.add(lv.CaptureServer(ctx.workdir, tag, [capture], [unit])).start()
    proxy = ctx.procs.add(lv.MbapProxy(server.port)).start()
    rig = Rig.__new__(Rig)
    rig.ctx, rig.tag, rig.problems, rig.figures, rig.sub = ctx, tag, [], [], None
    rig.t_start = time.monotonic()
    rig.gw = lv.start_gateway(ctx, tag, [{"name": "dev", "tcp": "127.0.0.1:%d" % proxy.port, "unit": unit,
                                         "timeout": "1s"}], interval="%dms" % round(INTERVAL * 1000))
    rig.sub = ctx.procs.add(lv.Subscriber(rig.gw.socket_path))
    ok = rig.sub.wait(lambda s: rig._serving(s, "dev", ref, rig.t_start) or not rig.gw.alive(), lv.ONLINE_TIMEOUT)
    rig.alive()
    on = [(t, r) for t, r in rig.statuses("dev") if r.get("state") == "online"]
    if not on:
        last = rig.statuses("dev")[-1][1] if rig.statuses("dev") else {}
        rig.need(False, "never online within %.0f s (last status %s, error %s)"
                 % (lv.ONLINE_TIMEOUT, last.get("state"), last.get("error")))
    t_on = on[0][0]
    rig.check(on[0][1].get("models") == ref.models, "online with models %s, the device has %s"
              % (on[0][1].get("models"), ref.models))
    if not ok:
        got = {r.get("addr") for _t, r in rig.readings("dev")}
        rig.check(False, "not every model published within %.0f s: missing %s"
                  % (lv.ONLINE_TIMEOUT, [ref.by_addr[a]["model"] for a in ref.addrs if a not in got]))
    disc = [r for r in proxy.log_since(0) if r[0] <= t_on]
    disc_exc = [r for r in proxy.replies_since(0) if r[0] <= t_on and r[4] is not None]
    rig.figure("discovery %d transactions (%d refused)" % (len(disc), len(disc_exc)))
    # ~20 polls
    rig.sub.wait(lambda s: len([1 for _t, r in s.readings("dev", t_on) if r["addr"] == ref.rate_addr]) >= polls
                 or not rig.gw.alive(), polls * INTERVAL / RATE_MIN + 1)
    rig.alive()
    t_end = time.monotonic()
    n_polls = len(rig.readings("dev", t_on, t_end, ref.rate_addr))
    rate = n_polls / (t_end - t_on)
    rig.check(rate >= RATE_MIN / INTERVAL, "%d polls in %.1f s after the first online status (%.2f/s), expected at "
              "least %d%% of %.2f/s" % (n_polls, t_end - t_on, rate, RATE_MIN * 100, 1 / INTERVAL))
    off = [(round(t - t_on, 2), r.get("state"), r.get("error")) for t, r in rig.statuses("dev", t_on)
           if r.get("state") != "online"]
    rig.check(not off, "%d status changes after the first online (it must stay online): first %s"
              % (len(off), off[:2]))
    exc = [r for r in proxy.replies_since(t_on) if r[4] is not None]
    reqs = proxy.log_since(len(disc))
    rig.check(not exc, "%d exception replies during polling (of %d requests), e.g. exception %s to %s"
              % (len(exc), len(reqs), exc[0][4] if exc else None,
                 ["%d+%d" % (r[4], r[5]) for r in reqs if r[6] == exc[0][5]][:1] if exc else None))
    counts = collections.Counter(r.get("addr") for _t, r in rig.readings("dev", t_on + INTERVAL / 2, t_end))
    polls_seen = counts.get(ref.rate_addr, 0)
    missing = [(ref.by_addr[a]["model"], counts.get(a, 0)) for a in ref.polled if counts.get(a, 0) < polls_seen - 1]
    rig.check(not missing, "models not published every poll (%d polls): (model, readings) %s"
              % (polls_seen, missing[:8]))
    bad = [(round(t - t_on, 2), r.get("model"), r.get("addr"), ref.diff(r, errors=True)) for t, r in rig.readings("dev")]
    bad = [b for b in bad if b[3]]
    rig.check(not bad, "%d of %d readings differ from the offline decode: first %s"
              % (len(bad), len(rig.readings("dev")), bad[:2]))
    per_poll = median([len(p) for p in bursts([r for r in reqs if r[0] > t_on + INTERVAL / 2])][1:-1] or [None])
    refused = sum(1 for r in proxy.replies_since(0) if r[4] is not None)
    readable = readable_addrs(capture)
    rig.figure("requests/poll %s (optimum %d: readable runs split at 125)"
               % (per_poll, len(poll_plan(runs(readable, ref), readable=readable))))
    rig.figure("%d polls in %.1f s (%.2f/s), %d requests, %d refused in all" % (n_polls, t_end - t_on, rate,
                                                                               len(proxy.log_since(0)), refused))
    # `scan` of the same server (not through the proxy): the models the gateway must have found
    scan = lv.run_binary(ctx.binary, ["scan", "--tcp", "127.0.0.1:%d" % server.port, "--unit", str(unit), "--json"])
    try:
        found = json.loads(scan.stdout.decode())
        rig.check([m["id"] for m in found["models"]] == ref.models, "`scan` finds %s, the offline decode %s"
                  % ([m["id"] for m in found["models"]], ref.models))
        rig.figure("scan %s transactions" % found.get("transactions"))
    except (ValueError, KeyError, TypeError):
        rig.check(False, "`scan` failed (exit %s): %s" % (scan.returncode, scan.stderr.decode()[-300:]))
    if rig.problems:
        rig.fail()
    return "; ".join([note] + rig.figures)


def readable_addrs(capture):
    have = set()
    for b in load(capture)["blocks"]:
        have |= {b["start"] + i for i, v in enumerate(b["registers"]) if v is not None}
    return have


def runs(have, ref):
    """The readable runs of the polled models: each model span cut at the capture's holes."""
    out = []
    for lo, hi in ref.spans:
        cur = None
        for a in range(lo, hi):
            if a in have:
                cur = [a, a + 1] if cur is None else [cur[0], a + 1]
            elif cur:
                out.append(tuple(cur))
                cur = None
        if cur:
            out.append(tuple(cur))
    return out


def case_sma(ctx):
    cap = load(SMA)
    regs = sum(len(b["registers"]) for b in cap["blocks"])
    span = cap["blocks"][-1]["start"] + len(cap["blocks"][-1]["registers"]) - BASE
    return sparse_case(ctx, "sma", SMA, int(cap.get("unit") or 1),
                       "SMA Sunny Boy 3.6 (%d blocks, %d refused registers)" % (len(cap["blocks"]), span - regs))


def case_random_holes(ctx):
    path, holes = holed_capture(FIXTURE, os.path.join(ctx.workdir, "holes-%d.json" % ctx.seed), ctx.seed)
    log("holes: %s" % holes)
    return sparse_case(ctx, "random-holes", path, 1, "battery-inverter with %d refused registers (seed %d)"
                       % (len(holes), ctx.seed))


CASES = collections.OrderedDict([
    ("clean", case_clean),
    ("wrong-unit", case_wrong_unit),
    ("wrong-protocol", case_wrong_protocol),
    ("duplicate-reply", case_duplicate_reply),
    ("busy-during-discovery", case_busy_during_discovery),
    ("random-exceptions", case_random_exceptions),
    ("changed-map", case_changed_map),
    ("slow-replies", case_slow_replies),
    ("bad-frames", case_bad_frames),
    ("sma", case_sma),
    ("random-holes", case_random_holes),
])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gateway", required=True, help="path of the sunspec-gateway binary")
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated: %s" % ", ".join(CASES))
    ap.add_argument("--seed", type=int, default=1, help="seed of the random holes and exceptions (default 1)")
    ap.add_argument("--workdir", help="keep configs, captures and logs here (default: a temp dir, removed on success)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    lv.VERBOSE = args.verbose

    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in names if c not in CASES]
    if unknown:
        sys.stderr.write("unknown cases: %s (known: %s)\n" % (", ".join(unknown), ", ".join(CASES)))
        return 2
    binary = os.path.abspath(args.gateway)
    if not fi.wait_for_binary(binary):
        sys.stderr.write("rogue_interop.py: gateway binary not found at %s (build it first)\n" % binary)
        return 2
    workdir = args.workdir or tempfile.mkdtemp(prefix="sunspec-rogue-")
    os.makedirs(workdir, exist_ok=True)
    sockdir = tempfile.mkdtemp(prefix="sgr-")      # short: a socket path has at most 107 bytes
    ctx = lv.Ctx(binary, workdir, sockdir, args.seed)

    def cleanup():
        ctx.procs.stop_all()
        shutil.rmtree(sockdir, ignore_errors=True)

    return lv.run_cases("rogue_interop.py", CASES, names, ctx, workdir, keep=bool(args.workdir), width=21,
                        cleanup=cleanup)


if __name__ == "__main__":
    sys.exit(main())
