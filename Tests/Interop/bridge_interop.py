#!/usr/bin/env python3
"""Interop check of the bridge: vendor profiles polled live, and the SunSpec Modbus TCP export.

One pymodbus server (scripts/serve_capture.py) serves the five vendor captures of Fixtures/vendor/
(Huawei unit 1, Sungrow unit 2, SolarEdge unit 3, Victron GX system unit 100, Victron GX battery
unit 225) and Fixtures/battery-inverter.json (unit 7, a SunSpec device) on one port. The real
`sunspec-gateway run` polls the five through their profiles (Profiles/*.yaml) and the sixth as a
plain SunSpec device, and exports all six as SunSpec maps over Modbus TCP (export units 1..6, the
config order). Cases:

  profiles-live      every profile device online; its readings carry source profile:NAME, exactly the
                     values Fixtures/vendor/README.md gives, and equal `decode --profile` of the capture
  export-pysunspec2  pysunspec2's Modbus TCP client scans every export unit: its values equal the
                     stream's readings of the same device (decode_interop.py's rules)
  export-mbpoll      the real mbpoll reads SunS and model 1's header with -t 4 (FC3) and -t 3 (FC4);
                     its writes (FC6, FC16) are refused with an illegal function exception
  export-offline     the server is killed: the export answers exception 0x0B at once, keeps answering;
                     the server restarts: the values come back
  export-robust      an unknown function code, a partial frame, more clients than max_connections (4)
  export-idle        max_connections (4) held by idle connections: mbpoll, connecting every 100 ms, is
                     served once one has been idle 1 s (it is closed to make room); the others are closed
                     at idle_timeout (3 s); a read past register 65535 answers exception 2 (raw and mbpoll)
  bench              (--bench only) 10 clients reading 125 registers each as fast as they can for 5 s

    bridge_interop.py --gateway PATH [--cases a,b,...] [--bench] [--workdir DIR] [-v]

`--bench` alone runs the bench only (`make bench`); with `--cases` it is added to them. Exit status: 0
when every case passes, 1 when one fails, 2 on a setup error (no pysunspec2, no mbpoll, no binary).
One PASS/FAIL line per case, then the details of the failures. Run it with the Python that has
Tests/Interop/requirements.txt installed.
"""

import argparse
import collections
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

try:
    import live_interop as lv            # servers, gateway, subscriber, pysunspec2 reads, comparison
    from live_interop import CaseFailed, SetupError, check
    fi = lv.fi
    from pymodbus.client import ModbusTcpClient
except ImportError as exc:  # pragma: no cover - setup error
    sys.stderr.write("bridge_interop.py: pysunspec2/pymodbus are not importable from %s (%s)\n"
                     "install Tests/Interop/requirements.txt into this Python\n" % (sys.executable, exc))
    sys.exit(2)

VENDOR = os.path.join(ROOT, "Fixtures", "vendor")
VENDOR_README = os.path.join(VENDOR, "README.md")
SUNSPEC_FIXTURE = os.path.join(ROOT, "Fixtures", "battery-inverter.json")
BASE = 40000
SUNS = (0x5375, 0x6E53)

# (device name = profile name, profile file, capture, server unit); export units follow this order (1..5)
PROFILE_DEVICES = [
    ("huawei-luna2000", "Profiles/huawei-luna2000.yaml", "huawei-luna2000.json", 1),
    ("sungrow-sh", "Profiles/sungrow-sh.yaml", "sungrow-sh.json", 2),
    ("solaredge-storedge", "Profiles/solaredge-storedge.yaml", "solaredge-storedge.json", 3),
    ("victron-gx-system", "Profiles/victron-gx-system.yaml", "victron-gx.json", 100),
    ("victron-gx-battery", "Profiles/victron-gx-battery.yaml", "victron-gx-battery.json", 225),
]
SUNSPEC_DEVICE = ("battery-inverter", SUNSPEC_FIXTURE, 7)    # export unit 6
INTERVAL = "500ms"
DEVICE_TIMEOUT = "500ms"
ONLINE_TIMEOUT = 15.0


# ----------------------------------------------------------------------------------------------
# what Fixtures/vendor/README.md says each capture maps to


def expected_values(path=VENDOR_README):
    """{capture file: {model id: {point: Decimal | None}}} from the README's "Expected SunSpec values"
    paragraphs ("802: WHRtg 15000 Wh, SoC 65.3 %, SoH not available, ..."; None = not available)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    out = {}
    sections = re.split(r"^## ", text, flags=re.M)
    for sec in sections:
        m = re.match(r".*?\(`([\w.-]+\.json)`", sec)
        if not m:
            continue
        para = re.search(r"\*\*Expected SunSpec values[^*]*\*\*(.*?)(?:\n\s*\n|\Z)", sec, flags=re.S)
        if not para:
            continue
        body = " ".join(para.group(1).split())
        parts = re.split(r"\b(\d{3}): ", body)
        models = {}
        for k in range(1, len(parts) - 1, 2):
            mid = int(parts[k])
            seg = parts[k + 1].split(". ")[0].rstrip(" .")
            points = {}
            for item in seg.split(", "):
                im = re.match(r"^(\w+) (not available|[+-]?\d+(?:\.\d+)?)(?:\s|$)", item.strip())
                if not im:
                    raise SetupError("%s: cannot read the expected value %r (model %d of %s)"
                                     % (path, item, mid, m.group(1)))
                points[im.group(1)] = None if im.group(2) == "not available" else Decimal(im.group(2))
            models[mid] = points
        out[m.group(1)] = models
    return out


def same_number(ours, want):
    if want is None:
        return ours is None
    if isinstance(ours, bool) or not isinstance(ours, (int, Decimal)):
        return False
    return Decimal(ours) == want


# ----------------------------------------------------------------------------------------------
# a raw Modbus TCP client (exact frames, exception codes, timings)


class ModbusException(Exception):
    def __init__(self, fc, code):
        Exception.__init__(self, "function %d: exception %d (0x%02X)" % (fc, code, code))
        self.fc, self.code = fc, code


class Mbap(object):
    """One Modbus TCP connection; request() sends a PDU and returns the answer's PDU."""

    def __init__(self, port, timeout=2.0, connect=True):
        self.port, self.timeout = port, timeout
        self.tid = 0
        self.sock = None
        if connect:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def frame(self, unit, pdu):
        self.tid = (self.tid + 1) & 0xFFFF
        return struct.pack(">HHHB", self.tid, 0, len(pdu) + 1, unit) + pdu

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("connection closed by the export after %d of %d bytes" % (len(buf), n))
            buf += chunk
        return buf

    def answer(self):
        head = self.recv_exact(7)
        tid, pid, length, unit = struct.unpack(">HHHB", head)
        pdu = self.recv_exact(length - 1) if length >= 1 else b""
        return tid, unit, pdu

    def request(self, unit, pdu):
        self.sock.sendall(self.frame(unit, pdu))
        tid, u, answer = self.answer()
        if tid != self.tid or u != unit:
            raise CaseFailed("answer to transaction %d unit %d came back as transaction %d unit %d"
                             % (self.tid, unit, tid, u))
        return answer

    def read(self, unit, addr, count, fc=3):
        pdu = self.request(unit, struct.pack(">BHH", fc, addr, count))
        if pdu[0] == fc | 0x80:
            raise ModbusException(fc, pdu[1])
        if pdu[0] != fc or len(pdu) != 2 + 2 * count or pdu[1] != 2 * count:
            raise CaseFailed("read of %d registers at %d (fc %d): malformed answer %s" % (count, addr, fc, pdu.hex()))
        return list(struct.unpack(">%dH" % count, pdu[2:]))

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    stop = close


