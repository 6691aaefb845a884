"""A load worker process: N lightweight Socket.IO clients over raw websockets, all in one show.

Speaks Engine.IO v4 / Socket.IO v5 on the websocket transport (open ``0``, connect ``40``,
ping ``2`` / pong ``3``, events ``42[...]``, acks ``43<id>[...]``), which is exactly what a
python-socketio or socket.io-client connection sends once upgraded, over a bare asyncio
protocol on uvloop (RFC 6455 framing by hand): thousands of python-socketio or even aiohttp
websocket clients cost more CPU per message than the server under test, so on a 2-core machine
they, not the server, set the latency. Commands on stdin, one JSON reply per line on stdout:
connect, start, report, quit.

Chat lines whose text is ``t=<send time> [n=<k>]`` are counted on every client, by counting
``"text":"t=`` in the frame without decoding it, so thousands of clients cost their worker
little and the server, not the load, is what a run measures. One client in ``sample_every``
(argument 4, default 1 = all) also decodes its frames: send-to-receive latency into a 0.1 ms
histogram, and per sender whether ``n`` only ever grows (a repeat or a step back is an order
violation). The arrival time of each client's first ``offer.updated`` is kept so a sale-start
broadcast can be timed against its send time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import sys
import time
import urllib.parse
from collections import Counter
from typing import Any, cast

import orjson
import uvloop

#: Tries per client to open its TCP connection.
CONNECT_ATTEMPTS = 5
#: Longest the ``connect`` command waits for every client to join.
JOIN_DEADLINE_SECONDS = 300


class Counters:
    def __init__(self) -> None:
        self.lines = 0
        self.sampled_lines = 0
        self.packets = 0
        self.latency_hist: Counter[int] = Counter()  # 0.1 ms buckets
        self.out_of_order = 0
        self.offer_arrivals: list[float] = []
        self.dropped = 0
        self.recording = False


def _record(
    counters: Counters, lines: list[dict[str, Any]], now: float, last: dict[str, int]
) -> None:
    for line in lines:
        text = line.get("text", "")
        if not text.startswith("t="):
            continue
        fields = dict(part.split("=", 1) for part in text.split() if "=" in part)
        counters.sampled_lines += 1
        counters.latency_hist[round((now - float(fields["t"])) * 10_000)] += 1
        if "n" in fields:
            sender, n = str(line.get("user", {}).get("id")), int(fields["n"])
            if n <= last.get(sender, -1):
                counters.out_of_order += 1
            last[sender] = n


#: How a measured line starts in a ``chat.message`` / ``chat.batch`` frame (JSON-escaped text
#: cannot contain it, so counting it counts lines).
LINE_MARK = b'"text":"t='


def client_frame(text: str) -> bytes:
    """A masked websocket text frame, as a client must send (RFC 6455 5.3)."""
    payload = text.encode()
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, 0x80 | size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 0x80 | 127, size)
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
    masked = (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big") if size else b""
    return header + mask + masked


class Client(asyncio.Protocol):
    """One Socket.IO connection spoken over a bare asyncio transport: no websocket library,
    no task and no message object per frame, so a worker holds thousands and keeps up with
    the server on one core. Frames from the server are unmasked; only the text opcode and close
    are expected (the server sends Engine.IO pings as text ``2``)."""

    def __init__(
        self, path: str, host: str, show_id: str, counters: Counters, sampled: bool
    ) -> None:
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n\r\n"
        ).encode()
        self._show_id = show_id
        self._counters = counters
        self._sampled = sampled
        self._buffer = bytearray()
        self._upgraded = False
        self._transport: asyncio.Transport | None = None
        self._last: dict[str, int] = {}
        self._offer_seen = False
        self.joined = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's does not subclass it
        self._transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.joined.done() and self._counters.recording:
            self._counters.dropped += 1  # the server closed a connection that had joined
        for future, value in ((self.joined, False), (self.closed, None)):
            if not future.done():  # a cancelled waiter cancels its future
                future.set_result(value)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if not self._upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self._close()
                return
            del buffer[: end + 4]
            self._upgraded = True
        offset = 0
        while len(buffer) - offset >= 2:
            opcode, size = buffer[offset] & 0x0F, buffer[offset + 1] & 0x7F
            start = offset + 2
            if size == 126:
                size, start = int.from_bytes(buffer[start : start + 2], "big"), start + 2
            elif size == 127:
                size, start = int.from_bytes(buffer[start : start + 8], "big"), start + 8
            if len(buffer) < start + size:
                break
            offset = start + size
            if opcode == 0x8:
                self._close()
                return
            self._packet(bytes(buffer[start:offset]))
        del buffer[:offset]

    def _packet(self, data: bytes) -> None:
        counters = self._counters
        if data == b"2":
            self._send("3")
        elif data.startswith(b"0"):
            self._send("40")
        elif data.startswith(b"40"):
            self._send("421" + json.dumps(["show.join", {"show_id": self._show_id}]))
        elif data.startswith(b"431"):
            self.joined.set_result(b'"ok":true' in data)
        elif not counters.recording:
            return
        elif data.startswith(b'42["chat.'):
            counters.packets += 1
            counters.lines += data.count(LINE_MARK)
            if self._sampled:
                now = time.time()
                event, payload = orjson.loads(data[2:])[:2]
                lines = payload["messages"] if event == "chat.batch" else [payload]
                _record(counters, lines, now, self._last)
        elif data.startswith(b'42["offer.updated"') and not self._offer_seen:
            self._offer_seen = True
            counters.offer_arrivals.append(time.time())

    def _send(self, text: str) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(client_frame(text))

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def client(
    base: str, show_id: str, counters: Counters, ready: asyncio.Event, sampled: bool
) -> None:
    """Connect, join, and stay until cancelled or closed by the server."""
    url = urllib.parse.urlsplit(base)
    path = "/socket.io/?EIO=4&transport=websocket"
    loop = asyncio.get_running_loop()
    for attempt in range(CONNECT_ATTEMPTS):
        try:
            transport, protocol = await loop.create_connection(
                lambda: Client(path, url.netloc, show_id, counters, sampled),
                url.hostname or "127.0.0.1",
                url.port or 80,
            )
            break
        except OSError:  # a full accept queue while thousands connect at once
            if attempt == CONNECT_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))
    try:
        if await protocol.joined:
            ready.set()
        await protocol.closed
    finally:
        transport.close()


async def main() -> None:
    base, show_id, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sample_every = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    counters = Counters()
    tasks: list[asyncio.Task[None]] = []
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        command = (await reader.readline()).decode().strip()
        reply: dict[str, Any] = {}
        if command == "connect":
            events = []
            for i in range(n):
                ready = asyncio.Event()
                events.append(ready)
                tasks.append(
                    asyncio.create_task(
                        client(base, show_id, counters, ready, i % sample_every == 0)
                    )
                )
                if i % 50 == 49:
                    await asyncio.sleep(0.05)  # do not stampede the accept queue
            # one deadline for all (a client whose connect failed never becomes ready)
            waits = [asyncio.create_task(ready.wait()) for ready in events]
            _done, pending = await asyncio.wait(waits, timeout=JOIN_DEADLINE_SECONDS)
            for waiter in pending:
                waiter.cancel()
            reply = {"connected": sum(ready.is_set() for ready in events)}
        elif command == "start":
            counters.recording = True
        elif command == "report":
            counters.recording = False
            reply = {
                "lines": counters.lines,
                "sampled_lines": counters.sampled_lines,
                "packets": counters.packets,
                "latency_hist": {str(k): v for k, v in counters.latency_hist.items()},
                "out_of_order": counters.out_of_order,
                "offer_arrivals": counters.offer_arrivals,
                "dropped": counters.dropped,
                "open": sum(not task.done() for task in tasks),
            }
        elif command in ("quit", ""):
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            print("{}", flush=True)
            return
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    uvloop.run(main())
