#!/usr/bin/env python3
"""Serve a sunspec-gateway register capture as a Modbus TCP server (pymodbus).

Usage (from the repo root):

    /tmp/venv/bin/python scripts/serve_capture.py Fixtures/battery-inverter.json --port 15020

The capture is a `sunspec-gateway/registers` JSON file (0-based protocol addresses). Every block is
served at its own addresses; addresses outside the blocks (including holes between blocks) answer
with Modbus exception 2 (illegal data address), as a real device refusing a register would.

A `.jsonl` file (one capture per line, e.g. Fixtures/history.jsonl) is also accepted: by default the
first line is served; `--replay SECONDS` switches to the next line every SECONDS (wrapping around), so
a poller sees values move (a value written by a client lasts until the next step).  `--index K`
serves line K.

The server answers for the capture's unit id only (`--unit` overrides, `--any-unit` answers every
unit id); another unit id gets exception 0x0B, or no answer with `--missing-unit timeout`. Function 3 and 4 are both served from the capture's blocks (the capture format records
holding registers; a block with "function": 4 is served to function 4 requests only when the capture
mixes both).  Writes (function 6/16) are accepted unless `--readonly`.

When the socket is listening a single line `listening on HOST:PORT unit U` is printed to stdout
(flushed), so scripts can wait for it.
"""

import argparse
import asyncio
import json
import logging
import sys
import time

from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice


def load_captures(path):
    """Return a list of capture dicts from a .json capture or a .jsonl file of captures."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    stripped = text.lstrip()
    if stripped.startswith("{") and "\n{" not in stripped.rstrip():
        caps = [json.loads(text)]
    else:
        caps = [json.loads(line) for line in text.splitlines() if line.strip()]
    for cap in caps:
        if cap.get("format") != "sunspec-gateway/registers":
            raise SystemExit("%s: not a sunspec-gateway/registers capture" % path)
    return caps


def block_simdata(blocks, readonly):
    sims = []
    for b in sorted(blocks, key=lambda b: b["start"]):
        regs = [int(v) & 0xFFFF for v in b["registers"]]
        if not regs:
            continue
        sims.append(SimData(address=int(b["start"]), values=regs, datatype=DataType.REGISTERS,
                            readonly=readonly))
    return sims


def make_device(cap, unit_id, readonly, action=None):
    blocks = cap["blocks"]
    functions = {int(b.get("function", 3)) for b in blocks}
    if functions <= {3}:
        simdata = block_simdata(blocks, readonly)
    else:
        hr = block_simdata([b for b in blocks if int(b.get("function", 3)) == 3], readonly)
        ir = block_simdata([b for b in blocks if int(b.get("function", 3)) == 4], readonly)
        # pymodbus needs every one of the 4 tables non-empty in non-shared mode
        dummy_bits = [SimData(address=0, values=[False] * 16, datatype=DataType.BITS)]
        placeholder = [SimData(address=0, count=1, datatype=DataType.INVALID)]
        simdata = (dummy_bits, list(dummy_bits), hr or placeholder, ir or list(placeholder))
    return SimDevice(id=unit_id, simdata=simdata, action=action)


def make_replay_action(caps, interval):
    """SimDevice action that swaps in capture k = elapsed // interval before each access."""
    frames = []
    for cap in caps:
        frame = {}
        for b in cap["blocks"]:
            for i, v in enumerate(b["registers"]):
                frame[int(b["start"]) + i] = int(v) & 0xFFFF
        frames.append(frame)
    state = {"t0": time.monotonic(), "current": 0}

    async def action(func_code, start_address, address, count, registers, set_values):
        k = int((time.monotonic() - state["t0"]) / interval) % len(frames)
        if k != state["current"]:
            for addr, v in frames[k].items():
                idx = addr - start_address
                if 0 <= idx < len(registers):
                    registers[idx] = v
            state["current"] = k
        return None

    return action


class UnitFilter:
    """Wrap pymodbus' SimCore so an unknown unit id is reported as a missing device.

    SimCore raises KeyError for an unknown id, which pymodbus turns into exception 4 (server
    failure); NoSuchIdException gives exception 0x0B (gateway target failed to respond) or, with
    ignore_missing_devices, no answer at all -- what gateways and real devices do."""

    def __init__(self, core, unit):
        self.core = core
        self.unit = unit

    def device_ids(self):
        return self.core.device_ids()

    def _check(self, device_id):
        if self.unit and device_id != self.unit:
            raise NoSuchIdException("unit %s not served" % device_id)

    async def async_getValues(self, device_id, func_code, address, count=1):
        self._check(device_id)
        return await self.core.async_getValues(device_id, func_code, address, count)

    async def async_setValues(self, device_id, func_code, address, values):
        self._check(device_id)
        return await self.core.async_setValues(device_id, func_code, address, values)


async def serve(args):
    caps = load_captures(args.capture)
    if args.index >= len(caps):
        raise SystemExit("--index %d out of range (%d captures)" % (args.index, len(caps)))
    first = caps[args.index]
    if args.any_unit:
        unit = 0
    elif args.unit is not None:
        unit = args.unit
    else:
        unit = int(first.get("unit") or 1)
    action = None
    if args.replay:
        # the first access must start from capture `index`; rotate the list accordingly
        rotated = caps[args.index:] + caps[:args.index]
        action = make_replay_action(rotated, args.replay)
    device = make_device(first, unit, args.readonly, action)
    server = ModbusTcpServer(device, address=(args.host, args.port),
                             ignore_missing_devices=(args.missing_unit == "timeout"))
    server.context = UnitFilter(server.context, unit)
    task = asyncio.create_task(server.serve_forever())
    # wait until the listening socket exists
    for _ in range(200):
        if getattr(server, "transport", None) is not None:
            break
        await asyncio.sleep(0.01)
    print("listening on %s:%d unit %s" % (args.host, args.port, unit if unit else "any"), flush=True)
    await task


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("capture", help="capture .json (or .jsonl of captures)")
    p.add_argument("--port", type=int, default=5020)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--unit", type=int, default=None, help="unit id to answer (default: capture's unit)")
    p.add_argument("--any-unit", action="store_true", help="answer every unit id")
    p.add_argument("--missing-unit", choices=("gateway", "timeout"), default="gateway",
                   help="request for another unit id: exception 0x0B (default) or no answer")
    p.add_argument("--readonly", action="store_true", help="refuse writes with exception 2")
    p.add_argument("--index", type=int, default=0, help="line of a .jsonl to serve (0-based)")
    p.add_argument("--replay", type=float, default=0.0,
                   help="for .jsonl: advance to the next capture every SECONDS")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.ERROR)
    # pymodbus logs deprecation chatter at WARNING; keep stdout/stderr clean unless asked
    logging.getLogger("pymodbus").setLevel(logging.DEBUG if args.verbose else logging.ERROR)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
