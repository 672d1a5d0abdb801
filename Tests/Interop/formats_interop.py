#!/usr/bin/env python3
"""Interop check: every capture format decodes to the same readings as the capture itself.

For each fixture (Fixtures/battery-inverter.json, SunS at 40000; Fixtures/legacy-storage.json, SunS at
50000) this serves the capture over Modbus TCP with scripts/serve_capture.py on a free loopback port
and reads it back with peers nobody here wrote:

- the real `mbpoll` binary, in calls of at most 125 registers, with `-t 4` and `-t 4:hex`, each with
  1-based references (mbpoll's default) and with `-0` (0-based); the concatenated stdout is decoded
  with `--format mbpoll` (plus `--zero-based` for the `-0` runs);
- pysunspec2's own Modbus TCP client (`SunSpecModbusClientDeviceTCP.scan()`), whose
  `Device.get_dict(computed=False)` is dumped as-is and decoded with `--format pysunspec2`;
- and, without the network, the capture written as `address,value` CSV by this script, decoded with
  `--format csv`.

And pysunspec2's own test device (Fixtures/device_1547.pysunspec2.json, a copy of its
sunspec2/tests/test_data/device_1547.json, which ends with the end-marker entry {"ID": 65535, "L": 0}):
our decode of it must match what pysunspec2's `FileClientDevice` gives for every model (`model_id`,
`model_addr`, `len`, `get_dict(computed=True)`), point by point under decode_interop.py's rules and
documented differences, with no `errors`.

Every `reading` record must match the gateway's decode of the capture JSON in `model`, `name`,
`index`, `addr`, `len` and `values` (numbers compared exactly, as decimals). pysunspec2's dump has no
addresses and the gateway places its chain at 40000, so for a device whose SunS is elsewhere `addr` is
not compared for that format. `device` and `ts` are not compared (only the capture carries them).

    formats_interop.py --gateway PATH [--workdir DIR] [--cases battery,legacy,device1547] [-q]

Exit status: 0 all equal (one summary line per case), 1 on any difference, failed peer or gateway
error (the first differing record and path are printed), 2 on a setup error (missing binary, mbpoll,
pysunspec2). Run it with the Python that has Tests/Interop/requirements.txt installed.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import struct
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import sunspec2.file.client as ss_file
    import sunspec2.modbus.client as ss_client
    import decode_interop as di          # pysunspec2 comparison rules and documented differences
except ImportError as exc:  # pragma: no cover - setup error
    sys.stderr.write("formats_interop.py: pysunspec2 is not importable from %s (%s)\n"
                     "install Tests/Interop/requirements.txt into this Python\n" % (sys.executable, exc))
    sys.exit(2)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(ROOT, "Fixtures")
SERVER = os.path.join(ROOT, "scripts", "serve_capture.py")

MBPOLL_MAX = 125               # registers per mbpoll call (Modbus limit for function 3)
SERVER_START_TIMEOUT = 15.0    # seconds until the server must accept connections
STEP_TIMEOUT = 20.0            # seconds for one mbpoll call / gateway run
PYSUNSPEC2_BASE = 40000        # where the gateway places a pysunspec2 dump's chain

# name -> (capture file, SunS address); a .pysunspec2.json is checked against FileClientDevice
CASES = {
    "battery": ("battery-inverter.json", 40000),
    "legacy": ("legacy-storage.json", 50000),
    "device1547": ("device_1547.pysunspec2.json", 40000),
}
COMPARED_FIELDS = ("model", "name", "index", "addr", "len")
ABSENT = "(absent)"


class SetupError(Exception):
    pass


class StepFailed(Exception):
    """A peer or the gateway did not produce output to compare."""


# ----------------------------------------------------------------------------------------------
# capture


def load_capture(path):
    with open(path, encoding="utf-8") as f:
        cap = json.load(f)
    if cap.get("format") != "sunspec-gateway/registers":
        raise SetupError("%s: not a sunspec-gateway/registers capture" % path)
    return cap


def capture_spans(cap):
    """[(start, count)] of the capture's holding-register blocks, sorted."""
    spans = []
    for b in cap["blocks"]:
        if int(b.get("function", 3)) != 3:
            continue
        spans.append((int(b["start"]), len(b["registers"])))
    return sorted(spans)


