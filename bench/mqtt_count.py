#!/usr/bin/env python3
"""The subscriber of `make bench`'s MQTT fleet: counts what a local broker delivers, in a process of its own.

    mqtt_count.py PORT [TOPIC ...]     (default topics: sunspec/# and spBv1.0/#)
    mqtt_count.py PORT --broker-only   (no topic: only the broker's own count, below)

Subscribes at QoS 0 (the broker delivers at the lower of the publisher's and the subscriber's QoS: the
gateway publishes at QoS 1 and the broker acknowledges each; the subscriber's own acknowledgements would
only add CPU to the machine the gateway is measured on). Prints `ready` once subscribed, then, when
stdin closes or SIGTERM arrives, one JSON line: the cumulative count sampled every 0.1 s as
[unix time, messages, bytes] triples, the total per topic kind, and this process's CPU seconds.

Beside what it receives, it follows the broker's own count of the PUBLISH packets it has received
(`$SYS/broker/publish/messages/received`, sent every `sys_interval` seconds): the `broker` samples,
[unix time of arrival, count] pairs. With `--broker-only` that is all it subscribes to, so the machine
the gateway is measured on carries no fan-out to a subscriber.
"""
import json
import os
import signal
import sys
import threading
import time

import paho.mqtt.client as mqtt


def main():
    port = int(sys.argv[1])
    broker_only = sys.argv[2:] == ["--broker-only"]
    topics = [] if broker_only else (sys.argv[2:] or ["sunspec/#", "spBv1.0/#"])
    sys_topic = "$SYS/broker/publish/messages/received"
    lock = threading.Lock()
    state = {"messages": 0, "bytes": 0, "kinds": {}, "broker": []}
    subscribed = threading.Event()

    def on_connect(client, userdata, flags, reason, properties=None):
        client.subscribe([(t, 0) for t in topics + [sys_topic]])

    def on_subscribe(client, userdata, mid, reasons, properties=None):
        subscribed.set()

    def on_message(client, userdata, msg):
        if msg.topic == sys_topic:
            with lock:
                state["broker"].append((round(time.time(), 3), int(msg.payload)))
            return
        parts = msg.topic.split("/")
        if parts[0] == "spBv1.0":
            kind = parts[2] if len(parts) > 2 else "spb"
        elif parts[-1] in ("meta", "status"):
            kind = parts[-1]
        else:
            kind = "reading"
        with lock:
            state["messages"] += 1
            state["bytes"] += len(msg.payload)
            state["kinds"][kind] = state["kinds"].get(kind, 0) + 1

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-count-%d" % os.getpid())
    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    if not subscribed.wait(10):
        sys.stderr.write("mqtt_count.py: not subscribed after 10 s\n")
        sys.exit(1)
    print("ready", flush=True)

    samples = []
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    while not done.is_set():
        with lock:
            samples.append((round(time.time(), 3), state["messages"], state["bytes"]))
        done.wait(0.1)
    client.loop_stop()
    client.disconnect()
    cpu = os.times()
    with lock:
        print(json.dumps({"samples": samples, "messages": state["messages"], "bytes": state["bytes"], "kinds": state["kinds"],
                          "broker": state["broker"],
                          "cpu_seconds": round(cpu.user + cpu.system, 2)}), flush=True)


if __name__ == "__main__":
    main()