def read_export_map(port, unit, fc=3):
    """The registers of the SunSpec map an export unit serves, from SunS at 40000 to the end marker."""
    c = Mbap(port)
    try:
        regs = c.read(unit, BASE, 2, fc)
        check(tuple(regs) == SUNS, "export unit %d: no SunS at %d (%s)" % (unit, BASE, regs))
        addr = BASE + 2
        while True:
            head = c.read(unit, addr, 2, fc)
            regs += head
            if head[0] == 0xFFFF:
                break
            check(len(regs) < 20000, "export unit %d: the chain does not end" % unit)
            length, addr = head[1], addr + 2
            left = length
            while left:
                n = min(125, left)
                regs += c.read(unit, addr, n, fc)
                addr, left = addr + n, left - n
        return regs
    finally:
        c.close()


# ----------------------------------------------------------------------------------------------
# the shared bridge: one server, one gateway with six devices and the export, one subscriber


def bridge_yaml(socket_path, export_port, server_port, max_connections=32, devices=None, idle_timeout=None):
    devices = devices if devices is not None else all_devices()
    lines = ["socket:", "  path: %s" % socket_path, '  mode: "0660"',
             "export:", "  modbus_tcp:", '    listen: "127.0.0.1:%d"' % export_port,
             "    max_connections: %d" % max_connections]
    if idle_timeout:
        lines.append("    idle_timeout: %s" % idle_timeout)
    lines.append("devices:")
    for d in devices:
        lines += ["  - name: %s" % d["name"], '    tcp: "127.0.0.1:%d"' % server_port, "    unit: %d" % d["unit"]]
        if d.get("profile"):
            lines.append("    profile: %s" % d["profile"])     # relative to the working directory (ROOT)
        lines += ["    interval: %s" % INTERVAL, "    timeout: %s" % DEVICE_TIMEOUT]
    return "\n".join(lines) + "\n"


def all_devices():
    out = [{"name": n, "profile": p, "capture": os.path.join(VENDOR, c), "unit": u, "export_unit": k + 1}
           for k, (n, p, c, u) in enumerate(PROFILE_DEVICES)]
    out.append({"name": SUNSPEC_DEVICE[0], "profile": None, "capture": SUNSPEC_DEVICE[1], "unit": SUNSPEC_DEVICE[2],
                "export_unit": len(PROFILE_DEVICES) + 1})
    return out


class Bridge(object):
    """Server + gateway (+ export) + subscriber, started once and shared by the cases."""

    def __init__(self, ctx, tag, devices=None, max_connections=32, idle_timeout=None):
        self.ctx, self.tag = ctx, tag
        self.idle_timeout = idle_timeout
        self.devices = devices if devices is not None else all_devices()
        self.max_connections = max_connections
        self.procs = lv.Procs()
        self.server = self.gateway = self.sub = None
        self.export_port = None
        self.given_up = set()       # devices that did not come online once: not waited for again

    def start(self):
        try:
            self.server = self.procs.add(lv.CaptureServer(self.ctx.workdir, self.tag,
                                                          [d["capture"] for d in self.devices],
                                                          [d["unit"] for d in self.devices])).start()
            for attempt in range(3):          # a free port can be taken between probe and bind
                self.export_port = lv.fi.free_port()
                path = self.ctx.sock(self.tag)
                text = bridge_yaml(path, self.export_port, self.server.port, self.max_connections, self.devices,
                                   self.idle_timeout)
                self.gateway = self.procs.add(lv.Gateway(self.ctx.binary, self.ctx.workdir, self.tag, text, path))
                self.gateway.start()
                if lv.wait_until(lambda: self.export_listening() or not self.gateway.alive(), 10):
                    if self.gateway.alive():
                        break
                self.gateway.stop()
                if attempt == 2:
                    raise CaseFailed("the export did not listen on 127.0.0.1:%d within 10 s (gateway %s): %s"
                                     % (self.export_port, "running" if self.gateway.alive() else
                                        "exited %s" % self.gateway.proc.poll(), self.gateway.log_tail(600)))
            self.sub = self.procs.add(lv.Subscriber(self.gateway.socket_path))
            return self
        except BaseException:
            self.procs.stop_all()
            raise

    def export_listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.export_port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def stop(self):
        self.procs.stop_all()

    def device(self, name):
        return next(d for d in self.devices if d["name"] == name)

    def wait_online(self, names, timeout=ONLINE_TIMEOUT, since=None):
        """Every named device online with a reading of every model its status lists; returns the
        devices that are not, with their state and last error."""
        def ready(s, n):
            st = s.statuses(n)
            if not st or st[-1][1].get("state") != "online":
                return False
            return len(s.latest(n, since)) >= len(st[-1][1].get("models") or [1])

        waited = [n for n in names if n not in self.given_up]
        self.sub.wait(lambda s: all(ready(s, n) for n in waited) or s.eof or not self.gateway.alive(), timeout)
        check(self.gateway.alive(), "the gateway exited (status %s): %s" % (self.gateway.proc.poll(),
                                                                            self.gateway.log_tail()))
        with self.sub.cond:
            bad = {}
            for n in names:
                if not ready(self.sub, n):
                    st = self.sub.statuses(n)
                    last = st[-1][1] if st else {}
                    bad[n] = "%s (%s)" % (last.get("state", "no status"), last.get("error"))
        self.given_up |= set(bad)
        return bad

    def status(self, name):
        st = self.sub.statuses(name)
        return st[-1][1] if st else {}