def write_csv(cap, path):
    """The capture as `address,value` lines: 0-based addresses, decimal unsigned values."""
    regs = {}
    for b in cap["blocks"]:
        for i, v in enumerate(b["registers"]):
            regs[int(b["start"]) + i] = int(v) & 0xFFFF
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write("address,value\n")
        for a in sorted(regs):
            f.write("%d,%d\n" % (a, regs[a]))
    return len(regs)


# ----------------------------------------------------------------------------------------------
# the Modbus TCP server (scripts/serve_capture.py)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class CaptureServer(object):
    """scripts/serve_capture.py CAPTURE on a free loopback port; stop() always kills it."""

    def __init__(self, capture, workdir, tag):
        self.capture = capture
        self.log_path = os.path.join(workdir, "%s.server.log" % tag)
        self.proc = None
        self.port = None

    def start(self):
        last = "?"
        for _attempt in range(3):          # a free port can be taken between probe and bind
            self.port = free_port()
            log = open(self.log_path, "wb")
            try:
                self.proc = subprocess.Popen(
                    [sys.executable, SERVER, self.capture, "--port", str(self.port)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
            finally:
                log.close()
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    last = "exited with status %s: %s" % (self.proc.returncode, self.log_tail())
                    break
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    return self
                except OSError:
                    time.sleep(0.05)
            else:
                last = "not accepting connections on port %d after %.0f s" % (self.port, SERVER_START_TIMEOUT)
            self.stop()
        raise StepFailed("serve_capture.py %s: %s" % (os.path.basename(self.capture), last))

    def log_tail(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-600:].decode("utf-8", "replace").strip()
        except OSError:
            return ""

    def stop(self):
        p, self.proc = self.proc, None
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(timeout=3)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=3)


# ----------------------------------------------------------------------------------------------
# peers


def run_mbpoll(port, spans, dtype, zero_based, out_path):
    """Read every span with mbpoll (chunks of <= 125); stdout concatenated into out_path.
    Returns (mbpoll calls, registers read)."""
    calls = 0
    values = 0
    with open(out_path, "wb") as out:
        for start, count in spans:
            addr = start
            while addr < start + count:
                n = min(MBPOLL_MAX, start + count - addr)
                ref = addr if zero_based else addr + 1
                cmd = ["mbpoll", "-m", "tcp", "-p", str(port), "-a", "1", "-t", dtype]
                if zero_based:
                    cmd.append("-0")
                cmd += ["-r", str(ref), "-c", str(n), "-1", "127.0.0.1"]
                for attempt in (1, 2):     # mbpoll waits 1 s for an answer: allow one retry on a busy box
                    try:
                        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           timeout=STEP_TIMEOUT)
                    except subprocess.TimeoutExpired:
                        raise StepFailed("%s: timed out" % " ".join(cmd))
                    calls += 1
                    lines = [ln for ln in r.stdout.decode("utf-8", "replace").splitlines()
                             if ln.startswith("[") and "]:" in ln]
                    if r.returncode == 0 and len(lines) == n:
                        break
                if r.returncode != 0 or len(lines) != n:
                    raise StepFailed("%s: exit %s, %d of %d registers; stderr: %s"
                                     % (" ".join(cmd), r.returncode, len(lines), n,
                                        r.stderr.decode("utf-8", "replace").strip()[-300:]))
                values += n
                out.write(r.stdout)
                addr += n
    return calls, values


def run_pysunspec2(port, base, out_path):
    """pysunspec2's Modbus TCP client scans and reads the device; its raw get_dict() goes to out_path."""
    dev = ss_client.SunSpecModbusClientDeviceTCP(slave_id=1, ipaddr="127.0.0.1", ipport=port, timeout=5)
    try:
        dev.scan()
        for m in dev.model_list:
            m.read()
        if dev.base_addr != base:
            raise StepFailed("pysunspec2 found SunS at %s, the capture has it at %s" % (dev.base_addr, base))
        errors = ["%s@%s: %s" % (m.model_id, m.model_addr, m.error_info.strip())
                  for m in dev.model_list if m.error_info]
        d = dev.get_dict(computed=False)
    finally:
        try:
            dev.close()
            dev.disconnect()
        except Exception:
            pass
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(d, f, indent=1)
    return len(d.get("models", [])), errors


# ----------------------------------------------------------------------------------------------
# the gateway


