#!/usr/bin/env python3
"""Check the files in Fixtures/ against each other and against pysunspec2.

    /tmp/venv/bin/python scripts/check_fixtures.py          # file checks
    /tmp/venv/bin/python scripts/check_fixtures.py --tcp    # also scan the images over Modbus TCP with
                                                            # pysunspec2's TCP client (serve_capture.py)

Exit status 0 when every check passes; each failure is printed.
"""

import argparse
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import make_fixtures as mf  # noqa: E402
import sunspec2.file.client as ss_file  # noqa: E402
import sunspec2.modbus.client as ss_client  # noqa: E402

FIX = mf.FIXTURES
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL", msg)
    return cond


def load(name):
    with open(os.path.join(FIX, name), encoding="utf-8") as f:
        return json.load(f)


def image(cap):
    out = {}
    for b in cap["blocks"]:
        for i, v in enumerate(b["registers"]):
            out[b["start"] + i] = v
    return out


def walk_chain(regs, base):
    """[(model_id, address of ID register, L)] following SunS; raises on a malformed map."""
    if regs.get(base) != 0x5375 or regs.get(base + 1) != 0x6E53:
        raise ValueError("no SunS at %d" % base)
    addr, out = base + 2, []
    while True:
        mid, ln = regs[addr], regs[addr + 1]
        if mid == 0xFFFF:
            if ln != 0:
                raise ValueError("end marker L = %d" % ln)
            return out
        out.append((mid, addr, ln))
        addr += 2 + ln


def computed_of(dev):
    return [mf.strip_model_dict(m.get_dict(computed=True)) for m in dev.model_list]


def check_capture(name, base, device):
    cap = load(name)
    check(cap["format"] == mf.FORMAT and cap["version"] == 1, "%s: format/version" % name)
    check(cap["device"] == device and cap["unit"] == 1, "%s: device/unit" % name)
    regs = image(cap)
    chain = walk_chain(regs, base)
    dev = mf.pysunspec2_scan(cap)
    check(dev.base_addr == base, "%s: pysunspec2 base %s" % (name, dev.base_addr))
    check([(m.model_id, m.model_addr) for m in dev.model_list] == [(c[0], c[1]) for c in chain],
          "%s: pysunspec2 model addresses differ from the chain walk" % name)
    ref = load(name.replace(".json", ".computed.json"))
    check([(m["ID"], m["address"], m["L"]) for m in ref["models"]] == chain,
          "%s: computed.json model list differs" % name)
    errors = []
    for i, (got, want) in enumerate(zip(computed_of(dev), [m["values"] for m in ref["models"]])):
        mf.compare("%s[%d]" % (name, i), got, want, errors)
    check(not errors, "%s: computed values differ from computed.json: %s" % (name, errors[:5]))
    return cap, regs, chain, dev


def check_mbpoll(fname, regs, first_ref, offset):
    path = os.path.join(FIX, fname)
    if not check(os.path.exists(path), "%s missing" % fname):
        return
    with open(path, encoding="utf-8") as f:
        got = mf.parse_mbpoll(f.read())
    want = {a + offset: v for a, v in regs.items()}
    check(got == want, "%s: values differ from the capture" % fname)
    check(min(got) == first_ref, "%s: first reference %s" % (fname, min(got)))