class Ctx(object):
    def __init__(self, binary, workdir, sockdir):
        self.binary, self.workdir, self.sockdir = binary, workdir, sockdir
        self.procs = lv.Procs()
        self.bridge = None
        self.bridge_error = None
        self.figures = {}
        self.maps = {}              # export unit -> registers read in export-pysunspec2

    def sock(self, tag):
        return os.path.join(self.sockdir, "%s.sock" % tag)

    def shared(self):
        if self.bridge_error:
            raise CaseFailed("the shared bridge did not start: %s" % self.bridge_error)
        if self.bridge is None:
            try:
                self.bridge = Bridge(self, "bridge").start()
            except CaseFailed as exc:
                self.bridge_error = str(exc).split("\n")[0]
                raise
        return self.bridge

    def stop_all(self):
        self.procs.stop_all()
        if self.bridge:
            self.bridge.stop()


# ----------------------------------------------------------------------------------------------
# the cases


def case_profiles_live(ctx):
    br = ctx.shared()
    expected = expected_values()
    names = [n for n, _p, _c, _u in PROFILE_DEVICES]
    bad = br.wait_online(names)
    # one more poll after every device is online, so live readings (not only the snapshot) are compared
    t_live = time.monotonic()
    br.sub.wait(lambda s: all(len(s.readings(n, t_live)) > 0 for n in names if n not in bad), 5)
    failures, lines = [], []
    for name, profile, capture, unit in PROFILE_DEVICES:
        if name in bad:
            failures.append("%s (unit %d, %s): not online with readings after %.0f s: %s"
                            % (name, unit, profile, ONLINE_TIMEOUT, bad[name]))
            continue
        dev = br.device(name)
        latest = br.sub.latest(name)
        readings = [r for _t, r in br.sub.readings(name)]
        problems = []
        wrong_source = [r for r in readings if r.get("source") != "profile:%s" % name]
        if wrong_source:
            problems.append("%d of %d readings without source profile:%s (e.g. model %s: source %r)"
                            % (len(wrong_source), len(readings), name, wrong_source[0].get("model"),
                               wrong_source[0].get("source")))
        by_model = {}
        for r in latest.values():
            if r.get("index") == 0:
                by_model[r.get("model")] = r
        # the README's values
        want = expected.get(capture)
        if not want:
            raise SetupError("%s names no expected values for %s" % (VENDOR_README, capture))
        npoints = 0
        for mid, points in want.items():
            rec = by_model.get(mid)
            if rec is None:
                problems.append("no reading of model %d (models read: %s)" % (mid, sorted(by_model)))
                continue
            values = rec.get("values") or {}
            for point, v in points.items():
                npoints += 1
                if point not in values:
                    problems.append("%d.%s is absent, README: %s" % (mid, point, "not available" if v is None else v))
                elif not same_number(values[point], v):
                    problems.append("%d.%s = %s, README: %s" % (mid, point, fi.show(values[point]),
                                                                 "not available" if v is None else v))
        # `decode --profile` of the same capture
        try:
            ref_recs, _lines, _err = fi.gateway_decode(ctx.binary, dev["capture"], ["--profile", os.path.join(ROOT, profile)])
        except fi.StepFailed as exc:
            ref_recs = []
            problems.append("decode --profile failed: %s" % exc)
        ref = {r["addr"]: r for r in ref_recs}
        if ref_recs and sorted(ref) != sorted(latest):
            problems.append("live model addresses %s, decode --profile %s" % (sorted(latest), sorted(ref)))
        diffs = 0
        for addr, rec in sorted(latest.items()):
            r = ref.get(addr)
            if r is None:
                continue
            for f in ("model", "name", "index", "len", "source"):
                if rec.get(f) != r.get(f):
                    problems.append("model at %d: %s live %r, decode %r" % (addr, f, rec.get(f), r.get(f)))
                    diffs += 1
            d = fi.first_diff(rec.get("values"), r.get("values"), "values")
            if d:
                diffs += 1
                problems.append("model %s at %d: %s live %s, decode --profile %s"
                                % (rec.get("model"), addr, d[0], fi.show(d[1]), fi.show(d[2])))
        lines.append("%s: models %s, %d README values %s, live == decode --profile: %s"
                     % (name, br.status(name).get("models"), npoints,
                        "equal" if not any("README" in p for p in problems) else "NOT all equal",
                        "yes" if ref_recs and not diffs else "no"))
        failures += ["%s (unit %d): %s" % (name, unit, p) for p in problems]
    check(not br.sub.bad, "unparsable stream lines: %s" % br.sub.bad[:3])
    if failures:
        raise CaseFailed("%d of %d profile devices fail\n%s" % (
            len({f.split(" ")[0] for f in failures}), len(PROFILE_DEVICES), "\n".join(lines + failures)))
    return "5 profile devices online, every reading source profile:NAME; " + "; ".join(lines)


