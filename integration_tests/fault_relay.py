"""A frame-aware TCP relay between a proxy and one node, for slowing down single answers.

    relay = FaultRelay(node_port, delay_marker=b"SLOW!", delay_s=1.5)
    ... point the proxy at relay.port instead of node_port ...
    relay.close()

Every connection to relay.port is relayed to the node. Frames (u32 little-endian length, then
the envelope) from the node that contain `delay_marker` are held for `delay_s` seconds while
later frames pass: one slow answer among fast ones on the same connection (the node protocol
matches answers by request id, so the reordering is legal). Runs its own asyncio loop thread.
"""
import asyncio
import socket
import struct
import threading


class FaultRelay:
    def __init__(self, node_port, delay_marker, delay_s):
        self.node_port = node_port
        self.delay_marker = delay_marker
        self.delay_s = delay_s
        self.delayed = 0  # frames held back so far
        self.loop = asyncio.new_event_loop()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._sock = sock
        self._writers = []
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(5)

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, sock=self._sock))
        ready.set()
        self.loop.run_forever()

    async def _serve(self, client_reader, client_writer):
        try:
            node_reader, node_writer = await asyncio.open_connection("127.0.0.1", self.node_port)
        except OSError:
            client_writer.close()
            return
        self._writers += [client_writer, node_writer]
        await asyncio.gather(self._pipe(client_reader, node_writer, delay=False),
                             self._pipe(node_reader, client_writer, delay=True),
                             return_exceptions=True)
        for w in (client_writer, node_writer):
            w.close()

    async def _pipe(self, reader, writer, delay):
        try:
            while True:
                header = await reader.readexactly(4)
                (length,) = struct.unpack("<I", header)
                frame = header + await reader.readexactly(length)
                if delay and self.delay_marker in frame:
                    self.delayed += 1
                    self.loop.call_later(self.delay_s, self._late_write, writer, frame)
                else:
                    writer.write(frame)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    @staticmethod
    def _late_write(writer, frame):
        if not writer.is_closing():
            writer.write(frame)

    def close(self):
        def stop():
            self.server.close()
            for w in self._writers:
                w.close()
            self.loop.stop()
        self.loop.call_soon_threadsafe(stop)
        self.thread.join(5)
        # Let the relaying tasks see their cancellation, so none is left pending at exit.
        tasks = asyncio.all_tasks(self.loop)
        for t in tasks:
            t.cancel()

        async def drain():
            await asyncio.gather(*tasks, return_exceptions=True)

        self.loop.run_until_complete(drain())
        self.loop.close()
