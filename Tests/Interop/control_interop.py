#!/usr/bin/env python3
"""Interop check of control: setpoints written by the real gateway to writable pymodbus devices.

The devices are Tests/Interop/control_device.py (pymodbus 3.16's server over SimDevice blocks that
take FC6/FC16 writes; behaviours switched by the test: apply, acknowledge but ignore, exception,
drop, lost reply, delay, silent, read-only registers; every request it gets is an event here). The
real `sunspec-gateway run` polls them and takes control requests on its control socket (from
`sunspec-gateway control` and from raw NDJSON lines) and through its SunSpec export (from mbpoll and
pysunspec2's Modbus TCP client). pysunspec2 is the independent encoder of the registers expected on
the device. Cases (docs/control.md is the spec; each result is produced on purpose, the device's
registers are checked after each, and nothing may reach the device for a refusal):

  start            every device online (TCP: bess, bess-fc6, huawei (profile), other; RTU: bess-rtu, rtu-other)
  cli-forms        the command lines docs/control.md shows (`control --socket PATH set ...`), a negative value
  applied          sets in engineering units: uint16 sf 1, sf -2, bitfield, enum by symbol and number, a
                   group point (803.string[1]); the device got pysunspec2's encoding, read back before the answer;
                   write_function 6 with settle 300ms on bess-fc6
  get-capabilities get (read from the device now) and capabilities (limits, sf, last values)
  release          the revert value written now
  refusals         not_allowed, unknown_device, unknown_point, out_of_range, not_representable,
                   precondition (sf not implemented), bad_request: exit status each, nothing written
  scale-factor     the device's sf changed (0x8000 -> -2): the next set uses it (signed int16)
  rate-limited     a second write within min_interval
  device-answers   device_exception (exception 4; a read-only register: 2), not_applied (acknowledged,
                   ignored; FC6 and FC16), a lost reply (applied, found by the read-back, never retried),
                   timeout (a silent device: one write, never retried), offline (the silent device once
                   offline, and a device never online)
  busy             12 concurrent sets while the device answers writes late: busy past 8 queued
  vendor           a profile device (Huawei LUNA2000) written through the inverse of its transform
  ttl              set with ttl 2s: the revert reaches the device after 2 s (SunSpec and profile device);
                   a set without ttl cancels a running one
  export-mbpoll    mbpoll FC6/FC16 writes through the export (1-based references), answered after the
                   read-back; exceptions 1, 2, 3, 4, 6, 0x0B for the refusals; a multi-point FC16 checked whole
  export-pysunspec2 pysunspec2's SunSpecModbusClientDeviceTCP writes through the export (SunSpec and profile
                   device, the export's scale factor translated); refusals as exceptions 2 and 3
  latency          sets on TCP and on the RTU pair (request to answer), while the other devices'
                   polling rate is measured in the same run
  heartbeat        802.CtrlHb incremented and written every second; a failed heartbeat is audited
  sigterm          SIGTERM with live ttls: the reverts reach the devices before the gateway exits 0
  audit            one outcome line per request (fields of docs/control.md, client uid/pid or export peer),
                   each write's intent line ("result":"pending", the same registers) before it, mode 0640,
                   the outcomes on the readings stream
  audit-unwritable a gateway whose audit cannot be written (/dev/full): the first write's intent line fails,
                   nothing written; the requests after it refused

    control_interop.py --gateway PATH [--cases a,b,...] [--workdir DIR] [-v]

Exit status: 0 when every case passes, 1 when one fails, 2 on a setup error (no pysunspec2, socat,
mbpoll or binary). One PASS/FAIL line per case with its figures, then the summary line.
"""

import argparse
import collections
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

try:
    import live_interop as lv
    from live_interop import CaseFailed, check
    fi = lv.fi
    import sunspec2.device as ss_device
    import sunspec2.modbus.client as ss_client
except ImportError as exc:  # pragma: no cover - setup error
    sys.stderr.write("control_interop.py: pysunspec2 is not importable from %s (%s)\n"
                     "install Tests/Interop/requirements.txt into this Python\n" % (sys.executable, exc))
    sys.exit(2)

DEVICE = os.path.join(HERE, "control_device.py")
FIXTURE = os.path.join(ROOT, "Fixtures", "battery-inverter.json")
HUAWEI = os.path.join(ROOT, "Fixtures", "vendor", "huawei-luna2000.json")
HUAWEI_PROFILE = os.path.join(ROOT, "Profiles", "huawei-luna2000.yaml")
BASE = 40000
M124, M802, M803 = 40277, 40312, 40376       # model ID registers in the fixture
WCHAMAX = 40279                               # 124.WChaMax, WChaMax_SF = 1 at 40295
CTRLHB = 40331                                # 802.CtrlHb (the heartbeat)
CHAGRISET = 40294                             # 124.ChaGriSet: read-only on the device (exception 2)
INOUTWRTE_SF = 40302                          # 124.InOutWRte_SF: 0x8000 (not implemented) at first
H_SOCRSVMIN, H_WCHAMAX, H_STORCTL = 47102, 47075, 47100    # Huawei registers (profile)
EXIT = {"applied": 0, "ok": 0, "not_applied": 1, "timeout": 2, "device_exception": 3, "offline": 4, "busy": 5,
        "rate_limited": 6, "precondition": 7, "out_of_range": 8, "not_representable": 9, "not_allowed": 10,
        "unknown_point": 11, "unknown_device": 12, "bad_request": 64}
INTERVAL = "500ms"
DEVICE_TIMEOUT = "500ms"
TTL = 2.0
VERBOSE = False


def log(msg):
    if VERBOSE:
        sys.stderr.write("  [%.3f] %s\n" % (time.monotonic() % 1000, msg))


# ----------------------------------------------------------------------------------------------
# the writable device


class Device(object):
    """control_device.py serving captures as units (TCP or RTU), its events collected here."""

    def __init__(self, workdir, tag, captures, units, rtu=None, readonly=()):
        self.workdir, self.tag = workdir, tag
        self.captures, self.units, self.rtu, self.readonly = list(captures), list(units), rtu, list(readonly)
        self.port = None
        self.proc = None
        self.cond = threading.Condition()
        self.events = []             # (request events) dicts with "t"
        self.replies = {}
        self.next_id = 0
        self.listening = None
        self.err_path = os.path.join(workdir, "%s.device.log" % tag)
        self.thread = None

    def start(self):
        for _attempt in range(1 if self.rtu else 3):
            cmd = [sys.executable, DEVICE] + self.captures
            for u in self.units:
                cmd += ["--unit", str(u)]
            for r in self.readonly:
                cmd += ["--readonly", r]
            if self.rtu:
                # A pty keeps no parity bit (see README): the device's end is opened 8N1.
                cmd += ["--rtu", self.rtu, "--parity", "N"]
            else:
                self.port = fi.free_port()
                cmd += ["--port", str(self.port)]
            with open(self.err_path, "ab") as errf:
                self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errf,
                                             cwd=ROOT, start_new_session=True)
            self.listening = None
            self.thread = threading.Thread(target=self._read, daemon=True)
            self.thread.start()
            with self.cond:
                self.cond.wait_for(lambda: self.listening is not None or self.proc.poll() is not None, lv.START_TIMEOUT)
            if self.listening:
                return self
            self.stop()
        raise CaseFailed("control_device.py (%s) did not start: %s" % (self.tag, lv.tail(self.err_path, 600)))

    def _read(self):
        for line in self.proc.stdout:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            with self.cond:
                if "listening" in obj:
                    self.listening = obj["listening"]
                elif "reply" in obj:
                    self.replies[obj["reply"]] = obj
                elif "ev" in obj:
                    self.events.append(obj)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def command(self, **cmd):
        with self.cond:
            self.next_id += 1
            cid = self.next_id
        cmd["id"] = cid
        try:
            self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
            self.proc.stdin.flush()
        except OSError as exc:
            raise CaseFailed("device %s: control channel closed (%s)" % (self.tag, exc))
        with self.cond:
            ok = self.cond.wait_for(lambda: cid in self.replies or self.proc.poll() is not None, 10)
            reply = self.replies.pop(cid, None)
        check(ok and reply is not None, "device %s: no reply to %s" % (self.tag, cmd))
        check("error" not in reply, "device %s: %s -> %s" % (self.tag, cmd, reply.get("error")))
        return reply

    def behave(self, unit, mode, addrs=None, **params):
        self.command(cmd="behave", unit=unit, mode=mode, addrs=addrs, **params)

    def clear(self, unit):
        self.command(cmd="clear", unit=unit)

    def get(self, unit, addr, count=1):
        return self.command(cmd="get", unit=unit, addr=addr, count=count)["registers"]

    def put(self, unit, addr, values):
        self.command(cmd="put", unit=unit, addr=addr, values=values)

    def sync(self):
        """Every event of a request the device handled before now has been read (events and replies
        share its stdout, in order)."""
        self.get(self.units[0], self._first_addr())

    def _first_addr(self):
        return BASE if self.captures[0] != HUAWEI else H_SOCRSVMIN

    def writes(self, unit=None, since=0.0, until=None, exclude=(CTRLHB,), addr=None):
        with self.cond:
            return [e for e in self.events if e["ev"] == "write" and (unit is None or e["unit"] == unit)
                    and e["t"] >= since and (until is None or e["t"] <= until) and e["addr"] not in exclude
                    and (addr is None or e["addr"] == addr)]

    def reads(self, unit=None, since=0.0, until=None):
        with self.cond:
            return [e for e in self.events if e["ev"] == "read" and (unit is None or e["unit"] == unit)
                    and e["t"] >= since and (until is None or e["t"] <= until)]

    def wait_write(self, pred, timeout):
        """The first write event for which pred(event) holds, waiting up to timeout; None if none."""
        with self.cond:
            found = []

            def ready():
                for e in self.events:
                    if e["ev"] == "write" and pred(e):
                        found.append(e)
                        return True
                return self.proc.poll() is not None

            self.cond.wait_for(ready, timeout)
            return found[0] if found else None

    def stop(self):
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        lv.stop_popen(self.proc)
        if self.thread:
            self.thread.join(timeout=2)

    def __repr__(self):
        return "device %s" % self.tag