def check_tcp(cap, json_models, base):
    port = mf.free_port(15040)
    with mf.CaptureServer(os.path.join(FIX, cap), port):
        dev = ss_client.SunSpecModbusClientDeviceTCP(slave_id=1, ipaddr="127.0.0.1", ipport=port, timeout=5)
        try:
            dev.scan()
            check(dev.base_addr == base, "tcp %s: base %s" % (cap, dev.base_addr))
            got = [mf.strip_model_dict(m.get_dict(computed=False)) for m in dev.model_list]
            if json_models is not None:
                check(got == json_models, "tcp %s: scan differs from pysunspec2.json" % cap)
            print("tcp scan of %s on port %d: %d models OK" % (cap, port, len(got)))
        finally:
            dev.close()
            dev.disconnect()


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--tcp", action="store_true")
    args = ap.parse_args(argv)

    bat, bat_regs, bat_chain, bat_dev = check_capture("battery-inverter.json", 40000, "bess-1")
    leg, leg_regs, leg_chain, leg_dev = check_capture("legacy-storage.json", 50000, "legacy-1")
    check(len(bat_regs) == 1030, "battery-inverter: %d registers" % len(bat_regs))
    check([c[0] for c in bat_chain] == [1, 103, 701, 124, 713, 802, 803, 804, 804, 804], "battery model order")
    check([c[0] for c in leg_chain] == [1, 103, 120, 121, 122, 123, 124], "legacy model order")

    # deliberate nulls
    c = {m.model_id: m.get_dict(computed=True) for m in bat_dev.model_list}
    check(c[124]["InOutWRte_SF"] is None and c[124]["OutWRte"] is None, "124 unimplemented SF group")
    check(c[103]["TmpTrns"] is None and c[103]["Tmp_SF"] == -1, "103 TmpTrns sentinel")
    check(c[802]["SoC"] == 67.5 and c[1]["Mn"] == "Acme Storage" and c[803]["NStr"] == 3, "headline values")

    # pysunspec2 device JSON
    ps = load("battery-inverter.pysunspec2.json")
    fdev = ss_file.FileClientDevice(os.path.join(FIX, "battery-inverter.pysunspec2.json"))
    fdev.scan()
    check([m.get_dict(computed=True) for m in fdev.model_list] == computed_of(bat_dev),
          "FileClientDevice(pysunspec2.json) computed values differ from the capture")
    check(ps["models"] == [mf.strip_model_dict(m.get_dict(computed=False)) for m in bat_dev.model_list],
          "pysunspec2.json raw values differ from the capture")

    # CSV
    with open(os.path.join(FIX, "battery-inverter.csv"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    check(lines[0] == "address,value", "csv header")
    csv = {}
    for ln in lines[1:]:
        a, v = ln.split(",")
        csv[int(a)] = int(v, 0)
    check(csv == bat_regs, "csv differs from battery-inverter.json")
    check(any("0x" in ln for ln in lines), "csv has hex values")

    # mbpoll
    check_mbpoll("battery-inverter.mbpoll.txt", bat_regs, 40001, 1)
    check_mbpoll("battery-inverter.mbpoll-hex.txt", bat_regs, 40001, 1)
    check_mbpoll("legacy-storage.mbpoll0.txt", leg_regs, 50000, 0)

    # history
    with open(os.path.join(FIX, "history.jsonl"), encoding="utf-8") as f:
        hist = [json.loads(ln) for ln in f if ln.strip()]
    check(len(hist) == 20, "history: %d lines" % len(hist))
    check(hist[0] == bat, "history line 1 != battery-inverter.json")
    times = [datetime.datetime.strptime(h["captured"], "%Y-%m-%dT%H:%M:%S.%fZ") for h in hist]
    check(all((b - a).total_seconds() == 1.0 for a, b in zip(times, times[1:])), "history: 1 s apart")
    socs, ws = [], []
    for h in hist:
        d = {m.model_id: m.get_dict(computed=True) for m in mf.pysunspec2_scan(h).model_list}
        socs.append(d[802]["SoC"])
        ws.append(d[701]["W"])
    check(all(b <= a for a, b in zip(socs, socs[1:])) and socs[-1] < socs[0], "history: SoC falls %s" % socs)
    check(len(set(ws)) > 5, "history: power varies")

    # real captures: report only (vendor models / holes are expected to trip pysunspec2)
    real = os.path.join(FIX, "real")
    for fn in sorted(os.listdir(real)):
        if not fn.endswith(".json"):
            continue
        cap = json.load(open(os.path.join(real, fn)))
        try:
            dev = mf.ImageDevice(cap)
            dev.scan()
            errs = [m.model_id for m in dev.model_list if m.error_info]
            print("real/%s: pysunspec2 scan: %d models at base %s%s" % (
                fn, len(dev.model_list), dev.base_addr, (", errors in %s" % errs) if errs else ""))
        except Exception as e:  # noqa: BLE001
            print("real/%s: pysunspec2 scan failed: %s" % (fn, str(e).splitlines()[0]))

    if args.tcp:
        check_tcp("battery-inverter.json", ps["models"], 40000)
        check_tcp("legacy-storage.json", None, 50000)

    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
