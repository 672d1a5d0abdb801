#!/usr/bin/env python3
"""Serve sunspec-gateway register captures as a Modbus TCP or RTU server (pymodbus).

Usage (from the repo root):

    .venv/bin/python scripts/serve_capture.py Fixtures/battery-inverter.json --port 15020
    .venv/bin/python scripts/serve_capture.py a.json b.json --unit 1 --unit 2 --rtu /dev/pts/7

Several captures are served as several units on the same server: each capture as its own unit id
(the capture's `unit`, or the `--unit` options in the order of the captures, one per capture).
`--rtu PORT` serves Modbus RTU on a serial device (`--baud`, `--parity`, `--data-bits`,
`--stop-bits`; default 19200 8E1) instead of Modbus TCP.

The capture is a `sunspec-gateway/registers` JSON file (0-based protocol addresses). Every block is
served at its own addresses; addresses outside the blocks (including holes between blocks) answer
with Modbus exception 2 (illegal data address), as a real device refusing a register would.

A `.jsonl` file (one capture per line, e.g. Fixtures/history.jsonl) is also accepted: by default the
first line is served; `--replay SECONDS` switches to the next line every SECONDS (wrapping around), so
a poller sees values move (a value written by a client lasts until the next step).  `--index K`
serves line K.

The server answers for the captures' unit ids only (`--unit` overrides, `--any-unit` answers every
unit id with a single capture); another unit id gets exception 0x0B, or no answer with
`--missing-unit timeout` (what a unit that is not on an RS-485 line does). `--max-read N` answers
exception 3 (`--max-read-exception 2` for 2) to any read of more than N registers, as devices with a
small buffer do. Function 3 and 4 are both served from the capture's blocks (the capture format records
holding registers; a block with "function": 4 is served to function 4 requests only when the capture
mixes both).  Writes (function 6/16) are accepted unless `--readonly`.

When the server is listening a single line `listening on HOST:PORT unit U` (`units U,V` for several,
`on PORT (19200 8E1)` for RTU) is printed to stdout (flushed), so scripts can wait for it.
"""

import argparse
import asyncio
import json
import logging
import sys
import time

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
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

    SimCore raises KeyError for an unknown id (or answers from its first device), which pymodbus
    turns into exception 4 (server failure); NoSuchIdException gives exception 0x0B (gateway target
    failed to respond) or, with ignore_missing_devices, no answer at all -- what gateways and real
    devices do. `units` empty answers every unit id. A read of more than `max_read` registers gets
    exception `max_read_exception`."""

    def __init__(self, core, units, max_read=0, max_read_exception=3):
        self.core = core
        self.units = set(units)
        self.max_read = max_read
        self.max_read_exception = ExcCodes(max_read_exception)

    def device_ids(self):
        return self.core.device_ids()

    def _check(self, device_id):
        if self.units and device_id not in self.units:
            raise NoSuchIdException("unit %s not served" % device_id)

    async def async_getValues(self, device_id, func_code, address, count=1):
        self._check(device_id)
        if self.max_read and func_code in (3, 4) and count > self.max_read:
            return self.max_read_exception
        return await self.core.async_getValues(device_id, func_code, address, count)

    async def async_setValues(self, device_id, func_code, address, values):
        self._check(device_id)
        return await self.core.async_setValues(device_id, func_code, address, values)


def units_of(args, files):
    """The unit id of each capture file (0 = any unit, single capture only)."""
    if args.any_unit:
        if len(files) != 1:
            raise SystemExit("--any-unit serves a single capture")
        return [0]
    if args.unit:
        if len(args.unit) != len(files):
            raise SystemExit("give one --unit per capture (%d captures, %d --unit)" % (len(files), len(args.unit)))
        units = list(args.unit)
    else:
        units = [None] * len(files)
    out = []
    for path, unit in zip(files, units):
        caps = load_captures(path)
        out.append(unit if unit is not None else int(caps[min(args.index, len(caps) - 1)].get("unit") or 1))
    if len(set(out)) != len(out):
        raise SystemExit("two captures would be served as the same unit id: %s" % out)
    return out


async def serve(args):
    units = units_of(args, args.capture)
    devices = []
    for path, unit in zip(args.capture, units):
        caps = load_captures(path)
        if args.index >= len(caps):
            raise SystemExit("%s: --index %d out of range (%d captures)" % (path, args.index, len(caps)))
        action = None
        if args.replay:
            # the first access must start from capture `index`; rotate the list accordingly
            rotated = caps[args.index:] + caps[:args.index]
            action = make_replay_action(rotated, args.replay)
        devices.append(make_device(caps[args.index], unit, args.readonly, action))
    ignore_missing = args.missing_unit == "timeout"
    if args.rtu:
        server = ModbusSerialServer(devices, port=args.rtu, baudrate=args.baud, parity=args.parity,
                                    bytesize=args.data_bits, stopbits=args.stop_bits,
                                    ignore_missing_devices=ignore_missing)
        where = "%s (%d %d%s%d)" % (args.rtu, args.baud, args.data_bits, args.parity, args.stop_bits)
    else:
        server = ModbusTcpServer(devices, address=(args.host, args.port), ignore_missing_devices=ignore_missing)
        where = "%s:%d" % (args.host, args.port)
    server.context = UnitFilter(server.context, [u for u in units if u], args.max_read, args.max_read_exception)
    task = asyncio.create_task(server.serve_forever())
    # wait until the listening socket (or the serial port) is open
    for _ in range(200):
        if getattr(server, "transport", None) is not None or task.done():
            break
        await asyncio.sleep(0.01)
    if task.done():
        await task          # raises what went wrong
    shown = "any" if units == [0] else ",".join(str(u) for u in units)
    print("listening on %s unit%s %s" % (where, "s" if len(units) > 1 else "", shown), flush=True)
    await task


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("capture", nargs="+", help="capture .json (or .jsonl of captures); several are several units")
    p.add_argument("--port", type=int, default=5020)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--unit", type=int, action="append", default=None,
                   help="unit id to answer, one per capture in order (default: each capture's unit)")
    p.add_argument("--any-unit", action="store_true", help="answer every unit id (a single capture)")
    p.add_argument("--rtu", metavar="PORT", help="serve Modbus RTU on this serial device instead of TCP")
    p.add_argument("--baud", type=int, default=19200, help="RTU baud rate (default 19200)")
    p.add_argument("--parity", choices=("N", "E", "O"), default="E", help="RTU parity (default E)")
    p.add_argument("--data-bits", type=int, default=8, help="RTU data bits (default 8)")
    p.add_argument("--stop-bits", type=int, default=1, help="RTU stop bits (default 1)")
    p.add_argument("--max-read", type=int, default=0, metavar="N",
                   help="refuse reads of more than N registers (default: no limit)")
    p.add_argument("--max-read-exception", type=int, choices=(2, 3), default=3,
                   help="the exception code of a refused large read (default 3)")
    p.add_argument("--missing-unit", choices=("gateway", "timeout"), default="gateway",
                   help="request for another unit id: exception 0x0B (default) or no answer")
    p.add_argument("--readonly", action="store_true", help="refuse writes with exception 2")
    p.add_argument("--index", type=int, default=0, help="line of each .jsonl to serve (0-based)")
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
