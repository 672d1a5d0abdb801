#!/usr/bin/env python3
"""A writable Modbus device for control_interop.py: pymodbus 3.16's own server (ModbusTcpServer or
ModbusSerialServer over SimDevice/SimData blocks) serving sunspec-gateway register captures as unit
ids, taking writes (function 6 and 16) into its data blocks, with behaviours switched at run time.

    control_device.py CAPTURE [CAPTURE...] --unit U [--unit V...] (--port P | --rtu TTY [--baud B --parity N])
                      [--readonly U:ADDR ...]

`--readonly U:ADDR` makes that register of unit U a read-only SimData block (pymodbus answers a write
to it with exception 2, itself). The control channel is stdin/stdout, one JSON object a line:

  stdin  {"id": 1, "cmd": "behave", "unit": U, "mode": M, "addrs": [A, ...] | null, "code": 4}
             a rule for writes of unit U that touch one of `addrs` (null: every address); modes:
               apply      written into the data block, answered (the default, with no rule)
               ignore     answered as written (FC6 echoes the value, FC16 address and count), not applied
               exception  answered with exception `code`, not applied
               drop       not answered, not applied
               lost       applied, not answered (the reply is lost)
               delay      applied, answered `seconds` later
               silent     nothing of unit U is answered, reads included (`addrs` ignored)
               blackout   a write touching `addrs` is not answered, not applied, and the unit is silent
                          for `seconds` after it (a device that stops answering on a write)
         {"id": 2, "cmd": "clear", "unit": U}                 every rule of unit U removed
         {"id": 3, "cmd": "get", "unit": U, "addr": A, "count": N}   the registers now
         {"id": 4, "cmd": "put", "unit": U, "addr": A, "values": [...]}   set registers (a device-side change)
  stdout {"listening": "..."} once, then {"reply": ID, ...} per command, and one event per request:
         {"ev": "write", "t": MONOTONIC, "unit": U, "fc": 6|16, "addr": A, "values": [...], "did": "applied" |
          "ignored" | "exception 4" | "dropped" | "lost" | "delayed" | "silent" | "blackout"}
         {"ev": "read", "t": MONOTONIC, "unit": U, "fc": 3|4, "addr": A, "count": N, "did": "answered" |
          "silent" | "exception N"}
`t` is time.monotonic() (CLOCK_MONOTONIC, the same clock as the test's). The process ends at EOF on stdin.
"""

import argparse
import asyncio
import json
import logging
import sys
import threading
import time

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice


def load_capture(path):
    with open(path, encoding="utf-8") as f:
        cap = json.load(f)
    if cap.get("format") != "sunspec-gateway/registers":
        raise SystemExit("%s: not a sunspec-gateway/registers capture" % path)
    return cap


def simdata(cap, readonly_addrs):
    """SimData blocks of a capture's holding registers; each read-only address a block of its own."""
    out = []
    for b in sorted(cap["blocks"], key=lambda b: b["start"]):
        if int(b.get("function", 3)) != 3:
            raise SystemExit("only holding-register captures are served (block at %s is function 4)" % b["start"])
        start, regs = int(b["start"]), [int(v) & 0xFFFF for v in b["registers"]]
        run_start = start
        for i, v in enumerate(regs + [None]):
            addr = start + i
            if v is None or addr in readonly_addrs:
                if addr > run_start:
                    out.append(SimData(address=run_start, values=regs[run_start - start:addr - start],
                                       datatype=DataType.REGISTERS))
                if v is not None:
                    out.append(SimData(address=addr, values=[v], datatype=DataType.REGISTERS, readonly=True))
                run_start = addr + 1
    return out


class Emitter(object):
    """One JSON line at a time on stdout (the event loop and the stdin thread both write)."""

    def __init__(self):
        self.lock = threading.Lock()

    def __call__(self, obj):
        line = json.dumps(obj, separators=(",", ":"))
        with self.lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