def case_export_pysunspec2(ctx):
    br = ctx.shared()
    names = [d["name"] for d in br.devices]
    bad = br.wait_online(names)
    failures, lines = [], []
    for d in br.devices:
        name, eu = d["name"], d["export_unit"]
        if name in bad:
            failures.append("%s (export unit %d): the device is not online: %s" % (name, eu, bad[name]))
        try:
            regs = read_export_map(br.export_port, eu)
        except (ModbusException, EOFError, OSError, CaseFailed) as exc:
            failures.append("%s (export unit %d): reading the export's map failed: %s" % (name, eu, exc))
            continue
        ctx.maps[eu] = regs
        dmap = lv.DeviceMap(name, None, regs, lv.chain_models(regs))
        try:
            theirs = lv.pysunspec2_tcp(br.export_port, eu)
        except Exception as exc:
            failures.append("%s (export unit %d): pysunspec2 scan of the export failed: %s: %s"
                            % (name, eu, type(exc).__name__, exc))
            continue
        stats, problems = lv.compare_device(name, dmap, br.sub.latest(name), theirs, br.status(name).get("models"))
        extra = ""
        if d["profile"] is None:
            with open(d["capture"]) as f:
                served = [int(v) & 0xFFFF for v in json.load(f)["blocks"][0]["registers"]]
            extra = ", export map == the device's map: %s" % ("yes" if served == regs else "no")
        lines.append("unit %d %s (%d models, %d registers): %s%s"
                     % (eu, name, len(dmap.models), len(regs), lv.stats_line(stats), extra))
        failures += ["%s (export unit %d): %s" % (name, eu, p) for p in problems]
        failures += lv.mismatch_lines(stats)
    if failures:
        raise CaseFailed("%s\n%s" % (failures[0], "\n".join(lines + failures[1:])))
    return "pysunspec2 scan of export units 1-%d == stream: %s" % (len(br.devices), "; ".join(lines))


MBPOLL_LINE = re.compile(r"^\[(\d+)\]:\s+(-?\d+)\s*$", re.M)