def wait_for_binary(path, seconds=20.0):
    """The binary may be rebuilt under us: give it a moment to reappear."""
    deadline = time.monotonic() + seconds
    while not (os.path.isfile(path) and os.access(path, os.X_OK)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def gateway_decode(gateway, path, extra):
    cmd = [gateway, "decode", path] + list(extra)
    if gateway.endswith(".py"):
        cmd = [sys.executable] + cmd
    for attempt in range(5):
        if not wait_for_binary(gateway):
            raise SetupError("gateway binary %s is missing" % gateway)
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=STEP_TIMEOUT)
            break
        except OSError as exc:        # ETXTBSY/ENOENT while the binary is being replaced
            if attempt == 4:
                raise SetupError("cannot run %s: %s" % (gateway, exc))
            time.sleep(1)
        except subprocess.TimeoutExpired:
            raise StepFailed("%s: timed out" % " ".join(cmd))
    stderr = r.stderr.decode("utf-8", "replace").strip()
    if r.returncode != 0:
        raise StepFailed("%s: exit %d: %s" % (" ".join(cmd), r.returncode, stderr[-500:]))
    records, lines = [], []
    for n, line in enumerate(r.stdout.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line, parse_float=Decimal)
        except ValueError as exc:
            raise StepFailed("%s: stdout line %d is not JSON (%s): %s" % (" ".join(cmd), n, exc, line[:200]))
        if isinstance(rec, dict) and rec.get("type") == "reading":
            records.append(rec)
            lines.append(line.strip())
    return records, lines, stderr


# ----------------------------------------------------------------------------------------------
# comparison


def first_diff(ours, ref, path):
    """Path and the two values of the first difference between two JSON values, or None."""
    if isinstance(ref, dict) and isinstance(ours, dict):
        for k in list(ref) + [k for k in ours if k not in ref]:
            if k not in ours:
                return ("%s.%s" % (path, k), ABSENT, ref[k])
            if k not in ref:
                return ("%s.%s" % (path, k), ours[k], ABSENT)
            d = first_diff(ours[k], ref[k], "%s.%s" % (path, k))
            if d:
                return d
        return None
    if isinstance(ref, list) and isinstance(ours, list):
        for i, (o, r) in enumerate(zip(ours, ref)):
            d = first_diff(o, r, "%s[%d]" % (path, i))
            if d:
                return d
        if len(ours) != len(ref):
            return ("%s (length)" % path, len(ours), len(ref))
        return None
    # bool is an int in Python: keep true != 1
    if type(ours) is bool or type(ref) is bool:
        return None if (type(ours) is type(ref) and ours == ref) else (path, ours, ref)
    if isinstance(ours, (int, Decimal)) and isinstance(ref, (int, Decimal)):
        # 1 vs 1.0 is a different JSON text for the same number; the decoder writes one form per
        # point, so the text must match too
        same = Decimal(ours) == Decimal(ref) and type(ours) is type(ref) and str(ours) == str(ref)
        return None if same else (path, ours, ref)
    return None if (type(ours) is type(ref) and ours == ref) else (path, ours, ref)


def compare_records(ours, ref, fields):
    """None when equal, else (record index, record, path, ours, reference)."""
    for i, r in enumerate(ref):
        if i >= len(ours):
            return (i, r, "(record)", ABSENT, "model %s at %s" % (r.get("model"), r.get("addr")))
        o = ours[i]
        for f in fields:
            if o.get(f, ABSENT) != r.get(f, ABSENT):
                return (i, r, f, o.get(f, ABSENT), r.get(f, ABSENT))
        d = first_diff(o.get("values", ABSENT), r.get("values", ABSENT), "values")
        if d:
            return (i, r) + d
    if len(ours) > len(ref):
        o = ours[len(ref)]
        return (len(ref), o, "(record)", "model %s at %s" % (o.get("model"), o.get("addr")), ABSENT)
    return None


def show(v):
    if isinstance(v, (dict, list)):
        s = json.dumps(v, default=str)
    elif isinstance(v, Decimal):
        s = str(v)
    else:
        s = v if v is ABSENT else json.dumps(v)
    return s if len(s) <= 120 else s[:117] + "..."


# ----------------------------------------------------------------------------------------------
# one case


class Case(object):
    def __init__(self, name, capture_file, base):
        self.name = name
        self.capture_file = capture_file
        self.base = base
        self.checks = []      # (label, ok, detail)
        self.notes = []

    def ok(self):
        return bool(self.checks) and all(c[1] for c in self.checks)


