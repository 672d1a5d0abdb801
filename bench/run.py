#!/usr/bin/env python3
"""`make bench`: sunspec-gateway beside pysunspec2, measured in the same run on the same inputs.

1. Core decode of the 1,030-register battery-inverter capture (registers in, typed values out):
   sunspec-bench core vs pysunspec2 set_mb + get_dict(computed=True).
2. The whole pipeline: a .jsonl of 2,000 captures decoded to reading lines (parse, decode, JSON):
   `sunspec-gateway decode` vs pysunspec2 doing the same (json.loads, set_mb, get_dict, json.dumps).
3. Scan and poll transactions on the wire, the gateway and pysunspec2 against the same device
   (Tests/Interop/live_interop.py's counting proxy, when present).
4. The live stream: 20 simulated devices polled at 10 Hz through libmodbus, 10 subscribers on the
   socket: readings per second, p50/p99 from the registers' read to the line at a subscriber.
5. A fleet of 1,000 simulated TCP devices (one `simulate --ports 1000` process) polled at 1 Hz through
   1,000 libmodbus connections: the rate held, the gateway's CPU and resident memory; the same fleet
   with /metrics scraped every second; and the same fleet publishing every reading (every model
   instance of every poll) to a local `mosquitto` (plain JSON topics at QoS 1, then with Sparkplug B
   too): messages per second received by the broker (its own `$SYS` count, with no subscriber
   loading this machine), then delivered to a paho-mqtt subscriber in another process
   (bench/mqtt_count.py); the gateway's cores and RSS beside the fleet without MQTT, and the polls held.
6. The SunSpec Modbus TCP export: 10 clients reading 125 registers each as fast as they can for 5 s
   while the gateway keeps polling five vendor-profile devices and a SunSpec device
   (Tests/Interop/bridge_interop.py --bench).

Prints each figure, both sides where there is a peer, and the ratio against the targets (core >= 100x,
pipeline >= 30x, fleet held at 1 Hz under one core and 300 MB). A benchmark, not a test.
"""
import json
import os
import pwd
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
GATEWAY = os.path.join(REPO, ".build", "release", "sunspec-gateway")
BENCH = os.path.join(REPO, ".build", "release", "sunspec-bench")
CAPTURE = os.path.join(REPO, "Fixtures", "battery-inverter.json")


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def timed(cmd, stdout):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=stdout)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss


def main():
    seconds = os.environ.get("BENCH_SECONDS", "3")
    captures = int(os.environ.get("BENCH_CAPTURES", "2000"))
    print(f"# machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M:%S')}")

    # 1. Core decode, both sides back to back.
    ours = run_json([BENCH, "core", CAPTURE, seconds])
    peer = run_json([PY, os.path.join(REPO, "bench", "pysunspec2_decode.py"), "core", "--capture", CAPTURE, "--seconds", seconds])
    ratio = peer["us_per_decode"] / ours["us_per_decode"]
    print(json.dumps(ours))
    print(json.dumps(peer))
    print(f"core decode ({ours['registers']} registers): sunspec-gateway {ours['us_per_decode']} us, "
          f"pysunspec2 {peer['us_per_decode']} us -> {ratio:.0f}x (target >= 100x); "
          f"with the reading lines written: {ours['us_per_decode_and_json']} us")

    # 2. Whole pipeline over a recorded history.
    with tempfile.TemporaryDirectory() as tmp:
        history = os.path.join(tmp, "history.jsonl")
        subprocess.run([PY, os.path.join(REPO, "bench", "make_history.py"), str(captures), history], check=True,
                       stdout=subprocess.DEVNULL)
        with open(os.devnull, "w") as null:
            runs = [timed([GATEWAY, "decode", history], null) for _ in range(5)]
        wall, cpu, rss = min(runs)
        lines = subprocess.run([GATEWAY, "decode", history], check=True, capture_output=True).stdout.count(b"\n")
        peer_pipe = run_json([PY, os.path.join(REPO, "bench", "pysunspec2_decode.py"), "pipeline", history])
        print(json.dumps({"peer": "sunspec-gateway", "bench": "pipeline", "captures": captures, "lines": lines,
                          "seconds": round(wall, 4), "cpu_seconds": round(cpu, 4), "captures_per_s": round(captures / wall),
                          "max_rss_kb": rss}))
        print(json.dumps(peer_pipe))
        ratio = peer_pipe["seconds"] / wall
        print(f"pipeline ({captures} captures, {os.path.getsize(history) // 1024} KiB): sunspec-gateway {wall:.3f} s "
              f"(best of 5), pysunspec2 {peer_pipe['seconds']:.3f} s -> {ratio:.0f}x (target >= 30x)")