def mbpoll(args, timeout=10):
    r = subprocess.run(["mbpoll"] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    out = r.stdout.decode("utf-8", "replace")
    values = [(int(a), int(v) & 0xFFFF) for a, v in MBPOLL_LINE.findall(out)]
    return r.returncode, out, values


def mbpoll_error(out):
    lines = [ln.strip() for ln in out.splitlines() if "fail" in ln.lower() or "exception" in ln.lower()
             or "illegal" in ln.lower()]
    return lines[-1] if lines else out.strip().splitlines()[-1] if out.strip() else "(no output)"


def case_export_mbpoll(ctx):
    br = ctx.shared()
    units = [2, 6]          # a profile device (sungrow-sh) and the SunSpec device
    names = {d["export_unit"]: d["name"] for d in br.devices}
    bad = br.wait_online([names[u] for u in units])
    port = str(br.export_port)
    failures, lines = [], []
    for u in units:
        if names[u] in bad:
            failures.append("unit %d (%s) is not online: %s" % (u, names[u], bad[names[u]]))
        got = {}
        for t in ("4", "3"):
            cmd = ["-m", "tcp", "-p", port, "-a", str(u), "-t", t, "-r", "40001", "-c", "10", "-1", "127.0.0.1"]
            rc, out, values = mbpoll(cmd)
            got[t] = values
            if rc != 0 or len(values) != 10:
                failures.append("mbpoll %s: exit %d, %d values: %s" % (" ".join(cmd), rc, len(values), mbpoll_error(out)))
                continue
            if [a for a, _v in values] != list(range(40001, 40011)):
                failures.append("mbpoll %s: references %s" % (" ".join(cmd), [a for a, _v in values]))
            regs = [v for _a, v in values]
            if regs[:4] != [21365, 28243, 1, 66]:
                failures.append("mbpoll -a %d -t %s: [40001..40004] = %s, expected 21365 28243 (SunS) 1 66 (model 1)"
                                % (u, t, regs[:4]))
        if got.get("4") and got.get("3") and got["4"] != got["3"]:
            failures.append("unit %d: -t 3 (FC4) %s differs from -t 4 (FC3) %s" % (u, got["3"], got["4"]))
        # writes: one value is FC6 (write single register), two are FC16 (write multiple registers)
        refused = []
        for fc, vals in ((6, ["1234"]), (16, ["1234", "5678"])):
            cmd = ["-m", "tcp", "-p", port, "-a", str(u), "-t", "4", "-r", "40001", "-1", "127.0.0.1"] + vals
            rc, out, _values = mbpoll(cmd)
            err = mbpoll_error(out)
            if rc == 0 or "illegal function" not in out.lower():
                failures.append("mbpoll %s (FC%d): exit %d, '%s'; expected an illegal function exception"
                                % (" ".join(cmd), fc, rc, err))
            else:
                refused.append("FC%d '%s'" % (fc, err))
        after = mbpoll(["-m", "tcp", "-p", port, "-a", str(u), "-t", "4", "-r", "40001", "-c", "2", "-1", "127.0.0.1"])[2]
        if [v for _a, v in after] != [21365, 28243]:
            failures.append("unit %d: after the refused writes [40001..40002] read %s" % (u, after))
        lines.append("unit %d (%s): -t 4 %s, -t 3 %s; writes refused: %s"
                     % (u, names[u], " ".join(str(v) for _a, v in got.get("4", [])[:4]) or "-",
                        "same" if got.get("3") and got.get("3") == got.get("4") else "DIFFERENT",
                        ", ".join(refused) or "no"))
    if failures:
        raise CaseFailed("%s\n%s" % (failures[0], "\n".join(lines + failures[1:])))
    return "; ".join(lines)


def pymodbus_read(port, unit, addr=BASE, count=2):
    """(registers | None, exception code | None, error text, seconds) with pymodbus' client."""
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    t0 = time.monotonic()
    try:
        if not client.connect():
            return None, None, "cannot connect", time.monotonic() - t0
        try:
            rr = client.read_holding_registers(addr, count=count, device_id=unit)
        except Exception as exc:
            return None, None, "%s: %s" % (type(exc).__name__, exc), time.monotonic() - t0
        dt = time.monotonic() - t0
        if rr.isError():
            return None, getattr(rr, "exception_code", None), str(rr), dt
        return list(rr.registers), None, "", dt
    finally:
        client.close()


def case_export_offline(ctx):
    br = ctx.shared()
    units = {d["export_unit"]: d for d in br.devices}
    watched = [2, 6]                      # sungrow-sh (profile) and battery-inverter (SunSpec)
    bad = br.wait_online([units[u]["name"] for u in watched])
    check(not bad, "not online before the kill: %s" % bad)
    before = {}
    for u in watched:
        before[u] = ctx.maps.get(u) or read_export_map(br.export_port, u)
    port = br.server.port
    br.server.kill()
    t_kill = time.monotonic()
    failures, lines = [], []
    # within a few seconds: exception 0x0B for the watched units
    first_0b = {}
    deadline = t_kill + 6
    while time.monotonic() < deadline and len(first_0b) < len(watched):
        for u in watched:
            if u in first_0b:
                continue
            _regs, code, _err, _dt = pymodbus_read(br.export_port, u)
            if code == 0x0B:
                first_0b[u] = time.monotonic() - t_kill
        time.sleep(0.05)
    for u in watched:
        if u not in first_0b:
            regs, code, err, dt = pymodbus_read(br.export_port, u)
            failures.append("unit %d (%s): 6 s after the server was killed, pymodbus read_holding_registers(40000, 2) "
                            "got %s, expected exception 0x0B (gateway target failed to respond); stream state %s"
                            % (u, units[u]["name"], regs if regs is not None else err, br.sub.state(units[u]["name"])))
    # the export keeps answering, promptly, while the devices are away
    slow = []
    c = Mbap(br.export_port)
    try:
        n = 0
        for _ in range(10):
            for u in watched:
                t0 = time.monotonic()
                try:
                    c.read(u, BASE, 125)
                    failures.append("unit %d: a read answered registers while the device is offline" % u)
                except ModbusException as exc:
                    if exc.code != 0x0B:
                        failures.append("unit %d: exception %d while offline, expected 0x0B" % (u, exc.code))
                dt = time.monotonic() - t0
                n += 1
                if dt > 0.1:
                    slow.append("unit %d %.0f ms" % (u, dt * 1000))
        t0 = time.monotonic()
        pdu = c.request(watched[0], bytes([0x2B, 0x0E, 0x01, 0x00]))
        dt_fc = time.monotonic() - t0
        if pdu[:2] != bytes([0xAB, 0x01]):
            failures.append("unknown function 0x2B while offline: answer %s, expected exception 1" % pdu.hex())
    except (EOFError, OSError) as exc:
        failures.append("the export stopped answering while the devices are offline: %s" % exc)
        dt_fc = float("nan")
    finally:
        c.close()
    if slow:
        failures.append("answers over 100 ms while offline: %s" % ", ".join(slow[:5]))
    offline_seen = all(br.sub.state(units[u]["name"]) == "offline" for u in watched)
    lines.append("killed: exception 0x0B after %s; %d reads answered 0x0B on one connection, slowest %s; FC 0x2B "
                 "answered exception 1 in %.1f ms; stream offline: %s"
                 % (", ".join("unit %d %.1f s" % (u, first_0b[u]) for u in sorted(first_0b)) or "never", n,
                    "<100 ms" if not slow else slow[0], dt_fc * 1000, "yes" if offline_seen else "no"))
    # restart on the same port: the values come back
    br.server.port = port
    br.server.start()
    t_up = time.monotonic()
    back = {}
    deadline = t_up + 25
    while time.monotonic() < deadline and len(back) < len(watched):
        for u in watched:
            if u in back:
                continue
            try:
                regs = read_export_map(br.export_port, u)
            except (ModbusException, CaseFailed, EOFError, OSError):
                continue
            if regs == before[u]:
                back[u] = time.monotonic() - t_up
        time.sleep(0.1)
    for u in watched:
        if u not in back:
            try:
                regs = read_export_map(br.export_port, u)
                what = "a map of %d registers, %s the one before" % (len(regs), "equal to" if regs == before[u] else "not")
            except Exception as exc:
                what = str(exc)
            failures.append("unit %d (%s): 25 s after the server restarted, the export gives %s; stream state %s"
                            % (u, units[u]["name"], what, br.sub.state(units[u]["name"])))
    lines.append("restarted: the same maps back after %s"
                 % (", ".join("unit %d %.1f s" % (u, back[u]) for u in sorted(back)) or "never"))
    if failures:
        raise CaseFailed("%s\n%s" % (failures[0], "\n".join(lines + failures[1:])))
    return "; ".join(lines)


def timed_reads(port, unit, n, out, stop=None):
    """n reads of 125 registers at 40000 on one connection; appends latencies (s) or an error text."""
    try:
        c = Mbap(port)
    except OSError as exc:
        out.append("connect: %s" % exc)
        return
    try:
        for _ in range(n):
            if stop is not None and stop.is_set():
                break
            t0 = time.monotonic()
            regs = c.read(unit, BASE, 125)
            out.append(time.monotonic() - t0)
            if tuple(regs[:2]) != SUNS:
                out.append("no SunS in a read: %s" % regs[:4])
    except Exception as exc:
        out.append("%s: %s" % (type(exc).__name__, exc))
    finally:
        c.close()


def closed_by_peer(sock, timeout):
    """True when the peer closes (EOF/reset) within `timeout`; False if it stays open (or answers)."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(1024)
        return not data
    except socket.timeout:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True


def case_export_robust(ctx):
    devices = [d for d in all_devices() if d["name"] in ("sungrow-sh", "battery-inverter")]
    for k, d in enumerate(devices):
        d["export_unit"] = k + 1
    br = Bridge(ctx, "robust", devices, max_connections=4)
    ctx.procs.add(br)
    br.start()
    bad = br.wait_online([d["name"] for d in devices])
    check(not bad, "not online: %s" % bad)
    port = br.export_port
    unit = 2                # battery-inverter
    failures, lines = [], []

    # (a) an unknown function code: exception 1 at once; the connection keeps its framing; a libmodbus
    # client (mbpoll) and a raw client on other connections are served meanwhile
    a = Mbap(port)
    t0 = time.monotonic()
    pdu = a.request(unit, bytes([0x2B, 0x0E, 0x01, 0x00]))
    dt = time.monotonic() - t0
    if pdu[:2] != bytes([0xAB, 0x01]):
        failures.append("FC 0x2B: answer %s, expected ab01 (exception 1)" % pdu.hex())
    if dt >= 0.1:
        failures.append("FC 0x2B: answered after %.0f ms, expected < 100 ms" % (dt * 1000))
    lat_b = []
    tb = threading.Thread(target=timed_reads, args=(port, unit, 20, lat_b))
    tb.start()
    rc, out, values = mbpoll(["-m", "tcp", "-p", str(port), "-a", str(unit), "-t", "4", "-r", "40001", "-c", "4",
                              "-1", "127.0.0.1"])
    tb.join(10)
    if rc != 0 or [v for _a, v in values] != [21365, 28243, 1, 66]:
        failures.append("mbpoll (libmodbus) on another connection after FC 0x2B: exit %d, %s" % (rc, mbpoll_error(out)))
    errs_b = [x for x in lat_b if isinstance(x, str)]
    times_b = [x for x in lat_b if not isinstance(x, str)]
    if errs_b or len(times_b) != 20 or max(times_b) > 0.2:
        failures.append("raw client on another connection after FC 0x2B: %d reads, slowest %.0f ms, errors %s"
                        % (len(times_b), max(times_b or [0]) * 1000, errs_b[:2]))
    # the same connection goes on: the request was framed by its MBAP length (5 = unit + 4 PDU bytes)
    try:
        a.sock.settimeout(1.0)
        regs = a.read(unit, BASE, 4)
        same_conn = "yes" if regs == [21365, 28243, 1, 66] else "no (%s)" % regs
    except Exception as exc:
        same_conn = "no (%s: %s)" % (type(exc).__name__, exc)
    if not same_conn.startswith("yes"):
        failures.append("the connection that sent FC 0x2B (2B 0E 01 00, MBAP length 5) then read 40000..40003: %s"
                        % same_conn)
    a.close()
    lines.append("FC 0x2B -> exception 1 in %.1f ms, the same connection reads on: %s, mbpoll and a raw client on "
                 "other connections served (slowest %.1f ms)" % (dt * 1000, same_conn, max(times_b or [0]) * 1000))

    # (b) a partial frame: 5 bytes of a request, then nothing
    c = Mbap(port)
    full = c.frame(unit, struct.pack(">BHH", 3, BASE, 2))
    c.sock.sendall(full[:5])
    time.sleep(0.2)
    lat_d = []
    td = threading.Thread(target=timed_reads, args=(port, unit, 30, lat_d))
    td.start()
    rc, out, values = mbpoll(["-m", "tcp", "-p", str(port), "-a", str(unit), "-t", "3", "-r", "40001", "-c", "4",
                              "-1", "127.0.0.1"])
    td.join(10)
    if rc != 0 or [v for _a, v in values] != [21365, 28243, 1, 66]:
        failures.append("mbpoll (libmodbus) while another connection holds 5 bytes of a frame: exit %d, %s"
                        % (rc, mbpoll_error(out)))
    errs_d = [x for x in lat_d if isinstance(x, str)]
    times_d = [x for x in lat_d if not isinstance(x, str)]
    if errs_d or len(times_d) != 30 or max(times_d) > 0.2:
        failures.append("raw client while another connection holds 5 bytes of a frame: %d reads, slowest %.0f ms, "
                        "errors %s" % (len(times_d), max(times_d or [0]) * 1000, errs_d[:2]))
    # the rest of the frame, later: a TCP stream may be cut anywhere (information, not a failure when closed)
    try:
        c.sock.sendall(full[5:])
        c.sock.settimeout(1.0)
        _tid, _u, pdu = c.answer()
        completed = "answered %s" % ("SunS" if pdu[:6] == bytes([3, 4, 0x53, 0x75, 0x6E, 0x53]) else pdu.hex())
        if not completed.endswith("SunS"):
            failures.append("the partial frame, completed later: answer %s, expected SunS" % pdu.hex())
    except (EOFError, OSError) as exc:
        completed = "closed by the export (%s)" % exc
    c.close()
    lines.append("5 bytes of a frame held: mbpoll and 30 raw reads served (slowest %.1f ms); completed later: %s"
                 % (max(times_d or [0]) * 1000, completed))

    # (c) more connections than max_connections (4)
    time.sleep(0.3)                   # the export notices the closed connections
    first = []
    try:
        for k in range(4):
            m = Mbap(port)
            first.append(m)
            m.read(unit, BASE, 2)
    except Exception as exc:
        failures.append("connection %d of max_connections 4: %s: %s" % (len(first), type(exc).__name__, exc))
    extra_closed = []
    extras = []
    for k in range(2):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
        except OSError as exc:
            extra_closed.append("refused (%s)" % exc)
            continue
        extras.append(s)
        try:
            s.sendall(struct.pack(">HHHBBHH", 1, 0, 6, unit, 3, BASE, 2))
        except OSError:
            extra_closed.append("closed")
            continue
        extra_closed.append("closed" if closed_by_peer(s, 2.0) else "open")
    if any(x == "open" for x in extra_closed):
        failures.append("connections 5 and 6 (max_connections 4): %s; expected closed by the export" % extra_closed)
    served = 0
    for m in first:
        try:
            if m.read(unit, BASE, 2) == list(SUNS):
                served += 1
        except Exception as exc:
            failures.append("one of the first 4 connections, after the extra ones: %s: %s" % (type(exc).__name__, exc))
    if served != 4:
        failures.append("%d of the first 4 connections served after the extra ones" % served)
    for s in extras:
        s.close()
    # a slot freed is a slot served
    if first:
        first.pop().close()
        time.sleep(0.3)
        try:
            m = Mbap(port)
            first.append(m)
            freed = "yes" if m.read(unit, BASE, 2) == list(SUNS) else "no"
        except Exception as exc:
            freed = "no (%s)" % exc
        if freed != "yes":
            failures.append("a new connection after one of the 4 closed: %s" % freed)
    else:
        freed = "-"
    for m in first:
        m.close()
    lines.append("max_connections 4: the first 4 served (%d/4), connections 5 and 6 %s, a freed slot served: %s"
                 % (served, "/".join(extra_closed), freed))
    check(br.gateway.alive(), "the gateway exited: %s" % br.gateway.log_tail())
    if failures:
        raise CaseFailed("%s\n%s" % (failures[0], "\n".join(lines + failures[1:])))
    return "; ".join(lines)


def case_export_idle(ctx, idle_timeout=3.0):
    devices = [d for d in all_devices() if d["name"] == "battery-inverter"]
    devices[0]["export_unit"] = 1
    br = Bridge(ctx, "idle", devices, max_connections=4, idle_timeout="%gs" % idle_timeout)
    ctx.procs.add(br)
    br.start()
    bad = br.wait_online([d["name"] for d in devices])
    check(not bad, "not online: %s" % bad)
    port, unit = br.export_port, 1
    failures, lines = [], []

    # (a) 4 connections that never send fill max_connections; mbpoll (libmodbus) connects every 100 ms
    opened = time.monotonic()
    idle = [socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(4)]
    time.sleep(0.2)                   # the export has accepted them
    t0 = time.monotonic()
    refused, served_after = 0, None
    while time.monotonic() - t0 < idle_timeout + 2:
        rc, out, values = mbpoll(["-m", "tcp", "-p", str(port), "-a", str(unit), "-t", "4", "-r", "40001", "-c", "2",
                                  "-o", "0.5", "-1", "127.0.0.1"])
        if rc == 0 and tuple(v for _a, v in values) == SUNS:
            served_after = time.monotonic() - t0
            break
        refused += 1
        time.sleep(0.1)
    if served_after is None:
        failures.append("mbpoll not served within %.1f s of the cap being held by idle connections (%d refused)"
                        % (idle_timeout + 2, refused))
    elif served_after > 1.5:
        failures.append("mbpoll served after %.2f s (%d refused), expected within about 1 s (the idle longest makes "
                        "room)" % (served_after, refused))
    lines.append("max_connections 4 held by idle connections: mbpoll served after %s, %d attempts refused"
                 % ("%.2f s" % served_after if served_after is not None else "never", refused))

    # (b) the idle connections are closed: one to make room, the others at idle_timeout
    closed_at = []
    for s in idle:
        left = opened + idle_timeout + 1.5 - time.monotonic()
        closed_at.append(time.monotonic() - opened if left > 0 and closed_by_peer(s, left) else None)
        s.close()
    late = [t for t in closed_at if t is None]
    early = [t for t in closed_at if t is not None and t < 0.9]
    if late or early:
        failures.append("idle connections closed at %s s after opening, expected one at about 1 s and the others at "
                        "about %g s" % (["-" if t is None else "%.2f" % t for t in closed_at], idle_timeout))
    lines.append("idle connections closed after %s s (idle_timeout %g s)"
                 % ("/".join("-" if t is None else "%.2f" % t for t in sorted(closed_at, key=lambda t: t or 1e9)),
                    idle_timeout))

    # (c) a read that runs past register 65535: exception 2 (Modbus application protocol 6.3), not 3
    c = Mbap(port)
    answers = []
    for addr, count in ((65535, 2), (65500, 100)):
        try:
            c.read(unit, addr, count)
            answers.append("registers")
        except ModbusException as exc:
            answers.append(exc.code)
    c.close()
    if answers != [2, 2]:
        failures.append("reads of 2 at 65535 and 100 at 65500: %s, expected exception 2" % answers)
    rc, out, _values = mbpoll(["-m", "tcp", "-p", str(port), "-a", str(unit), "-t", "4", "-r", "65536", "-c", "2",
                               "-1", "127.0.0.1"])
    if rc == 0 or "illegal data address" not in out.lower():
        failures.append("mbpoll -r 65536 -c 2: exit %d, %s; expected illegal data address" % (rc, mbpoll_error(out)))
    lines.append("reads past 65535: exceptions %s, mbpoll: %s" % (answers, mbpoll_error(out)))
    check(br.gateway.alive(), "the gateway exited: %s" % br.gateway.log_tail())
    log = br.gateway.log_tail(4000)
    if "idle connection closed" not in log or "closed to admit a new client" not in log:
        failures.append("the export's closes are not in the log: %s" % log[-600:])
    if failures:
        raise CaseFailed("%s\n%s" % (failures[0], "\n".join(lines + failures[1:])))
    return "; ".join(lines)


# ----------------------------------------------------------------------------------------------
# bench


def process_cpu(pid):
    """User + system CPU seconds of a process (/proc/PID/stat)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def bench_client(port, unit, until, result):
    """Reads 125 registers at 40000 as fast as it can until `until`; result: [reads, errors, latencies]."""
    try:
        c = Mbap(port, timeout=2)
    except OSError as exc:
        result[1].append("connect: %s" % exc)
        return
    req = struct.pack(">BHH", 3, BASE, 125)
    try:
        while time.monotonic() < until:
            t0 = time.monotonic()
            pdu = c.request(unit, req)
            result[2].append(time.monotonic() - t0)
            if len(pdu) == 252 and pdu[0] == 3 and pdu[2:6] == b"SunS":
                result[0] += 1
            elif len(result[1]) < 5:
                result[1].append("answer %s" % pdu[:8].hex())
    except Exception as exc:
        result[1].append("%s: %s" % (type(exc).__name__, exc))
    finally:
        c.close()


def case_bench(ctx, clients=10, seconds=5.0):
    br = Bridge(ctx, "bench")
    ctx.procs.add(br)
    br.start()
    names = [d["name"] for d in br.devices]
    bad = br.wait_online(names, timeout=8)
    online = [d for d in br.devices if d["name"] not in bad]
    check(online, "no device online: %s" % bad)
    units = [d["export_unit"] for d in online]
    time.sleep(1.0)
    t_start = time.monotonic()
    until = t_start + seconds
    results = [[0, [], []] for _ in range(clients)]
    threads = [threading.Thread(target=bench_client, args=(br.export_port, units[k % len(units)], until, results[k]))
               for k in range(clients)]
    cpu0 = os.times()
    gw_cpu0 = process_cpu(br.gateway.proc.pid)
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 10)
    t_end = time.monotonic()
    elapsed = t_end - t_start
    gw_cpu = process_cpu(br.gateway.proc.pid) - gw_cpu0
    reads = sum(r[0] for r in results)
    errors = [e for r in results for e in r[1]]
    lat = sorted(x for r in results for x in r[2])
    # polling during the run: readings of each online device's 802 (every profile maps it; the
    # SunSpec device has one) published while the clients were reading
    expected_polls = seconds / 0.5
    polls = {}
    offline = []
    with br.sub.cond:
        for d in online:
            polls[d["name"]] = len([1 for t, r in br.sub.readings(d["name"]) if t_start <= t <= t_end and r.get("model") == 802])
            if any(t_start <= t <= t_end and r.get("state") != "online" for t, r in br.sub.statuses(d["name"])):
                offline.append(d["name"])
    went_on = all(n >= 0.5 * expected_polls for n in polls.values()) and not offline
    rate = reads / elapsed
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0.0
    print("export: %d reads/s served to %d clients (125 registers each), polling went on: %s"
          % (round(rate), clients, "yes" if went_on else "no"), flush=True)
    print(json.dumps({"bench": "export", "clients": clients, "registers": 125, "seconds": round(elapsed, 3),
                      "reads": reads, "reads_per_s": round(rate), "errors": len(errors),
                      "latency_ms_p50": round(p(0.5), 3), "latency_ms_p99": round(p(0.99), 3),
                      "units": units, "polls_802_during": polls, "polls_expected": expected_polls,
                      "offline_during": offline, "polling_went_on": went_on,
                      "not_online": sorted(bad), "gateway_cpu_s": round(gw_cpu, 2),
                      "client_cpu_s": round((os.times()[0] - cpu0[0]) + (os.times()[1] - cpu0[1]), 2),
                      "cores": os.cpu_count()}), flush=True)
    ctx.figures["export"] = rate
    problems = []
    if errors:
        problems.append("client errors: %s" % errors[:3])
    if not went_on:
        problems.append("polling did not go on: 802 readings per device %s (expected about %.0f), offline %s"
                        % (polls, expected_polls, offline))
    if problems:
        raise CaseFailed("%d reads/s; %s" % (round(rate), "; ".join(problems)))
    return ("%d reads/s to %d clients (p50 %.2f ms, p99 %.2f ms; gateway %.0f%% of a core, clients %.0f%%), polling "
            "went on (802 readings per device in %.0f s: %s)%s"
            % (round(rate), clients, p(0.5), p(0.99), 100 * gw_cpu / elapsed,
               100 * ((os.times()[0] - cpu0[0]) + (os.times()[1] - cpu0[1])) / elapsed, seconds,
               ", ".join("%d" % n for n in polls.values()),
               "; not online (not read): %s" % ", ".join(sorted(bad)) if bad else ""))