class Behaviours(object):
    """The context the server calls: the units' SimCore behind the rules switched by the test."""

    def __init__(self, core, units, emit):
        self.core = core
        self.units = set(units)
        self.emit = emit
        self.rules = {u: [] for u in units}      # unit -> [(mode, addrs set | None, params)]
        self.echo = {}                            # (unit, addr) -> value the next FC6 reply echoes (ignore)
        self.silent_until = {}                    # unit -> monotonic time its blackout ends

    # -- the server's side

    def device_ids(self):
        return self.core.device_ids()

    def _known(self, unit):
        if unit not in self.units:
            raise NoSuchIdException("unit %s not served" % unit)

    def _silent(self, unit):
        if time.monotonic() < self.silent_until.get(unit, 0.0):
            return True
        return any(mode == "silent" for mode, _a, _p in self.rules.get(unit, []))

    def _rule(self, unit, addr, count):
        span = set(range(addr, addr + count))
        for mode, addrs, params in self.rules.get(unit, []):
            if mode == "silent" or addrs is None or span & addrs:
                return mode, params
        return "apply", {}

    async def async_getValues(self, device_id, func_code, address, count=1):
        self._known(device_id)
        if func_code == 6:           # the FC6 reply, right after the write
            key = (device_id, address)
            if key in self.echo:
                return [self.echo.pop(key)]
            return await self.core.async_getValues(device_id, func_code, address, count)
        now = time.monotonic()
        if self._silent(device_id):
            self.emit({"ev": "read", "t": now, "unit": device_id, "fc": func_code, "addr": address, "count": count,
                       "did": "silent"})
            raise NoSuchIdException("unit %s is silent" % device_id)
        result = await self.core.async_getValues(device_id, func_code, address, count)
        did = "exception %d" % int(result) if isinstance(result, ExcCodes) else "answered"
        self.emit({"ev": "read", "t": now, "unit": device_id, "fc": func_code, "addr": address, "count": count,
                   "did": did})
        return result

    async def async_setValues(self, device_id, func_code, address, values):
        self._known(device_id)
        now = time.monotonic()
        values = [int(v) for v in values]
        mode, params = self._rule(device_id, address, len(values))
        event = {"ev": "write", "t": now, "unit": device_id, "fc": func_code, "addr": address, "values": values}

        def said(did):
            event["did"] = did
            self.emit(event)

        if mode == "silent" or self._silent(device_id):
            said("silent")
            raise NoSuchIdException("unit %s is silent" % device_id)
        if mode == "blackout":
            self.silent_until[device_id] = now + float(params.get("seconds", 1.0))
            said("blackout")
            raise NoSuchIdException("write dropped, unit silent")
        if mode == "drop":
            said("dropped")
            raise NoSuchIdException("write dropped")
        if mode == "exception":
            said("exception %d" % params.get("code", 4))
            return ExcCodes(params.get("code", 4))
        if mode == "ignore":
            if func_code == 6:
                self.echo[(device_id, address)] = values[0]
            said("ignored")
            return None
        rc = await self.core.async_setValues(device_id, func_code, address, values)
        if rc:
            said("exception %d" % int(rc))
            return rc
        if mode == "lost":
            said("lost")
            raise NoSuchIdException("reply lost")
        if mode == "delay":
            said("delayed")
            await asyncio.sleep(float(params.get("seconds", 0.5)))
            return None
        said("applied")
        return None

    # -- the test's side (called on the event loop)

    def block(self, unit):
        start, count, registers, _flags = self.core.devices[unit].block["x"]
        return start, count, registers

    def command(self, cmd):
        op = cmd.get("cmd")
        unit = cmd.get("unit")
        if unit not in self.units:
            return {"error": "unit %s not served" % unit}
        if op == "behave":
            addrs = cmd.get("addrs")
            params = {k: cmd[k] for k in ("code", "seconds") if k in cmd}
            self.rules[unit].insert(0, (cmd["mode"], None if addrs is None else set(addrs), params))
            return {"ok": True}
        if op == "clear":
            self.rules[unit] = []
            self.silent_until.pop(unit, None)
            return {"ok": True}
        start, count, registers = self.block(unit)
        addr = int(cmd["addr"])
        if op == "get":
            n = int(cmd.get("count", 1))
            if addr < start or addr + n > start + count:
                return {"error": "outside the blocks"}
            return {"registers": list(registers[addr - start:addr - start + n])}
        if op == "put":
            vals = [int(v) & 0xFFFF for v in cmd["values"]]
            if addr < start or addr + len(vals) > start + count:
                return {"error": "outside the blocks"}
            registers[addr - start:addr - start + len(vals)] = vals
            return {"ok": True}
        return {"error": "unknown cmd %r" % op}


async def serve(args):
    if len(args.unit) != len(args.capture):
        raise SystemExit("give one --unit per capture")
    readonly = {}
    for item in args.readonly:
        u, a = item.split(":")
        readonly.setdefault(int(u), set()).add(int(a))
    emit = Emitter()
    devices = [SimDevice(id=u, simdata=simdata(load_capture(p), readonly.get(u, set())))
               for p, u in zip(args.capture, args.unit)]
    if args.rtu:
        server = ModbusSerialServer(devices, port=args.rtu, baudrate=args.baud, parity=args.parity, bytesize=8,
                                    stopbits=1, ignore_missing_devices=True)
        where = "%s (%d 8%s1)" % (args.rtu, args.baud, args.parity)
    else:
        server = ModbusTcpServer(devices, address=("127.0.0.1", args.port), ignore_missing_devices=True)
        where = "127.0.0.1:%d" % args.port
    behaviours = Behaviours(server.context, args.unit, emit)
    server.context = behaviours
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def on_line(line):
        try:
            cmd = json.loads(line)
            reply = behaviours.command(cmd)
        except Exception as exc:  # a bad command is answered, never fatal
            cmd, reply = {}, {"error": "%s: %s" % (type(exc).__name__, exc)}
        reply["reply"] = cmd.get("id")
        emit(reply)

    def read_stdin():
        for line in sys.stdin:
            if line.strip():
                loop.call_soon_threadsafe(on_line, line)
        loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))

    task = asyncio.create_task(server.serve_forever())
    for _ in range(500):
        if getattr(server, "transport", None) is not None or task.done():
            break
        await asyncio.sleep(0.01)
    if task.done():
        await task
    emit({"listening": where, "units": args.unit})
    threading.Thread(target=read_stdin, daemon=True).start()
    await asyncio.wait([task, done], return_when=asyncio.FIRST_COMPLETED)
    await server.shutdown()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("capture", nargs="+")
    p.add_argument("--unit", type=int, action="append", default=[])
    p.add_argument("--port", type=int, default=5020)
    p.add_argument("--rtu", metavar="TTY")
    p.add_argument("--baud", type=int, default=19200)
    p.add_argument("--parity", choices=("N", "E", "O"), default="E")
    p.add_argument("--readonly", action="append", default=[], metavar="UNIT:ADDR")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
