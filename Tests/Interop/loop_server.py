"""An asyncio TCP server on a thread of its own, for the interop suites' own peers (the counting
proxy of live_interop.py, the rogue device of rogue_device.py): `start` binds and serves
`self._handle(reader, writer)` until `stop`; connection tasks kept in `self.tasks` are cancelled then."""

import asyncio
import threading


class LoopServer(object):
    loop = None
    server = None
    thread = None

    def _serve_on_thread(self, host, port, name):
        """Binds host:port (0: a free one) on a new event loop thread; returns the bound port, or
        raises RuntimeError with the reason."""
        self.tasks = getattr(self, "tasks", set())
        ready = threading.Event()
        err = []
        bound = []

        def main():
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            try:
                self.server = self.loop.run_until_complete(asyncio.start_server(self._handle, host, port))
                bound.append(self.server.sockets[0].getsockname()[1])
            except Exception as exc:
                err.append(exc)
                ready.set()
                return
            ready.set()
            self.loop.run_forever()
            self.loop.close()

        self.thread = threading.Thread(target=main, daemon=True, name=name)
        self.thread.start()
        ready.wait(10)
        if err or not bound:
            raise RuntimeError("%s did not start: %s" % (name, err[0] if err else "timeout"))
        return bound[0]

    def stop(self):
        if not self.loop or self.loop.is_closed():
            return

        def shutdown():
            if self.server:
                self.server.close()
            for t in list(self.tasks):
                t.cancel()
            self.loop.call_later(0.05, self.loop.stop)

        try:
            self.loop.call_soon_threadsafe(shutdown)
        except RuntimeError:
            pass       # the loop stopped already
        if self.thread:
            self.thread.join(timeout=5)
