#!/usr/bin/env python3
"""Interop check of the MQTT output: the real gateway publishing to a real `mosquitto` broker.

The suite starts mosquitto on a free port (persistence on, so a subscriber's session outlives a broker
crash), a device (pymodbus serving the battery-inverter fixture, or `sunspec-gateway simulate
--animate` when values must move), the gateway binary with an `mqtt:` section, and a paho-mqtt
subscriber; every topic and payload is checked against the gateway's own socket stream. Sparkplug B
payloads are decoded by the Python `protobuf` package with the Sparkplug B schema, built here at
runtime from a FileDescriptorProto (no generated code). Cases:

  json-topics     {prefix}/{device}/{model}/{index} = the stream's reading lines, /meta and status
                  retained, gateway/status online, offline at SIGTERM and as the Will after SIGKILL
  sparkplug       NBIRTH (seq 0, bdSeq, Node Control/Rebirth), DBIRTH with every point (datatypes,
                  units, values as the stream's), DDATA by exception with per-metric timestamps, seq
                  0-255 in order, NCMD Rebirth answered, DCMD refused and logged (no control:), DDEATH
                  when the device goes away, NDEATH (the Will) with the NBIRTH's bdSeq
  dcmd            a gateway with `control:` and a writable device: a DCMD of an allowed point, named and typed
                  as the DBIRTH has it, applied (audited with client mqtt, its intent line before its outcome,
                  on the stream, read back with `control get`, the next DDATA has it); a DCMD of a point not
                  allowed refused, audited (one line), the register unchanged; both in control_requests_total
  broker-restart  the broker killed (SIGKILL) for --outage seconds and started again: the stream never
                  stops, every reading the stream had is on MQTT in order, births again (bdSeq + 1),
                  DDATA kept while away marked is_historical
  broker-stalled  the broker stopped (SIGSTOP) for 20 s, its connections open, 40 devices publishing JSON and
                  Sparkplug (keepalive 8 s): the kernel's buffers fill (a write gets EAGAIN), PINGREQs and a
                  reconnect's CONNECT go unanswered; the stream keeps its rate, /metrics answers, both clients
                  log the keepalive timeout; after SIGCONT every reading of 103/0 is on MQTT in order, births
                  again, no NDEATH after the last NBIRTH with its bdSeq, gateway/status online
  primary-host    sparkplug.primary_host scada1, paho publishing its retained STATE: no births before
                  {"online":true}, births after; an older STATE ignored; a newer offline one: NDEATH (the
                  NBIRTH's bdSeq), a clean reconnect, waiting; online again: births with bdSeq + 1; JSON
                  topics unaffected throughout

    mqtt_interop.py --gateway PATH [--cases a,b] [--outage 30] [--workdir DIR] [-v]

Exit status: 0 when every case passes, 1 when one fails, 2 on a setup error.
"""

import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
try:
    import paho.mqtt.client as mqtt
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    import formats_interop as fi
    import live_interop as li
except ImportError as exc:  # pragma: no cover - setup error
    sys.stderr.write("mqtt_interop.py: paho-mqtt, protobuf or pysunspec2 is not importable from %s (%s)\n"
                     "install Tests/Interop/requirements.txt into this Python\n" % (sys.executable, exc))
    sys.exit(2)

CaseFailed, check = li.CaseFailed, li.check
FIXTURE = li.FIXTURE
INTERVAL = "500ms"
OUTAGE = 30.0


# ----------------------------------------------------------------------------------------------
# the Sparkplug B schema, built at runtime


def sparkplug_payload_class():
    """org.eclipse.tahu.protobuf.Payload with Metric, PropertySet and PropertyValue (the fields the
    Sparkplug B 3.0 specification gives; DataSet, Template and MetaData are left out)."""
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="sparkplug_b_interop.proto", package="org.eclipse.tahu.protobuf",
                                             syntax="proto2")
    pkg = ".org.eclipse.tahu.protobuf.Payload."

    def add(msg, name, number, kind, repeated=False, type_name=None, oneof=None):
        f = msg.field.add(name=name, number=number, type=kind,
                          label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL)
        if type_name:
            f.type_name = pkg + type_name
        if oneof is not None:
            f.oneof_index = oneof

    payload = fdp.message_type.add(name="Payload")
    add(payload, "timestamp", 1, F.TYPE_UINT64)
    add(payload, "metrics", 2, F.TYPE_MESSAGE, repeated=True, type_name="Metric")
    add(payload, "seq", 3, F.TYPE_UINT64)
    add(payload, "uuid", 4, F.TYPE_STRING)
    add(payload, "body", 5, F.TYPE_BYTES)
    pv = payload.nested_type.add(name="PropertyValue")
    pv.oneof_decl.add(name="value")
    add(pv, "type", 1, F.TYPE_UINT32)
    add(pv, "is_null", 2, F.TYPE_BOOL)
    for name, number, kind in (("int_value", 3, F.TYPE_UINT32), ("long_value", 4, F.TYPE_UINT64),
                               ("float_value", 5, F.TYPE_FLOAT), ("double_value", 6, F.TYPE_DOUBLE),
                               ("boolean_value", 7, F.TYPE_BOOL), ("string_value", 8, F.TYPE_STRING)):
        add(pv, name, number, kind, oneof=0)
    ps = payload.nested_type.add(name="PropertySet")
    add(ps, "keys", 1, F.TYPE_STRING, repeated=True)
    add(ps, "values", 2, F.TYPE_MESSAGE, repeated=True, type_name="PropertyValue")
    metric = payload.nested_type.add(name="Metric")
    metric.oneof_decl.add(name="value")
    add(metric, "name", 1, F.TYPE_STRING)
    add(metric, "alias", 2, F.TYPE_UINT64)
    add(metric, "timestamp", 3, F.TYPE_UINT64)
    add(metric, "datatype", 4, F.TYPE_UINT32)
    add(metric, "is_historical", 5, F.TYPE_BOOL)
    add(metric, "is_transient", 6, F.TYPE_BOOL)
    add(metric, "is_null", 7, F.TYPE_BOOL)
    add(metric, "properties", 9, F.TYPE_MESSAGE, type_name="PropertySet")
    for name, number, kind in (("int_value", 10, F.TYPE_UINT32), ("long_value", 11, F.TYPE_UINT64),
                               ("float_value", 12, F.TYPE_FLOAT), ("double_value", 13, F.TYPE_DOUBLE),
                               ("boolean_value", 14, F.TYPE_BOOL), ("string_value", 15, F.TYPE_STRING),
                               ("bytes_value", 16, F.TYPE_BYTES)):
        add(metric, name, number, kind, oneof=0)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("org.eclipse.tahu.protobuf.Payload"))


Payload = sparkplug_payload_class()
INT_TYPES = {1: 8, 2: 16, 3: 32}        # Int8/16/32 in int_value, two's complement
DOUBLE, BOOLEAN, STRING, INT64 = 10, 11, 12, 4


def decode(raw):
    p = Payload()
    p.ParseFromString(raw)
    return p