# ----------------------------------------------------------------------------------------------
# control clients: the raw socket and `sunspec-gateway control`


class ControlConn(object):
    """One connection to the control socket: request(dict or raw text) -> (answer dict, seconds)."""

    def __init__(self, path, timeout=30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send(self, req):
        line = req if isinstance(req, str) else json.dumps(req)
        self.sock.sendall(line.encode() + b"\n")

    def answer(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise CaseFailed("the control socket closed the connection (read so far: %r)" % self.buf[:200])
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        try:
            return json.loads(line, parse_float=Decimal)
        except ValueError:
            raise CaseFailed("the control socket answered a line that is not JSON: %r" % line[:300])

    def request(self, req):
        t0 = time.monotonic()
        self.send(req)
        ans = self.answer()
        return ans, time.monotonic() - t0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    stop = close


def cli(ctx, *args, ttl=None):
    """`sunspec-gateway control --socket S ARGS`: (exit status, answer dict | None, stderr, pid, seconds)."""
    args = [str(a) for a in args]
    cmd = [ctx.binary, "control"] + args[:1] + ["--socket", ctx.csock]
    if ttl:
        cmd += ["--ttl", ttl]
    # a negative value would be taken for an option: positionals after "--"
    cmd += (["--"] if any(a.startswith("-") for a in args[1:]) else []) + args[1:]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    out, err = p.communicate(timeout=60)
    dt = time.monotonic() - t0
    text = out.decode("utf-8", "replace").strip()
    try:
        ans = json.loads(text.splitlines()[-1], parse_float=Decimal) if text else None
    except ValueError:
        ans = None
    return p.returncode, ans, err.decode("utf-8", "replace").strip(), p.pid, dt


# ----------------------------------------------------------------------------------------------
# pysunspec2 as the independent encoder


def ps_model(regs, mid, addr):
    """A pysunspec2 Model of one model instance's registers (from its ID register)."""
    data = b"".join(struct.pack(">H", r) for r in regs)
    m = ss_device.Model(model_id=mid, model_addr=addr, model_len=regs[1], data=data)
    m.set_mb(data)
    return m


def ps_point(model, path):
    """pysunspec2's point for a path below the model ("WChaMax", "string[1].StrSetEna")."""
    node = model
    parts = path.split(".")
    for part in parts[:-1]:
        name, _, idx = part.partition("[")
        g = node.groups[name]
        node = g[int(idx.rstrip("]"))] if idx else g
    return node.points[parts[-1]]


def ps_encode(dev, unit, mid, addr, path, value):
    """(address, registers) pysunspec2 writes for `value` (engineering units; an enum symbol by its
    value) of the point, from the device's registers as they are now."""
    length = dev.get(unit, addr + 1)[0]
    regs = dev.get(unit, addr, length + 2)
    m = ps_model(regs, mid, addr)
    p = ps_point(m, path)
    if isinstance(value, str):
        sym = {s["name"]: s["value"] for s in p.pdef.get("symbols", [])}
        p.value = sym[value]
    elif p.pdef.get("sf"):
        p.cvalue = value
    else:
        p.value = int(value)
    data = p.info.to_data(p.value, int(p.len) * 2)
    words = list(struct.unpack(">%dH" % p.len, data))
    return addr + p.offset, words


def ps_point_addr(dev, unit, mid, addr, path):
    length = dev.get(unit, addr + 1)[0]
    m = ps_model(dev.get(unit, addr, length + 2), mid, addr)
    p = ps_point(m, path)
    return addr + p.offset, int(p.len)


# ----------------------------------------------------------------------------------------------
# the shared system: two devices (TCP, RTU), one gateway with the control socket and the export


def gateway_yaml(ctx, tcp_port, rtu_line, export_port, audit_path, gone_port):
    t = "127.0.0.1:%d" % tcp_port
    lines = [
        "socket:", "  path: %s" % ctx.rsock, '  mode: "0660"',
        "control:", "  socket:", "    path: %s" % ctx.csock, '    mode: "0600"',
        "  audit: %s" % audit_path, "  max_ttl: 60s",
        "export:", "  modbus_tcp:", '    listen: "127.0.0.1:%d"' % export_port,
        "devices:",
        # the SunSpec battery inverter: FC16, no settle, the heartbeat, writes through the export (unit 1)
        "  - name: bess", '    tcp: "%s"' % t, "    unit: 1", "    interval: %s" % INTERVAL,
        "    timeout: %s" % DEVICE_TIMEOUT, "    export_unit: 1",
        "    control:", "      allow:",
        '        "124.WChaMax": {min: 0, max: 50000, revert: 50000}',
        '        "124.StorCtl_Mod": {}',
        '        "124.VAChaMax": {min: 0, max: 50000}',
        '        "124.MinRsvPct": {}',
        '        "124.OutWRte": {min: -100, max: 100, revert: 0}',
        '        "124.InOutWRte_WinTms": {min_interval: 5s}',
        '        "124.InOutWRte_RvrtTms": {min_interval: 5s}',
        '        "124.ChaGriSet": {}',
        '        "802.SetOp": {values: [CONNECT, DISCONNECT]}',
        '        "803.string[1].StrSetEna": {}',
        '        "803.string[5].StrSetEna": {}',
        "      heartbeat: 802.CtrlHb", "      export: true",
        # a copy that takes single-register writes only, read back after 300 ms (export unit 2)
        "  - name: bess-fc6", '    tcp: "%s"' % t, "    unit: 2", "    interval: %s" % INTERVAL,
        "    timeout: %s" % DEVICE_TIMEOUT, "    export_unit: 2",
        "    control:", "      allow:",
        '        "124.WChaMax": {min: 0, max: 50000, revert: 50000}',
        "      write_function: 6", "      settle: 300ms",
        # the Huawei LUNA2000 through its profile (export unit 3)
        "  - name: huawei", '    tcp: "%s"' % t, "    unit: 3", "    profile: %s" % HUAWEI_PROFILE,
        "    interval: %s" % INTERVAL, "    timeout: %s" % DEVICE_TIMEOUT, "    export_unit: 3",
        "    control:", "      allow:",
        '        "802.SoCRsvMin": {min: 0, max: 100, revert: 15}',
        '        "124.WChaMax": {revert: 4000}',
        '        "124.StorCtl_Mod": {}',
        "      export: true",
        # polled, never controlled (export unit 4)
        "  - name: other", '    tcp: "%s"' % t, "    unit: 4", "    interval: %s" % INTERVAL,
        "    timeout: %s" % DEVICE_TIMEOUT, "    export_unit: 4",
        # never online: nothing listens there (export unit 5)
        "  - name: gone", '    tcp: "127.0.0.1:%d"' % gone_port, "    unit: 1", "    interval: %s" % INTERVAL,
        "    timeout: %s" % DEVICE_TIMEOUT, "    export_unit: 5",
        "    control:", "      allow:", '        "124.WChaMax": {min: 0, max: 50000, revert: 50000}',
        "      export: true",
        # the RTU line: a controlled device and a polled one on the same pty (export units 6, 7)
        "  - name: bess-rtu", "    rtu: {port: %s, baud: 19200, parity: E, data_bits: 8, stop_bits: 1}" % rtu_line,
        "    unit: 1", "    interval: 1s", "    timeout: 1s", "    export_unit: 6",
        "    control:", "      allow:", '        "124.WChaMax": {min: 0, max: 50000, revert: 50000}',
        "  - name: rtu-other", "    rtu: {port: %s, baud: 19200, parity: E, data_bits: 8, stop_bits: 1}" % rtu_line,
        "    unit: 2", "    interval: 1s", "    timeout: 1s", "    export_unit: 7",
    ]
    return "\n".join(lines) + "\n"


class System(object):
    """The devices, the gateway and a subscriber, shared by the cases (started by the first)."""

    ONLINE = ("bess", "bess-fc6", "huawei", "other", "bess-rtu", "rtu-other")

    def __init__(self, ctx):
        self.ctx = ctx
        self.procs = lv.Procs()
        self.tcp = self.rtu = self.gateway = self.sub = None
        self.export_port = None
        self.audit_path = os.path.join(ctx.workdir, "audit.jsonl")
        self.sent = []              # what the suite sent: dicts (id, via, client pid, device, point, result)
        self.conn = None

    def start(self):
        ctx = self.ctx
        try:
            self.tcp = self.procs.add(Device(ctx.workdir, "tcp", [FIXTURE, FIXTURE, HUAWEI, FIXTURE], [1, 2, 3, 4],
                                             readonly=["1:%d" % CHAGRISET])).start()
            pty = self.procs.add(lv.Socat(ctx.workdir, "rtu")).start()
            self.rtu = self.procs.add(Device(ctx.workdir, "rtu", [FIXTURE, FIXTURE], [1, 2], rtu=pty.ends[0])).start()
            gone_port = fi.free_port()
            for attempt in range(3):
                self.export_port = fi.free_port()
                text = gateway_yaml(ctx, self.tcp.port, pty.ends[1], self.export_port, self.audit_path, gone_port)
                self.gateway = self.procs.add(lv.Gateway(ctx.binary, ctx.workdir, "control", text, ctx.rsock))
                self.gateway.start()
                if lv.wait_until(lambda: self.export_listening() or not self.gateway.alive(), 10) and self.gateway.alive():
                    break
                self.gateway.stop()
                check(attempt < 2, "the export did not listen (gateway %s): %s"
                      % ("running" if self.gateway.alive() else "exited %s" % self.gateway.proc.poll(),
                         self.gateway.log_tail(800)))
            check(lv.wait_until(lambda: lv.unix_listening(ctx.csock) or not self.gateway.alive(), 10),
                  "the control socket %s does not accept connections: %s" % (ctx.csock, self.gateway.log_tail(800)))
            self.sub = self.procs.add(lv.Subscriber(ctx.rsock))
            self.conn = self.procs.add(ControlConn(ctx.csock))
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

    def alive(self):
        check(self.gateway.alive(), "the gateway exited (status %s): %s" % (self.gateway.proc.poll(),
                                                                            self.gateway.log_tail()))

    def wait_online(self, names, timeout=20.0, since=None):
        def ready(s, n):
            st = s.statuses(n)
            if not st or st[-1][1].get("state") != "online":
                return False
            return len(s.latest(n, since)) >= len(st[-1][1].get("models") or [1])

        self.sub.wait(lambda s: all(ready(s, n) for n in names) or s.eof or not self.gateway.alive(), timeout)
        self.alive()
        with self.sub.cond:
            bad = {n: (self.sub.state(n), (self.sub.statuses(n)[-1][1].get("error") if self.sub.statuses(n) else None))
                   for n in names if not ready(self.sub, n)}
        check(not bad, "not online with readings after %.0f s: %s" % (timeout, bad))

    def polls(self, device, since, until=None, model=802):
        """Arrival times of a device's readings of one model (its first instance) in [since, until]."""
        return [t for t, r in self.sub.readings(device, since)
                if r.get("model") == model and r.get("index", 0) == 0 and (until is None or t <= until)]

    def controls(self, since=0.0):
        """The control records of the stream that arrived since `since`."""
        with self.sub.cond:
            return [r for t, r in self.sub.records if r.get("type") == "control" and t >= since]

    # -- requests, every one remembered for the audit case

    def raw(self, req, expect=None, conn=None):
        """One raw NDJSON request; returns (answer, seconds)."""
        ans, dt = (conn or self.conn).request(req)
        entry = {"via": "socket", "pid": os.getpid(), "req": req, "answer": ans}
        self.sent.append(entry)
        if expect is not None:
            check(ans.get("result") == expect, "%s -> result %s, expected %s: %s"
                  % (req if isinstance(req, str) else json.dumps(req), ans.get("result"), expect, json.dumps(ans, default=str)))
        if isinstance(req, dict) and req.get("id") is not None:
            check(ans.get("id") == req["id"], "%s: id %r echoed as %r" % (json.dumps(req), req["id"], ans.get("id")))
        return ans, dt

    def cli(self, *args, expect=None, ttl=None):
        rc, ans, err, pid, dt = cli(self.ctx, *args, ttl=ttl)
        self.sent.append({"via": "cli", "pid": pid, "args": list(args), "ttl": ttl, "answer": ans, "rc": rc})
        shown = "sunspec-gateway control %s%s" % (" ".join(str(a) for a in args), " --ttl %s" % ttl if ttl else "")
        check(ans is not None, "%s: exit %d, no answer on stdout (stderr: %s)" % (shown, rc, err[-300:]))
        if expect is not None:
            check(ans.get("result") == expect, "%s -> result %s, expected %s: %s"
                  % (shown, ans.get("result"), expect, json.dumps(ans, default=str)))
            check(rc == EXIT[expect], "%s -> %s, exit %d; docs/control.md says %d" % (shown, expect, rc, EXIT[expect]))
        return ans, rc, dt


class Ctx(object):
    def __init__(self, binary, workdir, sockdir):
        self.binary, self.workdir, self.sockdir = binary, workdir, sockdir
        self.procs = lv.Procs()
        self.system = None
        self.system_error = None
        self.figures = collections.OrderedDict()
        self.rsock = os.path.join(sockdir, "r.sock")
        self.csock = os.path.join(sockdir, "c.sock")

    def shared(self):
        if self.system_error:
            raise CaseFailed("the shared system did not start: %s" % self.system_error)
        if self.system is None:
            try:
                self.system = System(self).start()
            except CaseFailed as exc:
                self.system_error = str(exc).split("\n")[0]
                raise
        return self.system

    def stop_all(self):
        self.procs.stop_all()
        if self.system:
            self.system.stop()


# ----------------------------------------------------------------------------------------------
# checks shared by the cases


def num(v):
    return Decimal(str(v)) if v is not None and not isinstance(v, (dict, list, bool)) else v


def nothing_written(dev, unit, since, what):
    dev.sync()
    w = dev.writes(unit, since)
    check(not w, "%s: the device got %d write(s) for a refusal: %s" % (what, len(w), w[:3]))


def check_applied(sy, dev, unit, t0, ans, addr, regs, function, what, value=None):
    """The answer says applied with this write; the device got exactly it, applied, and read it back
    after the write and before the answer."""
    t1 = time.monotonic()
    dev.sync()
    w = ans.get("write") or {}
    check(ans.get("result") == "applied", "%s: %s" % (what, json.dumps(ans, default=str)))
    check(w.get("addr") == addr and w.get("registers") == regs and w.get("function") == function,
          "%s: answer's write %s, expected addr %d registers %s function %d" % (what, w, addr, regs, function))
    if value is not None:
        check(num(ans.get("readback")) == num(value), "%s: readback %s, expected %s" % (what, ans.get("readback"), value))
    got = dev.writes(unit, t0)
    want_fc = function
    if function == 6 and len(regs) > 1:
        want = [(addr + i, [r]) for i, r in enumerate(regs)]
    else:
        want = [(addr, regs)]
    check([(e["addr"], e["values"]) for e in got] == want and all(e["fc"] == want_fc and e["did"] == "applied" for e in got),
          "%s: the device got %s, expected FC%d %s" % (what, [(e["fc"], e["addr"], e["values"], e["did"]) for e in got],
                                                     want_fc, want))
    now = dev.get(unit, addr, len(regs))
    check(now == regs, "%s: the device's registers at %d are %s, expected %s" % (what, addr, now, regs))
    last = got[-1]["t"]
    rb = [e for e in dev.reads(unit, last, t1) if e["addr"] == addr and e["count"] == len(regs)]
    check(rb, "%s: no read of exactly %d..%d after the write and before the answer (the read-back)"
          % (what, addr, addr + len(regs) - 1))
    return got[-1], rb[0]


# ----------------------------------------------------------------------------------------------
# the cases


def case_start(ctx):
    sy = ctx.shared()
    sy.wait_online(System.ONLINE)
    st = sy.sub.statuses("gone")
    check(not st or st[-1][1].get("state") != "online", "gone is online?")
    return "online: %s; gone: %s" % (", ".join(System.ONLINE), st[-1][1].get("state") if st else "no status yet")


def case_cli_forms(ctx):
    """The command lines docs/control.md shows, as a user types them."""
    sy = ctx.shared()
    dev = sy.tcp
    problems = []
    forms = [
        # docs/control.md: `sunspec-gateway control --socket PATH set DEVICE POINT VALUE`
        ([ctx.binary, "control", "--socket", ctx.csock, "set", "bess", "124.WChaMax", "25000"], 0, [2500]),
        # a negative value (a discharge setpoint), as typed
        ([ctx.binary, "control", "set", "--socket", ctx.csock, "bess", "124.OutWRte", "-10"], None, None),
    ]
    for cmd, want_rc, regs in forms:
        t0 = time.monotonic()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=30)
        shown = "sunspec-gateway " + " ".join(cmd[1:])
        err = r.stderr.decode("utf-8", "replace").strip().splitlines()
        answered = r.stdout.strip().startswith(b"{")
        if not answered:
            problems.append("`%s`: exit %d, no answer (%s)" % (shown, r.returncode, err[0] if err else ""))
        elif want_rc is not None and r.returncode != want_rc:
            problems.append("`%s`: exit %d, expected %d" % (shown, r.returncode, want_rc))
        if answered:
            sy.sent.append({"via": "cli", "pid": None, "args": cmd[2:], "ttl": None, "answer": None})
        dev.sync()
        if regs is not None and answered and [e["values"] for e in dev.writes(1, t0)] != [regs]:
            problems.append("`%s`: the device got %s" % (shown, dev.writes(1, t0)))
    check(not problems, "; ".join(problems))
    return "documented forms answered"


def case_applied(ctx):
    sy = ctx.shared()
    dev = sy.tcp
    lines = []
    # (point, value, model, model addr, path in model, expected answer value)
    cases = [("124.WChaMax", 25000, 124, M124, "WChaMax"),
             ("124.MinRsvPct", Decimal("12.34"), 124, M124, "MinRsvPct"),
             ("124.StorCtl_Mod", 3, 124, M124, "StorCtl_Mod"),
             ("802.SetOp", "DISCONNECT", 802, M802, "SetOp"),
             ("802.SetOp", 1, 802, M802, "SetOp"),
             ("803.string[1].StrSetEna", "DISABLE_STRING", 803, M803, "string[1].StrSetEna")]
    for k, (point, value, mid, maddr, path) in enumerate(cases):
        addr, regs = ps_encode(dev, 1, mid, maddr, path, value)
        t0 = time.monotonic()
        if k % 2 == 0:
            ans, rc, dt = sy.cli("set", "bess", point, value, expect="applied")
        else:
            ans, dt = sy.raw({"id": "a%d" % k, "op": "set", "device": "bess", "point": point,
                              "value": value if not isinstance(value, Decimal) else float(value)}, expect="applied")
        check_applied(sy, dev, 1, t0, ans, addr, regs, 16, "set bess %s %s" % (point, value))
        lines.append("%s %s -> %s@%d (pysunspec2: %s)" % (point, value, ans["write"]["registers"], addr, regs))
    # single-register writes (FC6) with a settle of 300 ms
    addr, regs = ps_encode(dev, 2, 124, M124, "WChaMax", 30000)
    t0 = time.monotonic()
    ans, rc, dt = sy.cli("set", "bess-fc6", "124.WChaMax", 30000, expect="applied")
    wr, rb = check_applied(sy, dev, 2, t0, ans, addr, regs, 6, "set bess-fc6 124.WChaMax 30000", value=30000)
    settle = rb["t"] - wr["t"]
    check(settle >= 0.29, "bess-fc6 (settle 300ms): the read-back came %.0f ms after the write" % (settle * 1000))
    lines.append("bess-fc6 FC6 %s, read back %.0f ms after the write (settle 300ms)" % (regs, settle * 1000))
    return "; ".join(lines)


def case_get_capabilities(ctx):
    sy = ctx.shared()
    dev = sy.tcp
    t0 = time.monotonic()
    ans, rc, dt = sy.cli("get", "bess", "124.WChaMax", expect="ok")
    dev.sync()
    now = dev.get(1, WCHAMAX)[0]
    check(num(ans.get("readback")) == Decimal(now * 10), "get: readback %s, the device has raw %d (sf 1)" % (ans.get("readback"), now))
    check(not dev.writes(1, t0), "get wrote to the device: %s" % dev.writes(1, t0))
    reads = [e for e in dev.reads(1, t0) if e["addr"] <= WCHAMAX < e["addr"] + e["count"]]
    check(reads, "get: no read of %d on the device" % WCHAMAX)
    # capabilities: wait for a poll after the last write so `last` is the device's value
    t1 = time.monotonic()
    sy.sub.wait(lambda s: len([1 for t, r in s.readings("bess", t1) if r.get("addr") == M124]) >= 2, 5)
    ans, rc, dt = sy.cli("capabilities", "bess", expect="ok")
    pts = {p.get("point"): p for p in ans.get("points") or []}
    want = ["124.WChaMax", "124.StorCtl_Mod", "124.VAChaMax", "124.MinRsvPct", "124.OutWRte", "124.InOutWRte_WinTms",
            "124.InOutWRte_RvrtTms", "124.ChaGriSet", "802.SetOp", "803.string[1].StrSetEna", "803.string[5].StrSetEna"]
    check(list(pts) == want, "capabilities points %s, expected the allow list %s" % (list(pts), want))
    w = pts["124.WChaMax"]
    problems = []
    for key, v in (("min", 0), ("max", 50000), ("revert", 50000), ("sf", 1), ("last", now * 10), ("units", "W")):
        if (w.get(key) != v) if isinstance(v, str) else (num(w.get(key)) != num(v)):
            problems.append("124.WChaMax %s = %s, expected %s" % (key, w.get(key), v))
    if pts["802.SetOp"].get("values") != ["CONNECT", "DISCONNECT"]:
        problems.append("802.SetOp values %s" % pts["802.SetOp"].get("values"))
    if num(pts["124.MinRsvPct"].get("sf")) != -2:
        problems.append("124.MinRsvPct sf %s, the device has -2" % pts["124.MinRsvPct"].get("sf"))
    check(not problems, "capabilities: %s; %s" % ("; ".join(problems), json.dumps(ans, default=str)[:600]))
    caps = sy.cli("capabilities", "other", expect="not_allowed")[0]
    return "get 124.WChaMax = %s (raw %d); capabilities: %d points (WChaMax %s); other (no control): %s" % (
        ans and num(w.get("last")), now, len(pts), {k: w.get(k) for k in ("min", "max", "revert", "sf", "units")},
        caps.get("result"))


def case_release(ctx):
    sy = ctx.shared()
    dev = sy.tcp
    t0 = time.monotonic()
    ans, rc, dt = sy.cli("release", "bess", "124.WChaMax", expect="applied")
    check_applied(sy, dev, 1, t0, ans, WCHAMAX, [5000], 16, "release bess 124.WChaMax (revert 50000)", value=50000)
    t0 = time.monotonic()
    sy.cli("release", "bess", "124.StorCtl_Mod", expect="bad_request")
    nothing_written(dev, 1, t0, "release of a point with no revert")
    return "release -> 5000@40279 (revert 50000 W at sf 1); release of a point without revert: bad_request"


def case_refusals(ctx):
    sy = ctx.shared()
    dev = sy.tcp
    out = collections.OrderedDict()
    cli_cases = [
        ("not_allowed", ("set", "bess", "124.WChaGra", 5)),
        ("not_allowed", ("set", "other", "124.WChaMax", 1000)),
        ("unknown_device", ("set", "nope", "124.WChaMax", 1000)),
        ("unknown_point", ("set", "bess", "124.NoSuchPoint", 1)),
        ("unknown_point", ("set", "bess", "999.X", 1)),
        ("unknown_point", ("set", "bess", "803.string[5].StrSetEna", "DISABLE_STRING")),
        ("out_of_range", ("set", "bess", "124.WChaMax", 60000)),
        ("out_of_range", ("set", "bess", "124.WChaMax", -10)),
        ("out_of_range", ("set", "bess", "124.MinRsvPct", 700)),
        ("out_of_range", ("set", "bess", "124.MinRsvPct", "655.35")),
        ("out_of_range", ("set", "bess", "802.SetOp", 3)),
        ("out_of_range", ("set", "bess", "802.SetOp", "NOT_A_SYMBOL")),
        ("not_representable", ("set", "bess", "124.WChaMax", 25005)),
        ("not_representable", ("set", "bess", "124.MinRsvPct", "12.345")),
        ("precondition", ("set", "bess", "124.OutWRte", 10)),
        ("offline", ("set", "gone", "124.WChaMax", 1000)),
    ]
    for want, args in cli_cases:
        t0 = time.monotonic()
        ans, rc, dt = sy.cli(*args, expect=want)
        for name in ("bess", "other"):
            if args[1] == name:
                nothing_written(dev, 1 if name == "bess" else 4, t0, " ".join(str(a) for a in args))
        out.setdefault(want, []).append("%s %s" % (args[2], args[3]))
    # pysunspec2 rounds what we refuse: the figure for the note
    _a, ps25005 = ps_encode(dev, 1, 124, M124, "WChaMax", 25005)
    bad = [
        ("not json", None),
        ('{"id":"b1","op":"frob","device":"bess","point":"124.WChaMax"}', "b1"),
        ('{"id":"b2","op":"set","point":"124.WChaMax","value":1}', "b2"),
        ('{"id":"b3","op":"set","device":"bess","point":"124.WChaMax"}', "b3"),
        ('{"id":"b4","op":"set","device":"bess","point":"124.WChaMax","value":1000,"ttl":"120s"}', "b4"),
        ('{"id":"b5","op":"set","device":"bess","point":"124.StorCtl_Mod","value":1,"ttl":"10s"}', "b5"),
        ('{"id":"b6","op":"get","device":"bess","point":"124.WChaMax","value":1}', "b6"),
        ('{"id":"b7","op":"set","device":"bess","point":"124.WChaMax","value":1000,"ttl":"soon"}', "b7"),
    ]
    t0 = time.monotonic()
    for line, rid in bad:
        ans, dt = sy.raw(line, expect="bad_request")
        check(ans.get("id") == rid, "%s: id %r echoed as %r" % (line, rid, ans.get("id")))
        check(ans.get("error"), "%s: bad_request without an error: %s" % (line, ans))
    ans, rc, dt = sy.cli("set", "bess", "124.WChaMax", 1000, ttl="2h", expect="bad_request")
    nothing_written(dev, 1, t0, "bad requests")
    out["bad_request"] = ["%d raw lines and --ttl 2h (max_ttl 60s)" % len(bad)]
    return "; ".join("%s: %s" % (k, ", ".join(v)) for k, v in out.items()) + \
        "; 124.WChaMax 25005 at sf 1: pysunspec2 would write %s (rounded), the gateway refuses" % ps25005


def case_scale_factor(ctx):
    sy = ctx.shared()
    dev = sy.tcp
    # InOutWRte_SF was 0x8000 (precondition, in refusals); the device now says -2
    dev.put(1, INOUTWRTE_SF, [0xFFFE])
    t_put = time.monotonic()
    ok = sy.sub.wait(lambda s: len([1 for t, r in s.readings("bess", t_put) if r.get("addr") == M124]) >= 2, 5)
    check(ok, "no two polls of model 124 within 5 s of the sf change")
    addr, regs = ps_encode(dev, 1, 124, M124, "OutWRte", Decimal("-12.5"))
    t0 = time.monotonic()
    ans, rc, dt = sy.cli("set", "bess", "124.OutWRte", "-12.5", expect="applied")
    check_applied(sy, dev, 1, t0, ans, addr, regs, 16, "set bess 124.OutWRte -12.5 (sf -2)", value=Decimal("-12.5"))
    t0 = time.monotonic()
    sy.cli("set", "bess", "124.OutWRte", "0.005", expect="not_representable")
    nothing_written(dev, 1, t0, "124.OutWRte 0.005 at sf -2")
    return "InOutWRte_SF 0x8000 -> -2 on the device: 124.OutWRte -12.5 -> %s (pysunspec2 %s); 0.005 not_representable" % (
        ans["write"]["registers"], regs)


def case_rate_limited(ctx):
    sy = ctx.shared()
    dev = sy.tcp
    addr = 40291
    t0 = time.monotonic()
    ans, rc, dt = sy.cli("set", "bess", "124.InOutWRte_WinTms", 30, expect="applied")
    check_applied(sy, dev, 1, t0, ans, addr, [30], 16, "set 124.InOutWRte_WinTms 30")
    t1 = time.monotonic()
    ans, rc, dt = sy.cli("set", "bess", "124.InOutWRte_WinTms", 31, expect="rate_limited")
    nothing_written(dev, 1, t1, "the second write within min_interval")
    return "124.InOutWRte_WinTms (min_interval 5s): 30 applied, 31 %.1f s later rate_limited (exit 6), not written" % (t1 - t0)


def case_device_answers(ctx):
    sy = ctx.shared()
    dev = sy.tcp
    lines = []
    before = dev.get(1, WCHAMAX)[0]
    # an exception 4 from the device
    dev.behave(1, "exception", [WCHAMAX], code=4)
    t0 = time.monotonic()
    ans, rc, dt = sy.cli("set", "bess", "124.WChaMax", 21000, expect="device_exception")
    dev.clear(1)
    check(ans.get("code") == 4, "device_exception without code 4: %s" % ans)
    dev.sync()
    w = dev.writes(1, t0)
    check(len(w) == 1 and w[0]["did"] == "exception 4", "the device got %s" % w)
    check(dev.get(1, WCHAMAX)[0] == before, "the register changed after an exception")
    lines.append("exception 4: device_exception code 4 (exit 3), one write, not retried")
    # a read-only register of the device (pymodbus' own SimData readonly): exception 2
    t0 = time.monotonic()
    ans, rc, dt = sy.cli("set", "bess", "124.ChaGriSet", 0, expect="device_exception")
    check(ans.get("code") == 2, "read-only register: code %s, expected 2: %s" % (ans.get("code"), ans))
    dev.sync()
    check([e["did"] for e in dev.writes(1, t0)] == ["exception 2"], "read-only: the device got %s" % dev.writes(1, t0))
    check(dev.get(1, CHAGRISET)[0] == 1, "the read-only register changed")
    lines.append("read-only register: device_exception code 2")
    # acknowledged, not applied: FC16 (bess) and FC6 (bess-fc6, whose reply echoes the value)
    for name, unit, fc, value in (("bess", 1, 16, 22000), ("bess-fc6", 2, 6, 22000)):
        old = dev.get(unit, WCHAMAX)[0]
        dev.behave(unit, "ignore", [WCHAMAX])
        t0 = time.monotonic()
        ans, rc, dt = sy.cli("set", name, "124.WChaMax", value, expect="not_applied")
        dev.clear(unit)
        dev.sync()
        w = dev.writes(unit, t0)
        check([(e["fc"], e["values"], e["did"]) for e in w] == [(fc, [value // 10], "ignored")], "%s: the device got %s" % (name, w))
        check(dev.get(unit, WCHAMAX)[0] == old, "%s: the register changed" % name)
        check(num(ans.get("readback")) == Decimal(old * 10), "%s: not_applied readback %s, the device has %d"
              % (name, ans.get("readback"), old * 10))
        lines.append("%s ignored FC%d: not_applied (exit 1), readback %s" % (name, fc, ans.get("readback")))
    # the reply is lost but the write applied: the read-back finds it; never retried
    dev.behave(1, "lost", [WCHAMAX])
    t0 = time.monotonic()
    ans, rc, dt = sy.cli("set", "bess", "124.WChaMax", 23000)
    dev.clear(1)
    dev.sync()
    w = dev.writes(1, t0)
    check(len(w) == 1, "lost reply: the device got %d writes (retried?): %s" % (len(w), w))
    check(ans.get("result") == "applied" and rc == 0 and num(ans.get("readback")) == 23000,
          "lost reply, write applied: expected applied after the read-back, got exit %d %s" % (rc, json.dumps(ans, default=str)))
    lines.append("lost reply: applied after the read-back (%.2f s), one write" % dt)
    # the device stops answering on the write (a blackout of 4 s): neither the write nor the read-back
    # is answered -> timeout, never retried
    old = dev.get(1, WCHAMAX)[0]
    dev.behave(1, "blackout", [WCHAMAX], seconds=4)
    t0 = time.monotonic()
    try:
        ans, rc, dt = sy.cli("set", "bess", "124.WChaMax", 24000, expect="timeout")
        dev.sync()
        w = dev.writes(1, t0)
        check(len(w) == 1 and w[0]["did"] == "blackout", "timeout: the device got %s (one write expected)" % w)
        rb = [e for e in dev.reads(1, w[0]["t"]) if e["addr"] == WCHAMAX and e["count"] == 1]
        check(rb and rb[0]["did"] == "silent", "timeout: no read-back tried after the unanswered write")
        check(dev.get(1, WCHAMAX)[0] == old, "timeout: the register changed")
        lines.append("write and read-back unanswered: timeout (exit 2) after %.2f s, one write, not retried" % dt)
        # once the gateway has it offline, a set is refused before the wire
        ok = sy.sub.wait(lambda s: s.state("bess") not in ("online", None), 4)
        check(ok, "bess not offline within 4 s of silence (state %s)" % sy.sub.state("bess"))
        t1 = time.monotonic()
        ans, rc, dt = sy.cli("set", "bess", "124.WChaMax", 24000, expect="offline")
        dev.sync()
        check(not dev.writes(1, t1), "offline: the device got %s" % dev.writes(1, t1))
        lines.append("offline (state %s): offline (exit 4), nothing sent" % sy.sub.state("bess"))
    finally:
        dev.clear(1)
    t2 = time.monotonic()
    sy.wait_online(["bess"], timeout=20, since=t2)
    lines.append("online again %.1f s after the device answers" % (time.monotonic() - t2))
    return "; ".join(lines)


def case_busy(ctx):
    sy = ctx.shared()
    dev = sy.tcp
    n = 12
    dev.behave(1, "delay", [WCHAMAX], seconds=0.15)
    conns = [ControlConn(ctx.csock) for _ in range(n)]
    results = [None] * n
    t0 = time.monotonic()
    try:
        for k, c in enumerate(conns):
            c.send({"id": "busy%d" % k, "op": "set", "device": "bess", "point": "124.WChaMax", "value": 20000 + 10 * k})

        def collect(k):
            results[k] = (conns[k].answer(), time.monotonic() - t0)

        threads = [threading.Thread(target=collect, args=(k,)) for k in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        dev.clear(1)
        for c in conns:
            c.close()
    for k in range(n):
        ans = results[k][0] if results[k] else None
        sy.sent.append({"via": "socket", "pid": os.getpid(), "req": {"id": "busy%d" % k}, "answer": ans})
    check(all(results), "not every concurrent set was answered: %s" % [r is not None for r in results])
    dev.sync()
    got = collections.Counter(r[0].get("result") for r in results)
    writes = dev.writes(1, t0, addr=WCHAMAX)
    applied = [r for r in results if r[0].get("result") == "applied"]
    busy = [r for r in results if r[0].get("result") == "busy"]
    check(set(got) <= {"applied", "busy"}, "results %s" % dict(got))
    check(busy, "12 concurrent sets on a device answering writes 150 ms late: none busy (%s)" % dict(got))
    check(len(applied) >= 8, "only %d applied: the queue takes 8" % len(applied))
    check(len(writes) == len(applied), "the device got %d writes for %d applied (busy ones must not be written)"
          % (len(writes), len(applied)))
    return "12 concurrent sets, writes answered 150 ms late: %d applied, %d busy (answered within %.0f ms), %d writes on the device" % (
        len(applied), len(busy), max(r[1] for r in busy) * 1000, len(writes))


def case_vendor(ctx):
    sy = ctx.shared()
    dev = sy.tcp
    lines = []
    # SoCRsvMin: u16 scale 0.1 at 47102; WChaMax: u32 high word first at 47075; StorCtl_Mod: map {0:0,1:1,2:2}
    for point, value, addr, regs in (("802.SoCRsvMin", "20.5", H_SOCRSVMIN, [205]),
                                     ("124.WChaMax", 3000, H_WCHAMAX, [0, 3000]),
                                     ("124.WChaMax", 70000, H_WCHAMAX, [1, 70000 - 65536]),
                                     ("124.StorCtl_Mod", 2, H_STORCTL, [2])):
        t0 = time.monotonic()
        ans, rc, dt = sy.cli("set", "huawei", point, value, expect="applied")
        check_applied(sy, dev, 3, t0, ans, addr, regs, 16, "set huawei %s %s" % (point, value), value=Decimal(str(value)))
        lines.append("%s %s -> %s@%d" % (point, value, regs, addr))
    for want, point, value in (("not_representable", "802.SoCRsvMin", "20.55"), ("out_of_range", "124.WChaMax", 5000000000),
                               ("out_of_range", "802.SoCRsvMin", 101), ("out_of_range", "124.StorCtl_Mod", 5),
                               ("not_allowed", "802.SoC", 50)):
        t0 = time.monotonic()
        sy.cli("set", "huawei", point, value, expect=want)
        nothing_written(dev, 3, t0, "huawei %s %s" % (point, value))
        lines.append("%s %s %s" % (point, value, want))
    ans, rc, dt = sy.cli("get", "huawei", "802.SoCRsvMin", expect="ok")
    check(num(ans.get("readback")) == Decimal("20.5"), "get huawei 802.SoCRsvMin: %s" % ans.get("readback"))
    return "; ".join(lines) + "; get 802.SoCRsvMin %s" % ans.get("readback")


def case_ttl(ctx):
    sy = ctx.shared()
    dev = sy.tcp
    # bess-fc6: a ttl, then a set without ttl that ends it (no revert may come)
    t_fc6 = time.monotonic()
    sy.cli("set", "bess-fc6", "124.WChaMax", 31000, ttl="2s", expect="applied")
    sy.cli("set", "bess-fc6", "124.WChaMax", 32000, expect="applied")
    t_cancel = time.monotonic()
    ans1, rc, dt1 = sy.cli("set", "bess", "124.WChaMax", 30000, ttl="2s", expect="applied")
    t1 = time.monotonic()
    ans2, rc, dt2 = sy.cli("set", "huawei", "802.SoCRsvMin", 30, ttl="2s", expect="applied")
    t2 = time.monotonic()
    r1 = dev.wait_write(lambda e: e["unit"] == 1 and e["addr"] == WCHAMAX and e["t"] > t1 and e["values"] == [5000], TTL + 4)
    r2 = dev.wait_write(lambda e: e["unit"] == 3 and e["addr"] == H_SOCRSVMIN and e["t"] > t2 and e["values"] == [150],
                        TTL + 4)
    check(r1, "bess: no revert (5000@40279) within %.0f s of a ttl of 2s" % (TTL + 4))
    check(r2, "huawei: no revert (150@47102) within %.0f s of a ttl of 2s" % (TTL + 4))
    d1, d2 = r1["t"] - t1, r2["t"] - t2
    check(d1 >= TTL - 0.05 and d2 >= TTL - 0.05, "reverts %.2f s / %.2f s after the answers, before the ttl of 2 s" % (d1, d2))
    check(dev.get(1, WCHAMAX)[0] == 5000 and dev.get(3, H_SOCRSVMIN)[0] == 150, "the reverts are not in the registers")
    dev.sync()
    stray = dev.writes(2, t_cancel, addr=WCHAMAX)
    check(not stray, "bess-fc6: a set without ttl did not end the running ttl: %s" % stray)
    return "ttl 2s: bess reverted to 5000@40279 %.2f s after the answer, huawei to 150@47102 %.2f s after; " \
           "a set without ttl ended bess-fc6's ttl (no revert %.1f s after it)" % (d1, d2, time.monotonic() - t_fc6)


def mbpoll(port, unit, ref, values=(), count=None, timeout=5):
    cmd = ["mbpoll", "-m", "tcp", "-p", str(port), "-a", str(unit), "-t", "4", "-r", str(ref), "-1", "-o", str(timeout)]
    if count:
        cmd += ["-c", str(count)]
    cmd += ["127.0.0.1"] + [str(v) for v in values]
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout + 10)
    return r.returncode, r.stdout.decode("utf-8", "replace"), time.monotonic() - t0


MBPOLL_EXC = {1: "illegal function", 2: "illegal data address", 3: "illegal data value", 4: "slave device or server failure",
              6: "slave device or server is busy", 11: "target device failed to respond"}


def case_export_mbpoll(ctx):
    sy = ctx.shared()
    dev = sy.tcp
    port = sy.export_port
    sy.wait_online(["bess", "huawei"])
    lines = []

    def export_write(what, unit, addr, values, want_exc=None, dunit=1):
        """mbpoll writes `values` at 0-based `addr` (reference addr+1); the device's writes since."""
        t0 = time.monotonic()
        rc, out, dt = mbpoll(port, unit, addr + 1, values)
        sy.sent.append({"via": "export", "what": what, "exc": want_exc})
        low = out.lower()
        if want_exc is None:
            check(rc == 0 and "written %d reference" % len(values) in low,
                  "%s: mbpoll exit %d: %s" % (what, rc, lv.fi.show(out.strip().splitlines()[-1:]) if out else ""))
        else:
            check(rc != 0 and MBPOLL_EXC[want_exc] in low, "%s: expected exception %d (%s), mbpoll exit %d: %s"
                  % (what, want_exc, MBPOLL_EXC[want_exc], rc, out.strip().splitlines()[-1] if out.strip() else ""))
        dev.sync()
        return t0, dt, dev.writes(dunit, t0)

    # FC6 (one value) of WChaMax: export sf 1 = the device's, raw 3500 -> 35000 W -> raw 3500 on the device by FC16
    t0, dt, w = export_write("FC6 124.WChaMax raw 3500", 1, WCHAMAX, [3500])
    check([(e["fc"], e["addr"], e["values"], e["did"]) for e in w] == [(16, WCHAMAX, [3500], "applied")],
          "FC6 through the export: the device got %s" % w)
    rb = [e for e in dev.reads(1, w[0]["t"], t0 + dt) if e["addr"] == WCHAMAX and e["count"] == 1]
    check(rb, "the export answered before the read-back")
    lines.append("FC6 -r %d 3500 -> FC16 [3500]@%d, answered after the read-back (%.0f ms)" % (WCHAMAX + 1, WCHAMAX, dt * 1000))
    # FC16 of three whole allowed points: StorCtl_Mod, VAChaMax, MinRsvPct (40282..40284)
    t0, dt, w = export_write("FC16 40282..40284", 1, 40282, [1, 4000, 1500])
    check(sorted((e["addr"], e["values"]) for e in w) == [(40282, [1]), (40283, [4000]), (40284, [1500])]
          and all(e["did"] == "applied" for e in w), "multi-point FC16: the device got %s" % w)
    lines.append("FC16 of 3 points -> %d writes" % len(w))
    # refusals: nothing may reach the device
    for what, unit, addr, values, exc in (
            ("WChaGra not allowed", 1, 40280, [5], 2),
            ("FC16 WChaMax+WChaGra (one not allowed)", 1, WCHAMAX, [3000, 5], 2),
            ("WChaMax raw 6000 = 60000 W > max", 1, WCHAMAX, [6000], 3),
            ("FC16 of 3 points, MinRsvPct 0xFFFF (not implemented)", 1, 40282, [2, 4000, 65535], 3),
            ("other takes no control", 4, WCHAMAX, [3000], 1),
            ("gone (never online)", 5, WCHAMAX, [3000], 11)):
        t0, dt, w = export_write(what, unit, addr, values, exc, dunit=1 if unit != 4 else 4)
        check(not w, "%s: the device got %s" % (what, w))
        lines.append("%s: exception %d" % (what, exc))
    # the device's own failures
    for mode, exc in (("exception", 4), ("ignore", 4)):
        dev.behave(1, mode, [WCHAMAX], code=4)
        try:
            t0, dt, w = export_write("device %s" % mode, 1, WCHAMAX, [3100], exc)
        finally:
            dev.clear(1)
        check(len(w) == 1, "device %s: the device got %s" % (mode, w))
        lines.append("device %s: exception %d" % ("exception 4" if mode == "exception" else "ignores the write", exc))
    # rate limited: InOutWRte_RvrtTms (min_interval 5s, written only here) twice
    export_write("InOutWRte_RvrtTms first", 1, 40292, [40])
    t0, dt, w = export_write("InOutWRte_RvrtTms again", 1, 40292, [41], 6)
    check(not w, "rate limited: the device got %s" % w)
    lines.append("second write within min_interval: exception 6")
    return "; ".join(lines)


def ps_export_device(port, unit):
    d = ss_client.SunSpecModbusClientDeviceTCP(slave_id=unit, ipaddr="127.0.0.1", ipport=port, timeout=5)
    d.scan()
    return d


def case_export_pysunspec2(ctx):
    sy = ctx.shared()
    dev = sy.tcp
    port = sy.export_port
    lines = []
    d = ps_export_device(port, 1)
    try:
        st = d.storage_basic[0]
        st.read()
        st.WChaMax.cvalue = 26000
        t0 = time.monotonic()
        st.WChaMax.write()
        t1 = time.monotonic()
        sy.sent.append({"via": "export", "what": "pysunspec2 WChaMax 26000", "exc": None})
        dev.sync()
        w = dev.writes(1, t0)
        check([(e["addr"], e["values"], e["did"]) for e in w] == [(WCHAMAX, [2600], "applied")],
              "pysunspec2 WChaMax.cvalue = 26000 through the export: the device got %s" % w)
        rb = [e for e in dev.reads(1, w[0]["t"], t1) if e["addr"] == WCHAMAX and e["count"] == 1]
        check(rb, "pysunspec2's write was answered before the read-back")
        lines.append("bess 124.WChaMax.cvalue = 26000 -> [2600]@%d, answered after the read-back (%.0f ms)"
                     % (WCHAMAX, (t1 - t0) * 1000))
        for what, point, value, code in (("WChaGra (not allowed)", "WChaGra", 7, 2), ("WChaMax 60000 (> max)", "WChaMax", 60000, 3)):
            getattr(st, point).cvalue = value
            t0 = time.monotonic()
            try:
                getattr(st, point).write()
                raise CaseFailed("pysunspec2 %s through the export: no exception" % what)
            except CaseFailed:
                raise
            except Exception as exc:
                check(("exception: %d" % code) in str(exc) or ("exception %d" % code) in str(exc),
                      "pysunspec2 %s: %s, expected exception %d" % (what, exc, code))
            sy.sent.append({"via": "export", "what": what, "exc": code})
            nothing_written(dev, 1, t0, "pysunspec2 %s" % what)
            lines.append("%s: %s" % (what, "exception %d" % code))
    finally:
        d.close()
    # the profile device: the export's 802 SoCRsvMin at the export's SoC_SF, to the vendor's scale 0.1
    d = ps_export_device(port, 3)
    try:
        b = d.battery[0]
        b.read()
        sf = b.SoC_SF.value
        b.SoCRsvMin.cvalue = 25
        raw = b.SoCRsvMin.value
        t0 = time.monotonic()
        b.SoCRsvMin.write()
        sy.sent.append({"via": "export", "what": "pysunspec2 huawei SoCRsvMin 25", "exc": None})
        dev.sync()
        w = dev.writes(3, t0)
        check([(e["addr"], e["values"]) for e in w] == [(H_SOCRSVMIN, [250])],
              "pysunspec2 huawei SoCRsvMin.cvalue = 25 (raw %s at export sf %s): the device got %s, expected [250]@%d"
              % (raw, sf, w, H_SOCRSVMIN))
        lines.append("huawei 802.SoCRsvMin.cvalue = 25 (raw %d at the export's SoC_SF %d) -> vendor [250]@%d"
                     % (raw, sf, H_SOCRSVMIN))
    finally:
        d.close()
    return "; ".join(lines)


def rate(times, t0, t1):
    return len([t for t in times if t0 <= t <= t1]) / max(t1 - t0, 1e-6)


def case_latency(ctx):
    """Sets paced at 10 a second on each of bess (TCP) and bess-rtu (RTU) for 4 s, one connection each;
    meanwhile the other devices' polls are counted on the stream."""
    sy = ctx.shared()
    dev, rdev = sy.tcp, sy.rtu
    sy.wait_online(["bess", "bess-rtu", "other", "huawei", "rtu-other"])
    window, pace = 4.0, 0.1
    out = {}
    errors = []

    def drive(name):
        conn = ControlConn(ctx.csock)
        times = []
        try:
            t_next = time.monotonic()
            k = 0
            while time.monotonic() < t_begin + window:
                value = 20000 + 100 * (k % 2)
                ans, dt = conn.request({"id": "lat-%s-%d" % (name, k), "op": "set", "device": name,
                                        "point": "124.WChaMax", "value": value})
                sy.sent.append({"via": "socket", "pid": os.getpid(), "req": {"id": "lat-%s-%d" % (name, k)}, "answer": ans})
                if ans.get("result") != "applied":
                    errors.append("%s set %d: %s" % (name, k, json.dumps(ans, default=str)))
                times.append(dt)
                k += 1
                t_next += pace
                pause = t_next - time.monotonic()
                if pause > 0:
                    time.sleep(pause)     # pacing the load, not waiting for an outcome
        finally:
            conn.close()
        out[name] = times

    t_begin = time.monotonic()
    threads = [threading.Thread(target=drive, args=(n,)) for n in ("bess", "bess-rtu")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(window + 30)
    t_end = time.monotonic()
    check(not errors, "sets not applied during the run: %s" % errors[:3])
    for name, d in (("bess", dev), ("bess-rtu", rdev)):
        d.sync()
        w = d.writes(1, t_begin, t_end, addr=WCHAMAX)
        check(len(w) == len(out[name]), "%s: the device got %d writes for %d sets" % (name, len(w), len(out[name])))
    _a, _rc, cli_dt = sy.cli("set", "bess", "124.WChaMax", 20000, expect="applied")
    figures = []
    for name, label in (("bess", "TCP"), ("bess-rtu", "RTU (pty pair, 19200 8E1)")):
        ms = sorted(x * 1000 for x in out[name])
        figures.append("%s set (%s): median %.1f ms, p90 %.1f ms, max %.1f ms over %d sets" % (
            label, name, statistics.median(ms), ms[int(0.9 * (len(ms) - 1))], ms[-1], len(ms)))
    rates, problems = [], []
    for name, interval, link in (("other", 0.5, "TCP"), ("huawei", 0.5, "TCP"), ("bess", 0.5, "TCP, written"),
                                 ("rtu-other", 1.0, "RTU line"), ("bess-rtu", 1.0, "RTU line, written")):
        during = rate(sy.polls(name, t_begin, t_end), t_begin, t_end)
        rates.append("%s (%s) %.2f/s of %g/s" % (name, link, during, 1 / interval))
        if during < 0.6 / interval:
            problems.append("%s polled %.2f/s during the writes, configured %.2f/s" % (name, during, 1 / interval))
    fig = "; ".join(figures) + "; CLI round trip %.0f ms; polls during %.1f s of writes (10 sets/s per device): %s" % (
        cli_dt * 1000, t_end - t_begin, ", ".join(rates))
    ctx.figures["latency"] = fig
    check(not problems, fig + "\n" + "\n".join(problems))
    return fig


def case_heartbeat(ctx):
    sy = ctx.shared()
    dev = sy.tcp
    dev.sync()
    hb = [e for e in dev.writes(1, exclude=()) if e["addr"] == CTRLHB]
    check(len(hb) >= 3, "%d heartbeat writes at %d so far" % (len(hb), CTRLHB))
    vals = [e["values"][0] for e in hb]
    steps = [b - a for a, b in zip(vals, vals[1:])]
    gaps = [b["t"] - a["t"] for a, b in zip(hb, hb[1:])]
    # +1 each; a value may be skipped where a beat found the device offline (counted, not sent)
    check(all(s >= 1 for s in steps) and steps.count(1) >= 0.8 * len(steps),
          "heartbeat values do not count up by 1: %s" % vals[:30])
    skips = [(a, b) for a, b in zip(vals, vals[1:]) if b - a != 1]
    med = statistics.median(gaps)
    check(0.8 <= med <= 1.3, "heartbeats %.2f s apart (median), expected 1 s" % med)
    # a failing heartbeat is audited (and on the stream)
    dev.behave(1, "exception", [CTRLHB], code=4)
    t0 = time.monotonic()
    try:
        ok = sy.sub.wait(lambda s: any(r.get("type") == "control" and r.get("op") == "heartbeat" and t >= t0
                                       for t, r in s.records), 5)
    finally:
        dev.clear(1)
    check(ok, "no control record of a failed heartbeat within 5 s")
    rec = [r for r in sy.controls(t0) if r.get("op") == "heartbeat"][0]
    check(rec.get("result") == "device_exception" and rec.get("client") == {"gateway": "heartbeat"},
          "failed heartbeat record: %s" % json.dumps(rec, default=str))
    return "%d heartbeats %s..%s, +1 each%s, %.2f s apart (median); a failed one audited: %s" % (
        len(hb), vals[0] if vals else "-", vals[-1] if vals else "-",
        " (skipped where the device was offline: %s)" % skips if skips else "", med, rec.get("result"))


def case_sigterm(ctx):
    sy = ctx.shared()
    dev, rdev = sy.tcp, sy.rtu
    sy.wait_online(["bess", "huawei", "bess-rtu"])
    sy.cli("set", "bess", "124.WChaMax", 33000, ttl="30s", expect="applied")
    sy.cli("set", "huawei", "802.SoCRsvMin", 33, ttl="30s", expect="applied")
    sy.cli("set", "bess-rtu", "124.WChaMax", 34000, ttl="30s", expect="applied")
    t0 = time.monotonic()
    rc, took = sy.gateway.terminate(15)
    dev.sync()
    rdev.sync()
    problems = []
    if rc != 0:
        problems.append("exit status %s after SIGTERM (%.1f s)" % (rc, took))
    t_exit = t0 + took
    for d, unit, addr, want, name in ((dev, 1, WCHAMAX, [5000], "bess"), (dev, 3, H_SOCRSVMIN, [150], "huawei"),
                                      (rdev, 1, WCHAMAX, [5000], "bess-rtu")):
        w = [e for e in d.writes(unit, t0, addr=addr) if e["values"] == want]
        if not w:
            problems.append("%s: no revert %s@%d after SIGTERM" % (name, want, addr))
        elif w[0]["t"] > t_exit:
            problems.append("%s: revert after the gateway exited" % name)
        elif d.get(unit, addr, len(want)) != want:
            problems.append("%s: the revert is not in the registers" % name)
    check(not problems, "; ".join(problems))
    return "SIGTERM with 3 live ttls: exit %s in %.2f s, every point reverted before exit (bess, huawei, bess-rtu)" % (rc, took)


REQUIRED = ("ts", "id", "client", "device", "point", "op", "value", "ttl", "result", "write", "before", "readback")


def pair_intents(every, problems):
    """The outcome lines of `every` (in order) and the number of intent lines; each intent line is paired with
    the next outcome line of the same request (client, id, device, point, op, value), which has the same `write`
    when it has one; every outcome with a `write` (but a heartbeat's after the first of its run) has its intent
    line before it."""
    key = lambda r: json.dumps([r.get(f) for f in ("client", "id", "device", "point", "op", "value")], default=str)
    waiting = collections.defaultdict(collections.deque)
    outcomes, intents = [], 0
    for k, rec in enumerate(every):
        if rec.get("result") == "pending":
            intents += 1
            if rec.get("write") is None or rec.get("readback") is not None:
                problems.append("intent line %d: no planned write, or a readback: %s" % (k + 1, json.dumps(rec, default=str)[:200]))
            waiting[key(rec)].append((k, rec))
            continue
        outcomes.append(rec)
        queue = waiting[key(rec)]
        if queue:
            _, intent = queue.popleft()
            if rec.get("write") is not None and rec["write"] != intent["write"]:
                problems.append("line %d wrote %s, its intent line planned %s" % (k + 1, rec["write"], intent["write"]))
        elif rec.get("write") is not None and rec.get("op") != "heartbeat":
            # (a run of heartbeats has its intent line at its first beat only: a later beat that failed has none)
            problems.append("line %d: a write with no intent line before it: %s" % (k + 1, json.dumps(rec, default=str)[:200]))
    for queue in waiting.values():
        for k, rec in queue:
            problems.append("intent line %d has no outcome line: %s" % (k + 1, json.dumps(rec, default=str)[:200]))
    return outcomes, intents


def case_audit(ctx):
    sy = ctx.shared()
    check(os.path.exists(sy.audit_path), "no audit file %s" % sy.audit_path)
    mode = os.stat(sy.audit_path).st_mode & 0o777
    with open(sy.audit_path, "rb") as f:
        raw = f.read()
    check(raw.endswith(b"\n"), "the audit does not end with a newline")
    every = [json.loads(l, parse_float=Decimal) for l in raw.splitlines() if l.strip()]
    problems = []
    if mode != 0o640:
        problems.append("audit mode %o, docs/control.md: 0640" % mode)
    for k, rec in enumerate(every):
        miss = [f for f in REQUIRED if f not in rec]
        if miss:
            problems.append("audit line %d lacks %s: %s" % (k + 1, miss, json.dumps(rec, default=str)[:200]))
    # docs/control.md: a write has an intent line ("result":"pending", the registers planned) before it goes
    # out, then its outcome line; a refusal has its outcome line only
    lines, intents = pair_intents(every, problems)
    by_pid = collections.defaultdict(list)
    for rec in lines:
        c = rec.get("client") or {}
        if "pid" in c:
            by_pid[c["pid"]].append(rec)
    uid = os.getuid()
    # every CLI request: exactly one line with its pid, the right result and the answer's fields
    for s in sy.sent:
        if s["via"] != "cli" or s.get("answer") is None:
            continue
        recs = by_pid.get(s["pid"], [])
        if len(recs) != 1:
            problems.append("`control %s` (pid %d): %d audit lines" % (" ".join(map(str, s["args"])), s["pid"], len(recs)))
            continue
        rec, ans = recs[0], s["answer"]
        if rec["client"].get("uid") != uid:
            problems.append("pid %d: client uid %s, we are %d" % (s["pid"], rec["client"].get("uid"), uid))
        for f in ("result", "device", "point", "write", "readback", "id"):
            if f in ans and rec.get(f) != ans.get(f):
                problems.append("pid %d %s: audit %s %s, answer %s" % (s["pid"], s["args"][:3], f, rec.get(f), ans.get(f)))
        if s["args"][0] == "set" and ans.get("result") == "applied" and "before" not in rec:
            problems.append("pid %d: applied set without before" % s["pid"])
        if s.get("ttl") and rec.get("ttl") is None:
            problems.append("pid %d: ttl %s not in the audit" % (s["pid"], s["ttl"]))
    # every raw request of ours: one line with our pid and its id
    ours = by_pid.get(os.getpid(), [])
    raw_sent = [s for s in sy.sent if s["via"] == "socket"]
    if len(ours) != len(raw_sent):
        problems.append("%d raw socket requests, %d audit lines with our pid %d" % (len(raw_sent), len(ours), os.getpid()))
    ids = collections.Counter(r.get("id") for r in ours)
    for s in raw_sent:
        rid = s["req"].get("id") if isinstance(s["req"], dict) else (s.get("answer") or {}).get("id")
        if rid is not None and ids[rid] < 1:
            problems.append("raw request %s: no audit line" % rid)
    # export writes: client {"export": "127.0.0.1:PORT"}
    exp = [r for r in lines if "export" in (r.get("client") or {})]
    exp_sent = [s for s in sy.sent if s["via"] == "export"]
    if len(exp) < len(exp_sent):
        problems.append("%d export writes, %d audit lines from the export" % (len(exp_sent), len(exp)))
    if exp and not all(str(r["client"]["export"]).startswith("127.0.0.1:") for r in exp):
        problems.append("export client %s" % exp[0]["client"])
    gw = collections.Counter((r["client"].get("gateway"), r.get("op")) for r in lines if "gateway" in (r.get("client") or {}))
    if gw[("ttl", "revert")] < 2:
        problems.append("%d ttl reverts audited, 2 expected" % gw[("ttl", "revert")])
    if gw[("shutdown", "revert")] < 3:
        problems.append("%d shutdown reverts audited, 3 expected" % gw[("shutdown", "revert")])
    ttl_fc6 = [r for r in lines if r.get("device") == "bess-fc6" and (r.get("client") or {}).get("gateway") == "ttl"]
    if ttl_fc6:
        problems.append("bess-fc6's cancelled ttl was reverted: %s" % ttl_fc6[0])
    # the stream carries the same records
    stream = [r for t, r in sy.sub.snapshot() if r.get("type") == "control"]
    strip = lambda r: {k: v for k, v in r.items() if k != "type"}
    # (concurrent requests may reach the two in different orders: compared as multisets)
    key = lambda r: json.dumps(strip(r), sort_keys=True, default=str)
    on_stream, in_audit = collections.Counter(map(key, stream)), collections.Counter(map(key, lines))
    if on_stream - in_audit or len(stream) < len(lines) - 5:
        extra = list((on_stream - in_audit).elements())[:1] + list((in_audit - on_stream).elements())[:1]
        problems.append("stream control records (%d) differ from the audit lines (%d): %s"
                        % (len(stream), len(lines), [e[:200] for e in extra]))
    results = collections.Counter(r.get("result") for r in lines)
    fig = "%d audit lines (mode %o): %d intent lines, %d outcomes: %s; clients: %d socket pids, %d export, gateway %s" % (
        len(every), mode, intents, len(lines), ", ".join("%s %d" % kv for kv in sorted(results.items())), len(by_pid), len(exp),
        dict(("%s/%s" % k, v) for k, v in gw.items()))
    pair = next(((i, o) for i, o in zip(every, every[1:]) if i.get("result") == "pending" and o.get("result") == "applied"
                 and o.get("op") == "set" and o.get("ttl") and "pid" in (o.get("client") or {}) and i.get("id") == o.get("id")), None)
    if pair:
        ctx.figures["audit intent line"] = json.dumps(pair[0], default=str, separators=(",", ":"))
        ctx.figures["audit outcome line"] = json.dumps(pair[1], default=str, separators=(",", ":"))
    check(not problems, fig + "\n" + "\n".join(problems[:15]))
    missing = sorted(set(EXIT) - set(results))
    check(not missing, "results never produced: %s; %s" % (missing, fig))
    return fig


def case_audit_unwritable(ctx):
    """A second gateway whose audit is /dev/full (opens, every write fails with ENOSPC)."""
    dev = ctx.procs.add(Device(ctx.workdir, "full", [FIXTURE], [1])).start()
    audit = os.path.join(ctx.workdir, "full-audit.jsonl")
    os.symlink("/dev/full", audit)
    rs, cs = os.path.join(ctx.sockdir, "fr.sock"), os.path.join(ctx.sockdir, "fc.sock")
    text = "\n".join(["socket:", "  path: %s" % rs, "control:", "  socket:", "    path: %s" % cs, "  audit: %s" % audit,
                      "devices:", "  - name: bess", '    tcp: "127.0.0.1:%d"' % dev.port, "    unit: 1",
                      "    interval: 500ms", "    timeout: 500ms", "    control:", "      allow:",
                      '        "124.WChaMax": {min: 0, max: 50000, revert: 50000}']) + "\n"
    gw = ctx.procs.add(lv.Gateway(ctx.binary, ctx.workdir, "full", text, rs)).start()
    sub = ctx.procs.add(lv.Subscriber(rs))
    lv.wait_online(sub, gw, {"bess": [40002, M124]})
    check(lv.wait_until(lambda: lv.unix_listening(cs), 10), "no control socket")
    conn = ctx.procs.add(ControlConn(cs))
    answers = []
    for k in range(3):
        t0 = time.monotonic()
        ans, dt = conn.request({"id": "f%d" % k, "op": "set", "device": "bess", "point": "124.WChaMax", "value": 21000 + 100 * k})
        dev.sync()
        answers.append((ans.get("result"), len(dev.writes(1, t0))))
    # the first request's intent line fails (ENOSPC), so its write does not go out; after that line could not be
    # written the others are refused before the runner: nothing may reach the device
    check(all(r == "precondition" and n == 0 for r, n in answers),
          "audit on /dev/full (every line fails with ENOSPC): answers (result, writes on the device) %s; docs/control.md: "
          "an intent line that cannot be written means nothing is written, and after a line could not be written "
          "requests are refused (precondition) before anything goes to a device" % answers)
    return "audit on /dev/full: %s" % answers


CASES = collections.OrderedDict([
    ("start", case_start),
    ("cli-forms", case_cli_forms),
    ("applied", case_applied),
    ("get-capabilities", case_get_capabilities),
    ("release", case_release),
    ("refusals", case_refusals),
    ("scale-factor", case_scale_factor),
    ("rate-limited", case_rate_limited),
    ("device-answers", case_device_answers),
    ("busy", case_busy),
    ("vendor", case_vendor),
    ("ttl", case_ttl),
    ("export-mbpoll", case_export_mbpoll),
    ("export-pysunspec2", case_export_pysunspec2),
    ("latency", case_latency),
    ("heartbeat", case_heartbeat),
    ("sigterm", case_sigterm),
    ("audit", case_audit),
    ("audit-unwritable", case_audit_unwritable),
])


def main(argv=None):
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gateway", required=True, help="path of the sunspec-gateway binary")
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated: %s" % ", ".join(CASES))
    ap.add_argument("--workdir", help="keep configs, logs and the audit here (default: a temp dir, removed on success)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    VERBOSE = lv.VERBOSE = args.verbose
    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in names if c not in CASES]
    if unknown:
        sys.stderr.write("unknown cases: %s (known: %s)\n" % (", ".join(unknown), ", ".join(CASES)))
        return 2
    for tool in ("socat", "mbpoll"):
        if shutil.which(tool) is None:
            sys.stderr.write("control_interop.py: %s not found on PATH (make deps)\n" % tool)
            return 2
    binary = os.path.abspath(args.gateway)
    if not fi.wait_for_binary(binary):
        sys.stderr.write("control_interop.py: gateway binary not found at %s (build it first)\n" % binary)
        return 2
    workdir = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="sunspec-control-"))
    os.makedirs(workdir, exist_ok=True)
    sockdir = tempfile.mkdtemp(prefix="sgc-")
    ctx = Ctx(binary, workdir, sockdir)

    def cleanup():
        ctx.stop_all()
        shutil.rmtree(sockdir, ignore_errors=True)

    def summary():
        for k, v in ctx.figures.items():
            print("%s: %s" % (k, v))

    rc = lv.run_cases("control_interop.py", CASES, names, ctx, workdir, keep=bool(args.workdir), width=17,
                      cleanup=cleanup, before_summary=summary)
    return rc


if __name__ == "__main__":
    sys.exit(main())
