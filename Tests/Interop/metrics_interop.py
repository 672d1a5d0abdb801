#!/usr/bin/env python3
"""Interop check of the gateway's metrics against the real Prometheus server (Debian's `prometheus`).

pymodbus serves two devices (scripts/serve_capture.py), each behind a counting MBAP proxy
(live_interop.MbapProxy) that records every request and reply; the real gateway binary polls them
with `metrics: {listen: ...}`; Prometheus scrapes it every second; this script asks Prometheus's
HTTP API what it saw, after faults it caused. Cases:

  refused-read   device b refuses reads of more than 60 registers (exception 3) and is polled once an
                 hour (so its counts settle after discovery): Prometheus's exception and request
                 counters of b equal the refusals and requests the proxy saw
  device-killed  device a's server is killed: Prometheus sees a offline (device_up 0, device_state
                 offline 1), its ok requests equal the replies the proxy passed, failed requests and
                 a reconnect counted; b stays up
  promtool       `promtool check metrics` passes on the exposition; /status names both devices

    metrics_interop.py --gateway PATH [--workdir DIR] [-v]

Exit status: 0 when every case passes, 1 when one fails, 2 on a setup error (no prometheus or
promtool, no pymodbus, no binary).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import live_interop as li  # noqa: E402  (beside this file: servers, proxy, gateway, helpers)
import formats_interop as fi  # noqa: E402

SCRAPE = "1s"
WAIT = 30.0


def http_get(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


class Prometheus(object):
    """`prometheus` scraping one target every second, on a free port, with its data in the workdir."""

    def __init__(self, workdir, target):
        self.workdir = workdir
        self.port = fi.free_port()
        self.config = os.path.join(workdir, "prometheus.yml")
        self.log_path = os.path.join(workdir, "prometheus.log")
        with open(self.config, "w") as f:
            f.write("global: {scrape_interval: %s, scrape_timeout: 900ms}\n"
                    "scrape_configs:\n  - job_name: gateway\n    static_configs: [{targets: ['%s']}]\n" % (SCRAPE, target))
        self.proc = None

    def start(self):
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen(
                ["prometheus", "--config.file=" + self.config, "--storage.tsdb.path=" + os.path.join(self.workdir, "tsdb"),
                 "--web.listen-address=127.0.0.1:%d" % self.port], stdin=subprocess.DEVNULL, stdout=logf,
                stderr=subprocess.STDOUT, start_new_session=True)

        def ready():
            if self.proc.poll() is not None:
                return True
            try:
                return http_get("http://127.0.0.1:%d/-/ready" % self.port, 1.0)[0] == 200
            except OSError:
                return False
        li.wait_until(ready, li.START_TIMEOUT)
        if self.proc.poll() is not None:
            raise li.SetupError("prometheus exited with %s: %s" % (self.proc.returncode, li.tail(self.log_path)))
        return self

    def query(self, expr):
        """The instant vector of `expr` as {frozenset(labels): value}."""
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (self.port, urllib.parse.urlencode({"query": expr}))
        _, body = http_get(url)
        data = json.loads(body)
        li.check(data.get("status") == "success", "query %s: %s" % (expr, body[:300]))
        out = {}
        for r in data["data"]["result"]:
            labels = {k: v for k, v in r["metric"].items() if k not in ("job", "instance")}
            out[frozenset(labels.items())] = float(r["value"][1])
        return out

    def scalar(self, expr):
        """The one value of `expr`, or None when it has none."""
        values = list(self.query(expr).values())
        return values[0] if len(values) == 1 else None

    def eventually(self, expr, want, what):
        """Waits until `expr` has the one value `want` (a number, or a predicate)."""
        ok = (lambda v: v is not None and want(v)) if callable(want) else (lambda v: v == want)
        seen = li.wait_until(lambda: ok(self.scalar(expr)) or None, WAIT, step=0.25)
        li.check(seen, "%s: Prometheus has %s = %s, wanted %s" % (what, expr, self.scalar(expr),
                                                                    "a value that fits" if callable(want) else want))

    def stop(self):
        li.stop_popen(self.proc)

    def __repr__(self):
        return "prometheus"


def metric(name, **labels):
    inner = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    return "sunspec_gateway_%s{%s}" % (name, inner)


def run(args, workdir):
    procs = li.Procs()
    results = []
    try:
        a_server = procs.add(li.CaptureServer(workdir, "a", [li.FIXTURE], [1]).start())
        b_server = procs.add(li.CaptureServer(workdir, "b", [li.FIXTURE], [1], extra=["--max-read", "60"]).start())
        a_proxy = procs.add(li.MbapProxy(a_server.port).start())
        b_proxy = procs.add(li.MbapProxy(b_server.port).start())
        metrics_port = fi.free_port()
        socket_path = os.path.join(workdir, "gw.sock")
        yaml_text = li.config_yaml(socket_path, [
            {"name": "a", "tcp": "127.0.0.1:%d" % a_proxy.port, "unit": 1, "interval": "500ms"},
            {"name": "b", "tcp": "127.0.0.1:%d" % b_proxy.port, "unit": 1, "interval": "1h"},
        ]) + 'metrics: {listen: "127.0.0.1:%d"}\n' % metrics_port
        gateway = procs.add(li.Gateway(args.gateway, workdir, "gw", yaml_text, socket_path).start())
        prom = procs.add(Prometheus(workdir, "127.0.0.1:%d" % metrics_port).start())

        def case(name, body):
            try:
                body()
                results.append((name, None))
                print("PASS %s" % name)
            except li.CaseFailed as exc:
                results.append((name, str(exc)))
                print("FAIL %s: %s" % (name, exc))
            sys.stdout.flush()

        def refused_read():
            prom.eventually(metric("device_up", device="b"), 1, "b online")
            refusals = [r for r in b_proxy.replies_since(0) if r[4] == 3]
            li.check(refusals, "the proxy saw no refused read of b")
            prom.eventually(metric("modbus_exceptions_total", device="b", code="3"), len(refusals), "b's refusals")
            prom.eventually("sum(sunspec_gateway_modbus_requests_total{device=\"b\"})", b_proxy.count(), "b's requests")
            # Every exception reply (the refusals, and any other code the device sent) is a request with
            # result exception.
            exceptions = [r for r in b_proxy.replies_since(0) if r[4] is not None]
            prom.eventually(metric("modbus_requests_total", device="b", function="read_holding_registers", result="exception"),
                            len(exceptions), "b's requests answered with an exception")

        def device_killed():
            prom.eventually(metric("device_up", device="a"), 1, "a online")
            prom.eventually(metric("poll_duration_seconds_count", device="a"), lambda v: v >= 2, "a polled")
            a_server.kill()
            prom.eventually(metric("device_up", device="a"), 0, "a offline")
            prom.eventually(metric("device_state", device="a", state="offline"), 1, "a's state")
            answered = [r for r in a_proxy.replies_since(0) if r[4] is None]
            prom.eventually(metric("modbus_requests_total", device="a", function="read_holding_registers", result="ok"),
                            len(answered), "a's answered requests")
            prom.eventually("sum(sunspec_gateway_modbus_requests_total{device=\"a\",result!=\"ok\"})", lambda v: v >= 1,
                            "a's failed requests")
            prom.eventually(metric("reconnects_total", endpoint="127.0.0.1:%d" % a_proxy.port), lambda v: v >= 1,
                            "a's reconnects")
            prom.eventually(metric("device_up", device="b"), 1, "b still online")
            li.check(gateway.alive(), "the gateway exited: %s" % gateway.log_tail())

        def promtool():
            _, exposition = http_get("http://127.0.0.1:%d/metrics" % metrics_port)
            p = subprocess.run(["promtool", "check", "metrics"], input=exposition.encode(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30)
            li.check(p.returncode == 0, "promtool check metrics: %s" % p.stdout.decode()[:1500])
            _, status = http_get("http://127.0.0.1:%d/status" % metrics_port)
            report = json.loads(status)
            states = {d["name"]: d.get("state") for d in report["devices"]}
            li.check(states == {"a": "offline", "b": "online"}, "/status says %s" % states)

        case("refused-read", refused_read)
        case("device-killed", device_killed)
        case("promtool", promtool)
    finally:
        procs.stop_all()
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gateway", required=True)
    p.add_argument("--workdir")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()
    li.VERBOSE = args.verbose
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            sys.stderr.write("metrics_interop.py: %s is not installed (make deps)\n" % tool)
            return 2
    workdir = args.workdir or tempfile.mkdtemp(prefix="metrics-interop-")
    try:
        results = run(args, workdir)
    except li.SetupError as exc:
        sys.stderr.write("metrics_interop.py: %s\n" % exc)
        return 2
    except li.CaseFailed as exc:
        print("FAIL setup: %s" % exc)
        return 1
    except Exception:
        traceback.print_exc()
        return 1
    failed = [r for r in results if r[1]]
    print("%d passed, %d failed" % (len(results) - len(failed), len(failed)))
    if not failed and not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())