def metric_value(m):
    """A decoded metric's value as Python (None for is_null), signed types sign-extended."""
    if m.is_null:
        return None
    kind = m.WhichOneof("value")
    v = getattr(m, kind)
    if m.datatype in INT_TYPES:
        bits = INT_TYPES[m.datatype]
        v &= (1 << bits) - 1
        return v - (1 << bits) if v >> (bits - 1) else v
    if m.datatype == INT64:
        return v - (1 << 64) if v >> 63 else v
    return v


def units_of(m):
    keys = list(m.properties.keys)
    return m.properties.values[keys.index("units")].string_value if "units" in keys else None


def flatten(values, prefix=""):
    """A reading's `values` as Sparkplug metric names: group[j]/point, group/point."""
    out = {}
    for k, v in values.items():
        if isinstance(v, dict):
            out.update(flatten(v, "%s%s/" % (prefix, k)))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            for j, inst in enumerate(v):
                out.update(flatten(inst, "%s%s[%d]/" % (prefix, k, j)))
        else:
            out[prefix + k] = v
    return out


def ms(ts):
    return int(round(datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=__import__("datetime").timezone.utc).timestamp() * 1000))


def same_value(sparkplug, stream):
    if stream is None or sparkplug is None:
        return stream is None and sparkplug is None
    if isinstance(stream, Decimal) or isinstance(sparkplug, float):
        return abs(float(stream) - float(sparkplug)) <= 1e-6 * max(1.0, abs(float(stream)))
    return sparkplug == stream


# ----------------------------------------------------------------------------------------------
# the broker and the subscriber