def live():
    seconds = os.environ.get("BENCH_LIVE_SECONDS", "10")
    ours = run_json([BENCH, "stream", CAPTURE, "--devices", "20", "--subscribers", "10", "--interval", "100", "--seconds", seconds])
    print(json.dumps(ours))
    print(f"stream: {ours['readings_per_s']} readings/s to each of {ours['subscribers']} subscribers, "
          f"read-to-line p50 {ours['latency_ms_p50']:.1f} ms, p99 {ours['latency_ms_p99']:.1f} ms "
          f"(simulated devices in the same process; {ours['cpu_percent']}% of a core in all)")
    fleets()


def fleets(scrape=True, mqtt=True):
    seconds = os.environ.get("BENCH_FLEET_SECONDS", "20")
    base = [BENCH, "fleet", "--first-port", "31000", "--devices", "1000", "--seconds", seconds]
    sims = []
    try:
        sims.append(subprocess.Popen([GATEWAY, "simulate", CAPTURE, "--tcp", "127.0.0.1:31000", "--ports", "1000",
                                      "--duration", "600s"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(2)
        fleet = run_json(base)
        print(json.dumps(fleet))
        print(f"fleet: {fleet['devices']} TCP devices at 1 Hz: {fleet['polls_per_s']} polls/s "
              f"({'held' if fleet['held'] else 'NOT held'}), {fleet['cpu_cores']} cores (target < 1), "
              f"{fleet['rss_mb']} MB resident (target < 300)")
        if scrape:
            # The same fleet with /metrics scraped every second (by curl, in another process).
            scraped = run_json(base + ["--scrape-ms", "1000"])
            print(json.dumps(scraped))
            print(f"fleet scraped every 1 s: {scraped['polls_per_s']} polls/s, {scraped['cpu_cores']} cores "
                  f"(unscraped {fleet['cpu_cores']}), {scraped['rss_mb']} MB, {scraped['scrapes']} scrapes of "
                  f"{scraped['scrape_bytes'] // 1024} KiB, p50 {scraped['scrape_ms_p50']} ms")
            one = run_json([BENCH, "metrics", "--devices", "1000", "--rounds", "20"])
            print(json.dumps(one))
            print(f"metrics: one exposition of {one['devices']} devices ({one['exposition_bytes'] // 1024} KiB) "
                  f"costs {one['cpu_ms_per_exposition']} ms of CPU")
        if mqtt:
            # Counted by the broker alone (no subscriber's fan-out on this machine), then with a subscriber.
            mqtt_fleet(base, fleet, sparkplug=False, subscriber=False)
            mqtt_fleet(base, fleet, sparkplug=True, subscriber=False)
            mqtt_fleet(base, fleet, sparkplug=False, subscriber=True)
    finally:
        for p in sims:
            p.terminate()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def count_between(samples, start, end):
    """Messages counted from `start` to `end` (Unix times), from the subscriber's cumulative samples."""
    def at(t):
        before = [c for (ts, c, _) in samples if ts <= t]
        return before[-1] if before else 0
    return at(end) - at(start)


def broker_rate(broker, start, end):
    """Messages per second the broker counted received from `start` to `end`, from its `$SYS` samples
    ([arrival time, cumulative count], one every second): the samples nearest inside the window."""
    inside = [(t, c) for (t, c) in broker if start <= t <= end]
    if len(inside) < 2:
        return None
    (t0, c0), (t1, c1) = inside[0], inside[-1]
    return round((c1 - c0) / (t1 - t0), 1) if t1 > t0 else None


def mqtt_fleet(base, fleet, sparkplug, subscriber):
    """The fleet publishing to a mosquitto of its own. The broker counts what it receives (`$SYS`);
    with `subscriber`, a paho-mqtt subscriber in another process counts what is delivered too."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(exe):
        print("fleet with MQTT: mosquitto not found (make deps); skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        conf = os.path.join(tmp, "mosquitto.conf")
        log = os.path.join(tmp, "mosquitto.log")
        with open(conf, "w") as f:
            # `user`: run as root (CI), mosquitto would drop to user mosquitto.
            f.write("\n".join(["user %s" % pwd.getpwuid(os.getuid()).pw_name, "listener %d 127.0.0.1" % port,
                               "allow_anonymous true", "persistence false", "max_queued_messages 0",
                               "sys_interval 1", "log_dest file %s" % log, "log_type error", "log_type warning"]) + "\n")
        broker = subprocess.Popen([exe, "-c", conf], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        sub = None
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or broker.poll() is not None:
                        print("fleet with MQTT: mosquitto did not start; skipped")
                        return
                    time.sleep(0.05)
            broker_cpu0 = proc_cpu(broker.pid)
            sub = subprocess.Popen([PY, os.path.join(REPO, "bench", "mqtt_count.py"), str(port)]
                                   + ([] if subscriber else ["--broker-only"]), stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
            if sub.stdout.readline().strip() != "ready":
                print("fleet with MQTT: the subscriber did not start; skipped")
                return
            args = base + ["--mqtt", "127.0.0.1:%d" % port] + (["--sparkplug", "1"] if sparkplug else [])
            ours = run_json(args)
            broker_cpu = proc_cpu(broker.pid) - broker_cpu0
            time.sleep(1.2)  # the broker's next $SYS sample
            sub.stdin.close()
            counted = json.loads(sub.stdout.readline())
            sub.wait(10)
        finally:
            if sub and sub.poll() is None:
                sub.kill()
            broker.terminate()
            broker.wait(10)
    window = ours["window_end"] - ours["window_start"]
    received = count_between(counted["samples"], ours["window_start"], ours["window_end"])
    ours.pop("scrape_ms"), ours.pop("scrapes"), ours.pop("scrape_ms_p50"), ours.pop("scrape_bytes")
    ours.update({"broker_messages_per_s": broker_rate(counted["broker"], ours["window_start"], ours["window_end"]),
                 "subscriber": subscriber, "subscriber_messages_per_s": round(received / window, 1) if subscriber else None,
                 "subscriber_kinds": counted["kinds"], "subscriber_cpu_s": counted["cpu_seconds"],
                 "broker_cores": round(broker_cpu / window, 2)})
    print(json.dumps(ours))
    what = "JSON topics (QoS 1) and Sparkplug B" if sparkplug else "JSON topics (QoS 1)"
    delivered = (f", {ours['subscriber_messages_per_s']:.0f}/s delivered to a paho-mqtt subscriber in another process"
                 if subscriber else " (no subscriber)")
    print(f"fleet with MQTT, {what}: {ours['broker_messages_per_s']} messages/s received by mosquitto{delivered} "
          f"({ours['readings_per_s']:.0f} readings/s polled), {ours['polls_per_s']} polls/s "
          f"({'held' if ours['held'] else 'NOT held'}); the gateway {ours['cpu_cores']} cores, {ours['rss_mb']} MB "
          f"(without MQTT: {fleet['cpu_cores']} cores, {fleet['rss_mb']} MB); mosquitto {ours['broker_cores']} cores")


def proc_cpu(pid):
    """CPU seconds of a running process (Linux /proc)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def transactions():
    script = os.path.join(REPO, "Tests", "Interop", "live_interop.py")
    if not os.path.exists(script):
        print("transactions: Tests/Interop/live_interop.py not present; skipped")
        return
    out = subprocess.run([PY, script, "--gateway", GATEWAY, "--cases", "tcp-transactions"], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if "transaction" in line.lower():
            print(line)


def refused_registers():
    """Devices that refuse registers inside their models: the SMA capture and a map with random holes,
    served by pymodbus, polled by the gateway (rogue_interop.py's sma and random-holes cases), and
    pysunspec2's scan of the same SMA server through a counting proxy."""
    script = os.path.join(REPO, "Tests", "Interop", "rogue_interop.py")
    out = subprocess.run([PY, script, "--gateway", GATEWAY, "--cases", "sma,random-holes"], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith(("PASS", "FAIL")) and "cases" not in line:
            print("refused registers: " + " ".join(line.split()[1:2] + line.split()[3:]))
    sys.path.insert(0, os.path.join(REPO, "Tests", "Interop"))
    import live_interop as li
    import sunspec2.modbus.client as ss_client
    sma = os.path.join(REPO, "Fixtures", "real", "sma-sunny-boy-3.6-2025-04-10.json")
    with tempfile.TemporaryDirectory() as work:
        server = li.CaptureServer(work, "sma", [sma], [126]).start()
        proxy = li.MbapProxy(server.port).start()
        try:
            dev = ss_client.SunSpecModbusClientDeviceTCP(slave_id=126, ipaddr="127.0.0.1", ipport=proxy.port, timeout=5)
            try:
                dev.scan()
                result = "found %d models" % len(dev.model_list)
            except Exception as exc:  # what pysunspec2 does with a device that refuses registers
                result = "aborted (%s: %s)" % (type(exc).__name__, str(exc)[:120])
            finally:
                dev.close()
            print("refused registers: pysunspec2 1.3.7 scan of the same SMA device: %s after %d transactions"
                  % (result, proxy.count()))
        finally:
            proxy.stop()
            server.stop()


def export_bench():
    script = os.path.join(REPO, "Tests", "Interop", "bridge_interop.py")
    if not os.path.exists(script):
        print("export: Tests/Interop/bridge_interop.py not present; skipped")
        return
    out = subprocess.run([PY, script, "--gateway", GATEWAY, "--bench"], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        print(line)
    if out.returncode != 0:
        for line in out.stderr.strip().splitlines()[-5:]:
            print("export bench: %s" % line)


if __name__ == "__main__":
    if sys.argv[1:] == ["mqtt"]:  # only the fleet, without MQTT and with it (bench/run.py mqtt)
        fleets(scrape=False)
        sys.exit(0)
    main()
    transactions()
    refused_registers()
    live()
    export_bench()