CASES = collections.OrderedDict([
    ("profiles-live", case_profiles_live),
    ("export-pysunspec2", case_export_pysunspec2),
    ("export-mbpoll", case_export_mbpoll),
    ("export-offline", case_export_offline),
    ("export-robust", case_export_robust),
    ("export-idle", case_export_idle),
    ("bench", case_bench),
])
DEFAULT_CASES = [c for c in CASES if c != "bench"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gateway", required=True, help="path of the sunspec-gateway binary")
    ap.add_argument("--cases", help="comma-separated: %s (default: all but bench)" % ", ".join(CASES))
    ap.add_argument("--bench", action="store_true", help="run the export throughput bench (alone unless --cases)")
    ap.add_argument("--workdir", help="keep configs and logs here (default: a temp dir, removed on success)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    lv.VERBOSE = args.verbose

    if args.cases:
        names = [c.strip() for c in args.cases.split(",") if c.strip()]
        if args.bench and "bench" not in names:
            names.append("bench")
    else:
        names = ["bench"] if args.bench else list(DEFAULT_CASES)
    unknown = [c for c in names if c not in CASES]
    if unknown:
        sys.stderr.write("unknown cases: %s (known: %s)\n" % (", ".join(unknown), ", ".join(CASES)))
        return 2
    if shutil.which("mbpoll") is None and any(c in ("export-mbpoll", "export-robust", "export-idle") for c in names):
        sys.stderr.write("bridge_interop.py: mbpoll not found on PATH (make deps)\n")
        return 2
    binary = os.path.abspath(args.gateway)
    if not fi.wait_for_binary(binary):
        sys.stderr.write("bridge_interop.py: gateway binary not found at %s (build it first)\n" % binary)
        return 2
    try:
        expected_values()
    except (SetupError, OSError) as exc:
        sys.stderr.write("bridge_interop.py: %s\n" % exc)
        return 2
    workdir = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="sunspec-bridge-"))
    os.makedirs(workdir, exist_ok=True)
    sockdir = tempfile.mkdtemp(prefix="sgb-")      # short: a socket path has at most 107 bytes
    os.chdir(ROOT)          # the configs name the profiles relative to the working directory
    ctx = Ctx(binary, workdir, sockdir)

    def cleanup():
        ctx.stop_all()
        shutil.rmtree(sockdir, ignore_errors=True)

    return lv.run_cases("bridge_interop.py", CASES, names, ctx, workdir, keep=bool(args.workdir), width=18, cleanup=cleanup)


if __name__ == "__main__":
    sys.exit(main())