class Broker(object):
    """mosquitto on 127.0.0.1:port, persistent (autosave every second), no queue limit."""

    def __init__(self, workdir, tag, tls=None):
        self.workdir, self.tag, self.tls = workdir, tag, tls
        self.port = fi.free_port()
        self.conf = os.path.join(workdir, "%s.mosquitto.conf" % tag)
        self.log_path = os.path.join(workdir, "%s.mosquitto.log" % tag)
        store = os.path.join(workdir, "%s.store" % tag)
        os.makedirs(store, exist_ok=True)
        # `user`: run as root (CI), mosquitto would drop to user mosquitto, who cannot write here.
        lines = ["user %s" % pwd.getpwuid(os.getuid()).pw_name, "listener %d 127.0.0.1" % self.port, "allow_anonymous true", "persistence true",
                 "persistence_location %s/" % store, "autosave_interval 1", "max_queued_messages 0",
                 "queue_qos0_messages true",
                 "log_dest file %s" % self.log_path, "log_type all"]
        if tls:
            lines += ["cafile %s" % tls["ca"], "certfile %s" % tls["cert"], "keyfile %s" % tls["key"]]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None

    def start(self):
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([exe, "-c", self.conf], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        ok = li.wait_until(lambda: self.proc.poll() is not None or self._listening(), li.START_TIMEOUT)
        check(ok and self.proc.poll() is None, "mosquitto did not start: %s" % li.tail(self.log_path))
        return self

    def _listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def kill(self):
        li.stop_popen(self.proc, signal.SIGKILL)

    def stop(self):
        li.stop_popen(self.proc)

    def __repr__(self):
        return "mosquitto %s" % self.tag


class Collector(object):
    """A paho-mqtt subscriber that keeps every message (monotonic time, topic, payload, retain) and
    reconnects when the broker comes back."""

    def __init__(self, port, topics, client_id, persistent=False, ca=None):
        self.msgs = []
        self.cond = threading.Condition()
        self.connects = 0
        self.topics = topics
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=not persistent)
        self.client.on_connect = self._connected
        self.client.on_message = self._message
        self.client.reconnect_delay_set(0.2, 1)
        if ca:
            self.client.tls_set(ca_certs=ca)
        self.client.connect("localhost" if ca else "127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        check(self.wait(lambda c: c.connects > 0, 10), "the subscriber could not connect")

    def _connected(self, client, _userdata, _flags, reason, _props):
        for t in self.topics:
            client.subscribe(t, qos=1)
        with self.cond:
            self.connects += 1
            self.cond.notify_all()

    def _message(self, _client, _userdata, msg):
        with self.cond:
            self.msgs.append((time.monotonic(), msg.topic, bytes(msg.payload), bool(msg.retain)))
            self.cond.notify_all()

    def wait(self, pred, timeout):
        with self.cond:
            return self.cond.wait_for(lambda: pred(self), timeout)

    def on(self, topic):
        with self.cond:
            return [(t, p, r) for t, tp, p, r in self.msgs if tp == topic]

    def publish(self, topic, payload):
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def stop(self):
        self.client.loop_stop()
        self.client.disconnect()

    def __repr__(self):
        return "collector"


def mqtt_yaml(port, client_id, prefix=None, sparkplug=None, keepalive="5s", ca=None, primary_host=None):
    lines = ["mqtt:", '  broker: "%s:%d"' % ("localhost" if ca else "127.0.0.1", port), "  client_id: %s" % client_id, "  keepalive: %s" % keepalive,
             "  qos: 1"]
    if prefix:
        lines.append("  topic_prefix: %s" % prefix)
    if sparkplug:
        lines.append("  sparkplug: {group: %s, node: %s%s}" % (sparkplug + (", primary_host: %s" % primary_host if primary_host else "",)))
    if ca:
        lines.append("  tls: {ca_file: %s}" % ca)
    return "\n".join(lines) + "\n"


class Simulator(object):
    """`sunspec-gateway simulate --animate` (or `--writable`) of the fixture on a free port."""

    def __init__(self, binary, workdir, tag, mode="--animate"):
        self.binary, self.port, self.mode = binary, fi.free_port(), mode
        self.log_path = os.path.join(workdir, "%s.simulate.log" % tag)
        self.proc = None

    def start(self):
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen([self.binary, "simulate", self.mode, "--tcp", "127.0.0.1:%d" % self.port,
                                          FIXTURE], stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                         start_new_session=True)
        ok = li.wait_until(lambda: self.proc.poll() is not None or Broker._listening(self), li.START_TIMEOUT)
        check(ok and self.proc.poll() is None, "simulate did not start: %s" % li.tail(self.log_path))
        return self

    def stop(self):
        li.stop_popen(self.proc)

    def __repr__(self):
        return "simulate"


def gateway(ctx, tag, device_port, extra):
    path = ctx.sock(tag)
    text = li.config_yaml(path, [{"name": "bess-1", "tcp": "127.0.0.1:%d" % device_port, "unit": 1}],
                          interval=INTERVAL) + extra
    return ctx.procs.add(li.Gateway(ctx.binary, ctx.workdir, tag, text, path)).start()


def stream(ctx, gw):
    sub = ctx.procs.add(li.Subscriber(gw.socket_path))
    check(sub.wait(lambda s: s.state("bess-1") == "online" and len(s.readings("bess-1")) > 0, li.ONLINE_TIMEOUT),
          "bess-1 not online on the stream: %s" % gw.log_tail())
    return sub


# ----------------------------------------------------------------------------------------------
# cases


def case_json_topics(ctx):
    broker = ctx.procs.add(Broker(ctx.workdir, "json").start())
    server = ctx.procs.add(li.CaptureServer(ctx.workdir, "json", [FIXTURE], [1]).start())
    col = ctx.procs.add(Collector(broker.port, ["sunspec/#"], "json-sub"))
    gw = gateway(ctx, "json", server.port, mqtt_yaml(broker.port, "gw-json", prefix="sunspec"))
    sub = stream(ctx, gw)
    status = [r for _t, r in sub.snapshot() if r.get("type") == "status" and r.get("state") == "online"][-1]
    instances = sorted({(r["model"], r["index"]) for _t, r in sub.readings("bess-1")})
    check(len(instances) == len(status["models"]), "instances %s, status models %s" % (instances, status["models"]))
    topics = ["sunspec/bess-1/%d/%d" % i for i in instances]
    # 3 readings of each polled instance (the static ones, model 1, are read at discovery only).
    def polled(t):
        model, index = (int(x) for x in t.split("/")[2:4])
        return len([r for _w, r in sub.readings("bess-1") if (r["model"], r["index"]) == (model, index)])

    check(sub.wait(lambda s: polled("sunspec/bess-1/103/0") >= 4, 20), "the stream has not 4 polls")
    check(col.wait(lambda c: all(len(c.on(t)) >= min(3, polled(t)) for t in topics), 20),
          "not 3 readings on each of %s: %s" % (topics, {t: len(col.on(t)) for t in topics}))
    # Each reading on MQTT is a line of the stream, the same JSON.
    lines = {(r["model"], r["index"], r["ts"]): r for _t, r in sub.readings("bess-1")}
    compared = 0
    for t in topics:
        for _when, payload, retain in col.on(t):
            rec = json.loads(payload, parse_float=Decimal)
            check(not retain, "%s retained" % t)
            key = (rec["model"], rec["index"], rec["ts"])
            check(key in lines, "%s: ts %s is not on the stream" % (t, rec["ts"]))
            check(rec == lines[key], "%s: %s differs from the stream's %s" % (t, rec, lines[key]))
            compared += 1
    metas = {(r["model"], r["index"]): r for _t, r in sub.snapshot() if r.get("type") == "meta"}
    # A subscriber arriving later gets the retained state: online, the status, every meta.
    late = ctx.procs.add(Collector(broker.port, ["sunspec/#"], "json-late"))
    wanted = ["sunspec/gateway/status", "sunspec/bess-1/status"] + [t + "/meta" for t in topics]
    check(late.wait(lambda c: all(c.on(t) for t in wanted), 10), "retained topics missing: %s"
          % [t for t in wanted if not late.on(t)])
    check(late.on("sunspec/gateway/status")[0][1:] == (b"online", True), "gateway/status: %r" % (late.on("sunspec/gateway/status"),))
    st = json.loads(late.on("sunspec/bess-1/status")[0][1])
    check(st["type"] == "status" and st["state"] == "online" and late.on("sunspec/bess-1/status")[0][2], "status: %s" % st)
    for (model, index), meta in metas.items():
        _w, payload, retain = late.on("sunspec/bess-1/%d/%d/meta" % (model, index))[0]
        check(retain and json.loads(payload, parse_float=Decimal) == meta, "meta %d/%d differs" % (model, index))
    # SIGTERM: `offline` published before the clean disconnect.
    rc, _took = gw.terminate(10)
    check(rc == 0, "exit status %s at SIGTERM" % rc)
    check(late.wait(lambda c: c.on("sunspec/gateway/status")[-1][1] == b"offline", 10), "no offline at SIGTERM")
    # SIGKILL: the broker publishes the Will (keepalive 5 s: within 1.5 x).
    gw2 = gateway(ctx, "json2", server.port, mqtt_yaml(broker.port, "gw-json", prefix="sunspec"))
    check(late.wait(lambda c: c.on("sunspec/gateway/status")[-1][1] == b"online", 20), "not online again")
    t_kill = time.monotonic()
    li.stop_popen(gw2.proc, signal.SIGKILL)
    check(late.wait(lambda c: c.on("sunspec/gateway/status")[-1][1] == b"offline", 15), "no Will after SIGKILL")
    return "%d topics, %d readings equal to the stream's lines, %d metas retained, Will %.1f s after SIGKILL" % (
        len(topics), compared, len(metas), time.monotonic() - t_kill)


def sparkplug_messages(col, kind, device=None):
    topic = "spBv1.0/site1/%s/gw-1%s" % (kind, "/" + device if device else "")
    return [(t, decode(p)) for t, p, _r in col.on(topic)]


def check_seq(col):
    """seq goes up by one (mod 256) on every message after each NBIRTH, which has seq 0."""
    with col.cond:
        msgs = [(tp, decode(p)) for _t, tp, p, _r in col.msgs if tp.startswith("spBv1.0/site1/")
                and "/NDEATH/" not in tp and "CMD/" not in tp]
    expected = None
    for topic, p in msgs:
        if "/NBIRTH/" in topic:
            check(p.seq == 0, "NBIRTH seq %d" % p.seq)
        elif expected is not None:
            check(p.seq == expected, "%s seq %d, expected %d" % (topic, p.seq, expected))
        expected = (p.seq + 1) % 256
    return len(msgs)


def check_against_stream(m, sub):
    """A metric's value is the stream's, in the reading of its model instance at its timestamp (1 ms apart
    at most: the stream's ts has milliseconds)."""
    model, index, point = m.name.split("/", 2)
    for _t, r in sub.readings("bess-1"):
        if r["model"] == int(model) and r["index"] == int(index) and abs(ms(r["ts"]) - m.timestamp) <= 1:
            v = flatten(r["values"] or {})[point]
            check(same_value(metric_value(m), v), "%s = %r, stream %r" % (m.name, metric_value(m), v))
            return
    raise CaseFailed("%s: no stream reading at %d" % (m.name, m.timestamp))


def case_sparkplug(ctx):
    broker = ctx.procs.add(Broker(ctx.workdir, "spb").start())
    sim = ctx.procs.add(Simulator(ctx.binary, ctx.workdir, "spb").start())
    col = ctx.procs.add(Collector(broker.port, ["spBv1.0/#"], "spb-sub"))
    gw = gateway(ctx, "spb", sim.port, mqtt_yaml(broker.port, "gw-spb", sparkplug=("site1", "gw-1")))
    sub = stream(ctx, gw)
    check(col.wait(lambda c: sparkplug_messages(c, "DBIRTH", "bess-1") and len(sparkplug_messages(c, "DDATA", "bess-1")) >= 3,
                   20), "no DBIRTH and 3 DDATA: %s" % gw.log_tail())
    _t, nbirth = sparkplug_messages(col, "NBIRTH")[0]
    nm = {m.name: m for m in nbirth.metrics}
    check(nbirth.seq == 0 and nbirth.timestamp > 0, "NBIRTH seq %d ts %d" % (nbirth.seq, nbirth.timestamp))
    check(nm["bdSeq"].datatype == INT64 and nm["Node Control/Rebirth"].datatype == BOOLEAN
          and nm["Node Control/Rebirth"].boolean_value is False, "NBIRTH metrics %s" % nm)
    bdseq = nm["bdSeq"].long_value
    # DBIRTH: every point of every model instance, each value as the stream's reading at its timestamp.
    _t, dbirth = sparkplug_messages(col, "DBIRTH", "bess-1")[0]
    names = set()
    for _t2, r in sub.readings("bess-1"):
        names.update("%d/%d/%s" % (r["model"], r["index"], n) for n in flatten(r["values"] or {}))
    got = {m.name: m for m in dbirth.metrics}
    check(set(got) == names, "DBIRTH names: missing %s, extra %s" % (sorted(names - set(got))[:5], sorted(set(got) - names)[:5]))
    for m in dbirth.metrics:
        check_against_stream(m, sub)
    amps = got["103/0/A"]
    check(amps.datatype == DOUBLE and units_of(amps) == "A", "103/0/A datatype %d units %s" % (amps.datatype, units_of(amps)))
    check(got["1/0/Mn"].datatype == STRING, "1/0/Mn datatype %d" % got["1/0/Mn"].datatype)
    # DDATA: only metrics that changed, each stamped with its reading's ts, values as on the stream.
    checked = 0
    for _t2, p in sparkplug_messages(col, "DDATA", "bess-1"):
        check(0 < len(p.metrics) < len(got), "DDATA with %d metrics" % len(p.metrics))
        for m in p.metrics:
            check_against_stream(m, sub)
            checked += 1
    # NCMD Rebirth: NBIRTH again (seq 0, the same bdSeq) and DBIRTH.
    rebirth = Payload(timestamp=int(time.time() * 1000))
    m = rebirth.metrics.add(name="Node Control/Rebirth", datatype=BOOLEAN)
    m.boolean_value = True
    col.publish("spBv1.0/site1/NCMD/gw-1", rebirth.SerializeToString())
    check(col.wait(lambda c: len(sparkplug_messages(c, "NBIRTH")) == 2 and len(sparkplug_messages(c, "DBIRTH", "bess-1")) == 2,
                   10), "no births after NCMD Rebirth")
    again = {m.name: m for m in sparkplug_messages(col, "NBIRTH")[1][1].metrics}
    check(again["bdSeq"].long_value == bdseq, "rebirth bdSeq %d, was %d" % (again["bdSeq"].long_value, bdseq))
    # DCMD without a control: section: refused and logged; nothing is written.
    col.publish("spBv1.0/site1/DCMD/gw-1/bess-1", rebirth.SerializeToString())
    check(li.wait_until(lambda: "DCMD for bess-1 refused" in li.tail(gw.log_path, 20000), 10), "DCMD not refused in the log")
    count = check_seq(col)
    # The device goes away: DDEATH.
    sim.stop()
    check(col.wait(lambda c: sparkplug_messages(c, "DDEATH", "bess-1"), 20), "no DDEATH: %s" % gw.log_tail())
    # The gateway dies: NDEATH (the Will) with the NBIRTH's bdSeq.
    li.stop_popen(gw.proc, signal.SIGKILL)
    check(col.wait(lambda c: sparkplug_messages(c, "NDEATH"), 15), "no NDEATH after SIGKILL")
    death = {m.name: m for m in sparkplug_messages(col, "NDEATH")[0][1].metrics}
    check(death["bdSeq"].long_value == bdseq and not sparkplug_messages(col, "NDEATH")[0][1].HasField("seq"),
          "NDEATH bdSeq %d, NBIRTH %d" % (death["bdSeq"].long_value, bdseq))
    return "DBIRTH %d metrics equal to the stream, %d DDATA metrics checked, %d messages in seq order, bdSeq %d" % (
        len(got), checked, count, bdseq)


def audit_lines(path):
    try:
        with open(path, "rb") as f:
            return [json.loads(line, parse_float=Decimal) for line in f.read().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def dcmd_payload(metrics, ttl=None):
    """A DCMD payload, each metric (name or None for an alias only, datatype, field, value) as a Sparkplug
    host writes it; `ttl` a String property of the first metric."""
    p = Payload(timestamp=int(time.time() * 1000))
    for name, datatype, field, value in metrics:
        m = p.metrics.add(datatype=datatype, timestamp=p.timestamp)
        if name is None:
            m.alias = 7
        else:
            m.name = name
        setattr(m, field, value)
    if ttl:
        p.metrics[0].properties.keys.append("ttl")
        p.metrics[0].properties.values.add(type=STRING, string_value=ttl)
    return p


def publish_dcmd(col, metrics, ttl=None):
    col.publish("spBv1.0/site1/DCMD/gw-1/bess-1", dcmd_payload(metrics, ttl).SerializeToString())


def case_dcmd(ctx):
    broker = ctx.procs.add(Broker(ctx.workdir, "dcmd").start())
    sim = ctx.procs.add(Simulator(ctx.binary, ctx.workdir, "dcmd", mode="--writable").start())
    col = ctx.procs.add(Collector(broker.port, ["spBv1.0/#"], "dcmd-sub"))
    audit, csock, path = os.path.join(ctx.workdir, "dcmd.audit.jsonl"), ctx.sock("dcmd-control"), ctx.sock("dcmd")
    metrics_port = fi.free_port()
    text = 'metrics: {listen: "127.0.0.1:%d"}\n' % metrics_port + "\n".join([
        "socket:", "  path: %s" % path, '  mode: "0660"',
        "control:", "  socket:", "    path: %s" % csock, '    mode: "0600"', "  audit: %s" % audit, "  max_ttl: 60s",
        "devices:", "  - name: bess-1", '    tcp: "127.0.0.1:%d"' % sim.port, "    unit: 1", "    interval: %s" % INTERVAL,
        "    timeout: 1s", "    control:", "      allow:", '        "124.WChaMax": {min: 0, max: 50000, revert: 50000}',
    ]) + "\n" + mqtt_yaml(broker.port, "gw-dcmd", sparkplug=("site1", "gw-1"))
    gw = ctx.procs.add(li.Gateway(ctx.binary, ctx.workdir, "dcmd", text, path)).start()
    sub = stream(ctx, gw)
    check(col.wait(lambda c: sparkplug_messages(c, "DBIRTH", "bess-1"), 20), "no DBIRTH: %s" % gw.log_tail())
    birth = {m.name: m for m in sparkplug_messages(col, "DBIRTH", "bess-1")[0][1].metrics}
    wchamax, wchagra = birth["124/0/WChaMax"], birth["124/0/WChaGra"]
    check(metric_value(wchamax) != 25000, "124/0/WChaMax is already 25000")
    topic = "spBv1.0/site1/DCMD/gw-1/bess-1"

    def mqtt_lines(intents=False):
        """The DCMDs' outcome lines (or their intent lines, "result":"pending", docs/control.md)."""
        return [r for r in audit_lines(audit) if r.get("client") == {"mqtt": topic} and (r.get("result") == "pending") == intents]

    # An allowed point, named and typed as the DBIRTH has it: applied, audited, on the stream, on the device.
    # A metric with an alias only, and a payload that is not protobuf: refused whole, logged, not audited.
    publish_dcmd(col, [(None, wchamax.datatype, "double_value", 30000.0)])
    col.publish(topic, b"\x12\x05\x0a")
    check(li.wait_until(lambda: "DCMD for bess-1 refused: metric 1 has no name" in li.tail(gw.log_path, 20000)
                        and "DCMD for bess-1 refused: the payload is not" in li.tail(gw.log_path, 20000), 10),
          "the alias-only DCMD and the bad payload are not refused in the log: %s" % gw.log_tail())
    publish_dcmd(col, [("124/0/WChaMax", wchamax.datatype, "double_value", 25000.0)], ttl="30s")
    check(li.wait_until(lambda: len(mqtt_lines()) >= 1, 15), "no audit line of the DCMD: %s" % gw.log_tail())
    applied = mqtt_lines()[0]
    check(applied["result"] == "applied" and applied["point"] == "124.WChaMax" and applied["op"] == "set"
          and applied["value"] == 25000 and applied["readback"] == 25000 and applied["ttl"] == "30s", "audit line %s" % applied)
    # its intent line came first, with the registers it wrote
    every = [r for r in audit_lines(audit) if r.get("client") == {"mqtt": topic}]
    intent = mqtt_lines(intents=True)
    check(len(intent) == 1 and every.index(intent[0]) < every.index(applied) and intent[0]["id"] == applied["id"]
          and intent[0]["write"] == applied["write"] and intent[0]["readback"] is None, "intent line %s, outcome %s" % (intent, applied))
    check(sub.wait(lambda s: any(r.get("type") == "control" and r.get("client") == {"mqtt": topic} for _t, r in s.snapshot()), 10),
          "no control record of the DCMD on the stream")
    check(li.wait_until(lambda: "DCMD %s bess-1 124.WChaMax = 25000: applied" % applied["id"] in li.tail(gw.log_path, 20000), 10),
          "the outcome is not logged: %s" % gw.log_tail())
    rc, ans, err, _pid, _dt = control_get(ctx, csock, "124.WChaMax")
    check(rc == 0 and ans and ans["result"] == "ok" and ans["readback"] == 25000, "control get: exit %d %s %s" % (rc, ans, err))

    def ddata_has(c, name, value):
        return any(m.name == name and metric_value(m) == value for _t, p in sparkplug_messages(c, "DDATA", "bess-1") for m in p.metrics)

    check(col.wait(lambda c: ddata_has(c, "124/0/WChaMax", 25000), 10), "no DDATA with 124/0/WChaMax = 25000")
    # A point not allowed: refused, audited as refused, the device's register unchanged.
    before = metric_value(wchagra)
    publish_dcmd(col, [("124/0/WChaGra", wchagra.datatype, "double_value" if wchagra.datatype == DOUBLE else "int_value",
                        float(before) + 1 if wchagra.datatype == DOUBLE else int(before) + 1)])
    check(li.wait_until(lambda: len(mqtt_lines()) >= 2, 15), "no audit line of the second DCMD: %s" % gw.log_tail())
    refused = mqtt_lines()[1]
    check(refused["result"] == "not_allowed" and refused["point"] == "124.WChaGra" and refused["write"] is None,
          "audit line %s" % refused)
    check(len(mqtt_lines(intents=True)) == 1, "a refusal has an intent line: %s" % mqtt_lines(intents=True))
    after = len(sub.readings("bess-1"))
    check(sub.wait(lambda s: len([r for _t, r in s.readings("bess-1")[after:] if r["model"] == 124]) >= 2, 10),
          "no 2 readings of model 124 after the refusal")
    latest = [r for _t, r in sub.readings("bess-1")[after:] if r["model"] == 124][-1]
    check(latest["values"]["WChaGra"] == before, "WChaGra %s after the refusal, was %s" % (latest["values"]["WChaGra"], before))
    check(not ddata_has(col, "124/0/WChaGra", latest["values"]["WChaGra"] + 1), "a DDATA has the refused value")
    # Both counted in control_requests_total, by result.
    counted = {}
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("sunspec_gateway_control_requests_total{"):
                labels, value = line.rsplit(" ", 1)
                counted[labels] = float(value)
    for point, result in (("124.WChaMax", "applied"), ("124.WChaGra", "not_allowed")):
        check(any('point="%s"' % point in k and 'result="%s"' % result in k and v >= 1 for k, v in counted.items()),
              "control_requests_total has no %s %s: %s" % (point, result, counted))
    ctx.figures["dcmd audit line"] = json.dumps(applied, default=str)
    li.stop_popen(gw.proc)
    return "applied %s (%s), refused %s (%s); audit: %s" % (applied["point"], applied["id"], refused["point"], refused["result"],
                                                              json.dumps(applied, default=str, separators=(",", ":")))


def control_get(ctx, csock, point):
    cmd = [ctx.binary, "control", "get", "--socket", csock, "bess-1", point]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60)
    text = p.stdout.decode("utf-8", "replace").strip()
    ans = json.loads(text.splitlines()[-1], parse_float=Decimal) if text else None
    return p.returncode, ans, p.stderr.decode("utf-8", "replace"), None, None


def check_replayed_in_order(sub, col, topic, last_ts):
    """Every reading of bess-1's 103/0 the stream had up to `last_ts` is on MQTT `topic`, in order
    (redeliveries aside); returns the stream's readings (their ts) and how many of them MQTT had."""
    want = [r["ts"] for _t, r in sub.readings("bess-1") if r["model"] == 103 and r["index"] == 0 and r["ts"] <= last_ts]
    got, seen = [], set()
    for _t, p, _r in col.on(topic):
        ts = json.loads(p)["ts"]
        if ts not in seen:
            seen.add(ts)
            got.append(ts)
    missing = [ts for ts in want if ts not in seen]
    check(not missing, "%d of %d readings lost, first %s" % (len(missing), len(want), missing[:3]))
    check(got == sorted(got), "readings out of order")
    return want, len(want) - len(missing)


def case_broker_restart(ctx):
    broker = ctx.procs.add(Broker(ctx.workdir, "restart").start())
    sim = ctx.procs.add(Simulator(ctx.binary, ctx.workdir, "restart").start())
    # Two subscribers: the JSON replay (QoS 1) would fill one connection's in-flight window, and the broker
    # drops QoS 0 messages (Sparkplug's) for a subscriber that cannot take them.
    col = ctx.procs.add(Collector(broker.port, ["sunspec/#"], "restart-sub", persistent=True))
    spb = ctx.procs.add(Collector(broker.port, ["spBv1.0/#"], "restart-spb", persistent=True))
    gw = gateway(ctx, "restart", sim.port,
                 mqtt_yaml(broker.port, "gw-r", prefix="sunspec", sparkplug=("site1", "gw-1")))
    sub = stream(ctx, gw)
    topic = "sunspec/bess-1/103/0"
    check(col.wait(lambda c: len(c.on(topic)) >= 4, 20) and spb.wait(lambda c: sparkplug_messages(c, "DBIRTH", "bess-1"), 5),
          "no steady readings before the outage: %s" % gw.log_tail())
    # The subscriber's persistent session is on disk (autosave every second) before the crash.
    check(li.wait_until(lambda: os.path.exists(os.path.join(ctx.workdir, "restart.store", "mosquitto.db")), 5),
          "mosquitto saved nothing")
    t_kill = time.monotonic()
    broker.kill()
    n_stream_before = len(sub.readings("bess-1"))
    # The outage itself: the broker stays down for OUTAGE seconds (the scenario, not a wait for an event).
    threading.Event().wait(OUTAGE)
    during = len(sub.readings("bess-1")) - n_stream_before
    broker.start()
    t_up = time.monotonic()
    # Replayed and live again: a reading on the stream after the restart reaches MQTT.
    check(sub.wait(lambda s: any(t > t_up + 1 for t, _r in s.readings("bess-1")), 10), "the stream stopped")
    last_ts = [r["ts"] for t, r in sub.readings("bess-1") if t > t_up + 1 and r["model"] == 103][0]
    check(col.wait(lambda c: any(json.loads(p)["ts"] >= last_ts for _t, p, _r in c.on(topic)), 60),
          "readings after the restart did not arrive: %s" % gw.log_tail())
    check(spb.wait(lambda c: len(sparkplug_messages(c, "NBIRTH")) >= 2 and len(sparkplug_messages(c, "DBIRTH", "bess-1")) >= 2, 30),
          "no births after the restart")
    # Every reading of 103/0 the stream had up to then is on MQTT, in order (redeliveries aside).
    want, delivered = check_replayed_in_order(sub, col, topic, last_ts)
    # Births again, bdSeq one more; DDATA kept while away are historical.
    births = sparkplug_messages(spb, "NBIRTH")
    b0 = {m.name: m for m in births[0][1].metrics}["bdSeq"].long_value
    b1 = {m.name: m for m in births[-1][1].metrics}["bdSeq"].long_value
    check(b1 == b0 + 1, "bdSeq %d then %d" % (b0, b1))
    t_birth = births[-1][0]
    historical = [p for t, p in sparkplug_messages(spb, "DDATA", "bess-1") if t >= t_birth
                  and p.metrics and all(m.is_historical for m in p.metrics)]
    check(historical, "no is_historical DDATA after the births")
    check(col.wait(lambda c: c.on("sunspec/gateway/status")[-1][1] == b"online", 10), "gateway/status not online")
    check(during >= OUTAGE / 0.5 * 0.8, "the stream slowed while the broker was away: %d readings" % during)
    return "%.0f s outage: %d stream readings meanwhile, %d of %d readings of 103/0 on MQTT in order, %d historical DDATA, bdSeq %d->%d" % (
        t_up - t_kill, during, delivered, len(want), len(historical), b0, b1)


STALL = 20.0
STALL_DEVICES = 40
STALL_INTERVAL = "500ms"
STALL_KEEPALIVE = 8


def kernel_queues(port, pid):
    """From `ss`: the gateway's connection to the broker on `port` with the most bytes queued in the kernel
    (Send-Q, its write queue's memory `w` and its send buffer `tb`: at w >= tb a write returns EAGAIN),
    and the largest Recv-Q of the broker's own sockets (bytes it has not read)."""
    out = subprocess.run(["ss", "-tnpmH", "state", "established"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         timeout=10).stdout.decode()
    best, recv_q = (0, 0, 0), 0
    lines = out.splitlines()
    for i, line in enumerate(lines):
        fields = line.split()
        if len(fields) < 4 or not fields[0].isdigit():
            continue
        rq, sq, local, peer = int(fields[0]), int(fields[1]), fields[2], fields[3]
        more = lines[i + 1] if i + 1 < len(lines) and lines[i + 1].split() and not lines[i + 1].split()[0].isdigit() else ""
        mem = dict((p[:1] if p[:1] in "rtfwod" and p[1:2].isdigit() else p[:2], int("".join(c for c in p if c.isdigit()) or 0))
                   for p in (line + more).split("skmem:(")[-1].split(")")[0].split(",") if p)
        if peer.endswith(":%d" % port) and "pid=%d," % pid in line and sq >= best[0]:
            best = (sq, mem.get("w", 0), mem.get("tb", 0))
        if local.endswith(":%d" % port):
            recv_q = max(recv_q, rq)
    return best + (recv_q,)


def scrape(port):
    """GET /metrics: (seconds it took, {name: value} of the unlabelled samples)."""
    t0 = time.monotonic()
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return time.monotonic() - t0, values


def case_broker_stalled(ctx):
    broker = ctx.procs.add(Broker(ctx.workdir, "stall").start())
    sim = ctx.procs.add(Simulator(ctx.binary, ctx.workdir, "stall").start())
    # Only bess-1's topics (and the births of all): the others' messages would only load the subscribers.
    col = ctx.procs.add(Collector(broker.port, ["sunspec/bess-1/#", "sunspec/gateway/status"], "stall-sub", persistent=True))
    spb = ctx.procs.add(Collector(broker.port, ["spBv1.0/site1/NBIRTH/#", "spBv1.0/site1/NDEATH/#", "spBv1.0/site1/DBIRTH/gw-1/bess-1",
                                                "spBv1.0/site1/DDATA/gw-1/bess-1"], "stall-spb", persistent=True))
    names = ["bess-%d" % (i + 1) for i in range(STALL_DEVICES)]
    path, metrics_port = ctx.sock("stall"), fi.free_port()
    text = ('metrics: {listen: "127.0.0.1:%d"}\n' % metrics_port
            + li.config_yaml(path, [{"name": n, "tcp": "127.0.0.1:%d" % sim.port, "unit": 1} for n in names],
                             interval=STALL_INTERVAL)
            + mqtt_yaml(broker.port, "gw-stall", prefix="sunspec", sparkplug=("site1", "gw-1"), keepalive="%ds" % STALL_KEEPALIVE))
    gw = ctx.procs.add(li.Gateway(ctx.binary, ctx.workdir, "stall", text, path)).start()
    sub = ctx.procs.add(li.Subscriber(gw.socket_path))
    check(sub.wait(lambda s: all(s.state(n) == "online" for n in names), li.ONLINE_TIMEOUT),
          "not every device online on the stream: %s" % gw.log_tail())
    topic = "sunspec/bess-1/103/0"
    check(col.wait(lambda c: len(c.on(topic)) >= 10, 20) and spb.wait(lambda c: sparkplug_messages(c, "DBIRTH", "bess-1"), 5),
          "no steady readings before the stall: %s" % gw.log_tail())

    def readings_between(t0, t1):
        with sub.cond:
            return len([1 for t, r in sub.records if r.get("type") == "reading" and t0 <= t < t1])

    # The rate before the stall: a timed window of the stream.
    t_base = time.monotonic()
    threading.Event().wait(10)
    os.kill(broker.proc.pid, signal.SIGSTOP)
    t_stop = time.monotonic()
    try:
        before = readings_between(t_base, t_stop) / (t_stop - t_base)
        # The stall itself (the scenario): every second, the kernel's queues and a /metrics scrape.
        queued, max_recv_q, slowest, connected = (0, 0, 0), 0, 0.0, []
        while time.monotonic() < t_stop + STALL:
            sq, w, tb, rq = kernel_queues(broker.port, gw.proc.pid)
            if sq >= queued[0]:
                queued = (sq, w, tb)
            max_recv_q = max(max_recv_q, rq)
            took, values = scrape(metrics_port)
            slowest = max(slowest, took)
            connected.append(values.get("sunspec_gateway_mqtt_connected"))
            threading.Event().wait(1)
        t_cont = time.monotonic()
        during = readings_between(t_stop, t_cont) / (t_cont - t_stop)
    finally:
        os.kill(broker.proc.pid, signal.SIGCONT)
    wall_cont = time.time()
    check(gw.alive(), "the gateway died during the stall: %s" % gw.log_tail())
    check(during >= 0.8 * before, "the stream slowed during the stall: %.1f readings/s, %.1f before" % (during, before))
    check(slowest < 2, "/metrics took %.1f s to answer during the stall" % slowest)
    check(queued[1] >= queued[2] > 0 and max_recv_q > 0, "the kernel's buffers never filled: gateway Send-Q %d (queued %d of "
          "sndbuf %d), broker Recv-Q %d" % (queued + (max_recv_q,)))
    log = li.tail(gw.log_path, 1 << 22)
    lost = [line for line in log.splitlines() if "lost the broker" in line]
    # Both clients found the broker gone by its silence (PINGREQ unanswered), and say so.
    check(len(lost) >= 2 and all("keepalive" in line for line in lost), "the loss is not logged as a keepalive timeout: %s" % lost)
    # Back: a reading on the stream after SIGCONT reaches MQTT, and every reading of 103/0 before it, in order.
    check(sub.wait(lambda s: any(t > t_cont + 1 for t, _r in s.readings("bess-1")), 10), "the stream stopped")
    last_ts = [r["ts"] for t, r in sub.readings("bess-1") if t > t_cont + 1 and r["model"] == 103][0]
    check(col.wait(lambda c: any(json.loads(p)["ts"] >= last_ts for _t, p, _r in c.on(topic)), 90),
          "readings after SIGCONT did not arrive: %s" % gw.log_tail())
    want, delivered = check_replayed_in_order(sub, col, topic, last_ts)
    check(spb.wait(lambda c: len(sparkplug_messages(c, "NBIRTH")) >= 2 and len(sparkplug_messages(c, "DBIRTH", "bess-1")) >= 2, 30),
          "no births after the reconnect: %s" % gw.log_tail())
    # The node's births and deaths as a host sees them: after the last NBIRTH no NDEATH with its bdSeq (the
    # Will of a connection gone, a reconnect's CONNECT the broker took only when it went on), which would
    # mark the node offline while it is online.
    with spb.cond:
        nodes = [(tp.split("/")[2], {m.name: m for m in decode(p).metrics}["bdSeq"].long_value) for _t, tp, p, _r in spb.msgs
                 if tp.split("/")[2] in ("NBIRTH", "NDEATH")]
    last = max(i for i, (kind, _bd) in enumerate(nodes) if kind == "NBIRTH")
    check(("NDEATH", nodes[last][1]) not in nodes[last:], "an NDEATH with the last NBIRTH's bdSeq after it: %s" % nodes)
    check(col.wait(lambda c: c.on("sunspec/gateway/status")[-1][1] == b"online", 10), "gateway/status not online")
    # The connections waiting for the broker when it went on: the live ones and the reconnects' CONNECTs it never answered.
    with open(broker.log_path, errors="replace") as f:
        waiting = len([l for l in f if "New connection from" in l and int(l.split(":", 1)[0]) >= int(wall_cont)])
    return ("%.0f s SIGSTOP: stream %.0f readings/s (before %.0f), /metrics within %.2f s, mqtt_connected %s; kernel full: "
            "gateway Send-Q %d B (write queue %d B of sndbuf %d B: EAGAIN), broker Recv-Q %d B; %d clients lost it (%s); %d of %d readings of "
            "103/0 on MQTT in order; node %s; %d connections accepted by mosquitto at SIGCONT" % (
                t_cont - t_stop, during, before, slowest, "1 for %d s, then 0" % connected.index(0) if 0 in connected else "1 throughout",
                queued[0], queued[1], queued[2], max_recv_q, len(lost), lost[0].split("mqtt: ")[-1].split("; reconnecting")[0],
                delivered, len(want), " ".join("%s %d" % n for n in nodes), waiting))


def state_payload(online, timestamp):
    return json.dumps({"online": online, "timestamp": timestamp}).encode()


def case_primary_host(ctx):
    broker = ctx.procs.add(Broker(ctx.workdir, "phid").start())
    sim = ctx.procs.add(Simulator(ctx.binary, ctx.workdir, "phid").start())
    col = ctx.procs.add(Collector(broker.port, ["spBv1.0/site1/#", "sunspec/bess-1/103/0"], "phid-sub"))
    host = ctx.procs.add(Collector(broker.port, [], "scada1"))
    state_topic = "spBv1.0/STATE/scada1"

    def publish_state(online, timestamp):
        host.client.publish(state_topic, state_payload(online, timestamp), qos=1, retain=True).wait_for_publish(5)

    def log():
        return li.tail(gw.log_path, 1 << 20)

    gw = gateway(ctx, "phid", sim.port, mqtt_yaml(broker.port, "gw-phid", prefix="sunspec", sparkplug=("site1", "gw-1"),
                                                  primary_host="scada1"))
    sub = stream(ctx, gw)
    waiting = "Sparkplug births wait for the primary host scada1"
    # No STATE yet: the JSON topics flow, Sparkplug publishes nothing.
    check(li.wait_until(lambda: waiting in log(), 15), "no wait for the primary host logged: %s" % gw.log_tail())
    check(col.wait(lambda c: len(c.on("sunspec/bess-1/103/0")) >= 3, 20), "the JSON topics do not flow while Sparkplug waits")
    check(not sparkplug_messages(col, "NBIRTH"), "NBIRTH before the primary host's STATE")
    # Online (retained): NBIRTH, DBIRTH, then DDATA.
    t0 = int(time.time() * 1000)
    publish_state(True, t0)
    check(col.wait(lambda c: sparkplug_messages(c, "DBIRTH", "bess-1") and sparkplug_messages(c, "DDATA", "bess-1"), 20),
          "no births and DDATA after STATE online: %s" % gw.log_tail())
    b0 = {m.name: m for m in sparkplug_messages(col, "NBIRTH")[0][1].metrics}["bdSeq"].long_value
    # An offline STATE older than the online one: ignored.
    publish_state(False, t0 - 1000)
    check(li.wait_until(lambda: "STATE of scada1 ignored: timestamp %d is older than %d" % (t0 - 1000, t0) in log(), 10),
          "the stale STATE is not ignored in the log: %s" % gw.log_tail())
    # Offline (newer): NDEATH with the NBIRTH's bdSeq, a clean disconnect, connected again and waiting.
    publish_state(False, t0 + 1000)
    check(col.wait(lambda c: sparkplug_messages(c, "NDEATH"), 10), "no NDEATH after STATE offline: %s" % gw.log_tail())
    death = {m.name: m for m in sparkplug_messages(col, "NDEATH")[0][1].metrics}["bdSeq"].long_value
    check(death == b0, "NDEATH bdSeq %d, NBIRTH %d" % (death, b0))
    check(li.wait_until(lambda: log().count(waiting) >= 2, 15), "not connected again to wait: %s" % gw.log_tail())
    t_off = time.monotonic()
    check(col.wait(lambda c: any(t > t_off for t, _p, _r in c.on("sunspec/bess-1/103/0")), 10), "the JSON topics stopped")
    # A while offline (the simulator's values move every second): DDATA are kept.
    check(sub.wait(lambda s: any(t > t_off + 1.5 for t, _r in s.readings("bess-1")), 10), "the stream stopped")
    check(len(sparkplug_messages(col, "NBIRTH")) == 1, "NBIRTH while the primary host is offline")
    # Online again: births with the next bdSeq, the DDATA kept meanwhile as history; the Will never sent.
    publish_state(True, t0 + 2000)
    check(col.wait(lambda c: len(sparkplug_messages(c, "NBIRTH")) == 2 and len(sparkplug_messages(c, "DBIRTH", "bess-1")) == 2, 20),
          "no births after STATE online again: %s" % gw.log_tail())
    t_birth, nbirth = sparkplug_messages(col, "NBIRTH")[1]
    b1 = {m.name: m for m in nbirth.metrics}["bdSeq"].long_value
    check(b1 == (b0 + 1) % 256, "bdSeq %d then %d" % (b0, b1))
    check(col.wait(lambda c: any(t >= t_birth and p.metrics and all(m.is_historical for m in p.metrics)
                                 for t, p in sparkplug_messages(c, "DDATA", "bess-1")), 10), "no historical DDATA after the births")
    check(len(sparkplug_messages(col, "NDEATH")) == 1, "%d NDEATHs (the Will sent?)" % len(sparkplug_messages(col, "NDEATH")))
    return "no births before STATE online; births after it (bdSeq %d); an older STATE ignored; offline: NDEATH bdSeq %d, " \
           "reconnected, waiting; online again: births bdSeq %d, kept DDATA historical; JSON topics throughout" % (b0, death, b1)


def test_ca(workdir, name="tls"):
    """A CA and a broker certificate for localhost and 127.0.0.1, made with openssl."""
    files = {k: os.path.join(workdir, "%s-%s.pem" % (name, k)) for k in ("ca", "cakey", "cert", "key", "csr")}
    ext = os.path.join(workdir, "%s-ext.cnf" % name)
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for cmd in (["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=interop test CA",
                 "-keyout", files["cakey"], "-out", files["ca"]],
                ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", files["key"],
                 "-out", files["csr"]],
                ["x509", "-req", "-in", files["csr"], "-CA", files["ca"], "-CAkey", files["cakey"], "-CAcreateserial",
                 "-days", "2", "-extfile", ext, "-out", files["cert"]]):
        r = subprocess.run(["openssl"] + cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        check(r.returncode == 0, "openssl %s: %s" % (cmd[0], r.stdout.decode()[-300:]))
    return files


def case_tls(ctx):
    files = test_ca(ctx.workdir)
    broker = ctx.procs.add(Broker(ctx.workdir, "tls", tls=files).start())
    server = ctx.procs.add(li.CaptureServer(ctx.workdir, "tls", [FIXTURE], [1]).start())
    col = ctx.procs.add(Collector(broker.port, ["sunspec/#"], "tls-sub", ca=files["ca"]))
    gw = gateway(ctx, "tls", server.port, mqtt_yaml(broker.port, "gw-tls", prefix="sunspec", ca=files["ca"]))
    stream(ctx, gw)
    check(col.wait(lambda c: c.on("sunspec/gateway/status") and len(c.on("sunspec/bess-1/103/0")) >= 2, 20),
          "nothing over TLS: %s" % gw.log_tail())
    # A CA that did not sign the broker's certificate: the gateway does not connect (and says why).
    other = test_ca(ctx.workdir, "other")
    bad = gateway(ctx, "tls-bad", server.port, mqtt_yaml(broker.port, "gw-tls-bad", prefix="sunspec", ca=other["ca"]))
    check(li.wait_until(lambda: "cannot connect" in li.tail(bad.log_path, 20000), 15), "no refusal logged: %s" % bad.log_tail())
    return "readings over TLS (test CA); a wrong CA refused: %s" % li.tail(bad.log_path, 20000).split("cannot connect")[1][:80].strip()


CASES = {"json-topics": case_json_topics, "sparkplug": case_sparkplug, "dcmd": case_dcmd, "broker-restart": case_broker_restart,
         "broker-stalled": case_broker_stalled, "primary-host": case_primary_host, "tls": case_tls}


def main(argv=None):
    global OUTAGE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gateway", required=True, help="path of the sunspec-gateway binary")
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated: %s" % ", ".join(CASES))
    ap.add_argument("--outage", type=float, default=OUTAGE, help="seconds the broker stays down (default 30)")
    ap.add_argument("--workdir", help="keep configs and logs here (default: a temp dir, removed on success)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    OUTAGE = args.outage
    li.VERBOSE = args.verbose
    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in names if c not in CASES]
    if unknown:
        sys.stderr.write("unknown cases: %s\n" % ", ".join(unknown))
        return 2
    if not (shutil.which("mosquitto") or os.path.exists("/usr/sbin/mosquitto")):
        sys.stderr.write("mqtt_interop.py: mosquitto not found (make deps)\n")
        return 2
    binary = os.path.abspath(args.gateway)
    if not fi.wait_for_binary(binary):
        sys.stderr.write("mqtt_interop.py: gateway binary not found at %s\n" % binary)
        return 2
    workdir = args.workdir or tempfile.mkdtemp(prefix="sunspec-mqtt-")
    os.makedirs(workdir, exist_ok=True)
    sockdir = tempfile.mkdtemp(prefix="sgm-")
    ctx = li.Ctx(binary, workdir, sockdir, 1)

    def cleanup():
        ctx.procs.stop_all()
        shutil.rmtree(sockdir, ignore_errors=True)

    return li.run_cases("mqtt_interop.py", CASES, names, ctx, workdir, keep=bool(args.workdir), width=16, cleanup=cleanup)


if __name__ == "__main__":
    sys.exit(main())