def check_format(case, gateway, label, path, extra, ref, fields, detail=""):
    try:
        recs, lines, stderr = gateway_decode(gateway, path, extra)
    except StepFailed as exc:
        case.checks.append((label, False, str(exc)))
        return
    if stderr:
        case.notes.append("%s: gateway stderr: %s" % (label, stderr[:300]))
    d = compare_records(recs, ref, fields)
    if d is None:
        case.checks.append((label, True, "%d records%s" % (len(recs), detail)))
        return
    i, rec, p, o, r = d
    text = lines[i] if i < len(lines) else "(none)"
    case.checks.append((label, False,
                        "record %d (model %s index %s addr %s) %s: %s %s, capture %s; input %s %s\n"
                        "    %s record: %s"
                        % (i, rec.get("model"), rec.get("index"), rec.get("addr"), p, label, show(o),
                           show(r), path, " ".join(extra), label,
                           text if len(text) <= 400 else text[:397] + "...")))


def run_file_device(case, gateway):
    """pysunspec2's device JSON: our decode of it against pysunspec2's FileClientDevice."""
    path = os.path.join(FIXTURES, case.capture_file)
    label = "pysunspec2 FileClientDevice"
    ours, _lines, stderr = gateway_decode(gateway, path, ["--format", "pysunspec2"])
    if stderr:
        case.notes.append("gateway stderr: %s" % stderr[:300])
    device = ss_file.FileClientDevice(path)
    device.scan()
    models = device.model_list
    case.nrecords = len(ours)
    if len(ours) != len(models):
        case.checks.append((label, False, "%d records, pysunspec2 has %d models (%s)"
                            % (len(ours), len(models), ", ".join(str(m.model_id) for m in models))))
        return
    defs = di.load_model_defs()
    stats = di.ModelStats(case.name)
    seen = {}
    problems = []
    for rec, m in zip(ours, models):
        data = m.get_mb()
        regs = list(struct.unpack(">%dH" % (len(data) // 2), data))
        want = {"model": m.model_id, "index": seen.get(m.model_id, 0), "addr": m.model_addr, "len": m.len - 2}
        seen[m.model_id] = want["index"] + 1
        for key, value in want.items():
            if rec.get(key, ABSENT) != value:
                problems.append("model %s: %s is %s, pysunspec2 %s"
                                % (m.model_id, key, show(rec.get(key, ABSENT)), value))
        if rec.get("errors") or m.error_info:
            problems.append("model %s: errors %s, pysunspec2 %r" % (m.model_id, show(rec.get("errors")), m.error_info))
        di.BASE_ADDR = m.model_addr - 2      # only for the raw register text of a mismatch
        ctx = {"model": m.model_id, "device": case.name}
        di.compare_group(di.shape_of(defs[m.model_id], regs), rec.get("values", di.MISSING),
                         m.get_dict(computed=True), regs, stats, ctx, [])
    for mm in stats.mismatches:
        problems.append("model %s %s: ours %s, pysunspec2 %s -- %s%s"
                        % (mm["model"], mm["path"], di.fmt(mm["ours"]), di.fmt(mm["theirs"]), mm["reason"],
                           ("; raw %s" % mm["raw"]) if mm.get("raw") else ""))
    kinds = ", ".join("%s %d" % (k, stats.kinds[k]) for k in di.KINDS if stats.kinds[k]) or "none"
    detail = "%d models, %d points: %d equal, documented differences: %s" % (
        len(models), stats.compared, stats.equal, kinds)
    if problems:
        case.checks.append((label, False, "%s; %d problems:\n    %s"
                            % (detail, len(problems), "\n    ".join(problems[:10]))))
    else:
        case.checks.append((label, True, detail))
        case.notes.append("%s: %s" % (label, detail))


def run_case(case, gateway, workdir):
    if case.capture_file.endswith(".pysunspec2.json"):
        run_file_device(case, gateway)
        return
    cap_path = os.path.join(FIXTURES, case.capture_file)
    cap = load_capture(cap_path)
    spans = capture_spans(cap)
    tag = case.name
    ref, _lines, stderr = gateway_decode(gateway, cap_path, ["--format", "capture"])
    if stderr:
        case.notes.append("capture: gateway stderr: %s" % stderr[:300])
    if not ref:
        case.checks.append(("capture", False, "no reading records from %s" % cap_path))
        return
    if ref[0].get("addr") != case.base + 2:
        case.checks.append(("capture", False, "first model at %s, expected %d"
                            % (ref[0].get("addr"), case.base + 2)))
        return
    case.nrecords = len(ref)

    # CSV (no network)
    csv_path = os.path.join(workdir, "%s.csv" % tag)
    write_csv(cap, csv_path)
    check_format(case, gateway, "csv", csv_path, ["--format", "csv"], ref, COMPARED_FIELDS)

    server = CaptureServer(cap_path, workdir, tag)
    try:
        try:
            server.start()
        except StepFailed as exc:
            case.checks.append(("server", False, str(exc)))
            return
        case.port = server.port
        for dtype in ("4", "4:hex"):
            for zero in (False, True):
                label = "mbpoll -t %s%s" % (dtype, " -0" if zero else "")
                out = os.path.join(workdir, "%s.mbpoll-%s%s.txt"
                                   % (tag, dtype.replace(":", "-"), "-0" if zero else ""))
                try:
                    calls, n = run_mbpoll(server.port, spans, dtype, zero, out)
                except StepFailed as exc:
                    case.checks.append((label, False, str(exc)))
                    continue
                extra = ["--format", "mbpoll"] + (["--zero-based"] if zero else [])
                check_format(case, gateway, label, out, extra, ref, COMPARED_FIELDS,
                             " from %d calls" % calls)
        label = "pysunspec2 tcp"
        out = os.path.join(workdir, "%s.pysunspec2.json" % tag)
        try:
            nmodels, errors = run_pysunspec2(server.port, case.base, out)
        except StepFailed as exc:
            case.checks.append((label, False, str(exc)))
        except Exception as exc:
            case.checks.append((label, False, "pysunspec2 raised %s: %s" % (type(exc).__name__, exc)))
        else:
            if errors:
                case.notes.append("pysunspec2 model errors: %s" % "; ".join(errors)[:300])
            fields = COMPARED_FIELDS
            detail = ""
            if case.base != PYSUNSPEC2_BASE:
                fields = tuple(f for f in COMPARED_FIELDS if f != "addr")
                detail = ", addr not compared"
            check_format(case, gateway, label, out, ["--format", "pysunspec2"], ref, fields, detail)
    finally:
        server.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gateway", required=True, help="path of the sunspec-gateway binary")
    ap.add_argument("--workdir", help="keep the peers' outputs here (default: a temp dir, removed on success)")
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated: %s" % ", ".join(CASES))
    ap.add_argument("-q", "--quiet", action="store_true", help="only the final line when passing")
    args = ap.parse_args(argv)

    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in names if c not in CASES]
    if unknown:
        sys.stderr.write("unknown cases: %s (known: %s)\n" % (", ".join(unknown), ", ".join(CASES)))
        return 2
    if shutil.which("mbpoll") is None:
        sys.stderr.write("formats_interop.py: mbpoll not found on PATH (make deps)\n")
        return 2
    gateway = os.path.abspath(args.gateway)
    if not wait_for_binary(gateway):
        sys.stderr.write("formats_interop.py: gateway binary not found at %s (build it first)\n" % gateway)
        return 2
    workdir = args.workdir or tempfile.mkdtemp(prefix="sunspec-formats-")
    os.makedirs(workdir, exist_ok=True)

    t0 = time.monotonic()
    cases = []
    try:
        for name in names:
            case = Case(name, *CASES[name])
            cases.append(case)
            try:
                run_case(case, gateway, workdir)
            except StepFailed as exc:
                case.checks.append(("capture", False, str(exc)))
    except SetupError as exc:
        sys.stderr.write("formats_interop.py: %s\n" % exc)
        return 2
    elapsed = time.monotonic() - t0

    ok = all(c.ok() for c in cases)
    for c in cases:
        passed = [lbl for lbl, good, _ in c.checks if good]
        failed = [(lbl, why) for lbl, good, why in c.checks if not good]
        if c.ok() and args.quiet:
            continue
        print("%s %s (SunS at %d, %s records%s): %s"
              % ("PASS" if c.ok() else "FAIL", c.capture_file, c.base, getattr(c, "nrecords", "?"),
                 ", port %d" % c.port if getattr(c, "port", None) else "",
                 ", ".join("%s ok" % lbl for lbl in passed) + (" ... %d failed" % len(failed) if failed else "")))
        for lbl, why in failed:
            print("  FAIL %s: %s" % (lbl, why))
        for n in c.notes:
            print("  note: %s" % n)
    print("%s: %d cases, %d format checks, %d failed, %.1fs%s"
          % ("PASS" if ok else "FAIL", len(cases), sum(len(c.checks) for c in cases),
             sum(1 for c in cases for ch in c.checks if not ch[1]), elapsed,
             "" if ok and not args.workdir else ", outputs in %s" % workdir))
    if ok and not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
