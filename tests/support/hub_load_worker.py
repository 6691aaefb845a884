"""A load worker process: N lightweight Socket.IO clients over raw websockets, all in one show.

Speaks Engine.IO v4 / Socket.IO v5 on the websocket transport (open ``0``, connect ``40``,
ping ``2`` / pong ``3``, events ``42[...]``, acks ``43<id>[...]``), which is exactly what a
python-socketio or socket.io-client connection sends once upgraded, over a bare asyncio
protocol on uvloop (RFC 6455 framing by hand): thousands of python-socketio or even aiohttp
websocket clients cost more CPU per message than the server under test, so on a 2-core machine
they, not the server, set the latency. Commands on stdin, one JSON reply per line on stdout:
connect, call, start, report, quit.

Chat lines whose text is ``t=<send time> [n=<k>]`` are counted on every client, by counting
``"text":"t=`` in the frame without decoding it, so thousands of clients cost their worker
little and the server, not the load, is what a run measures. One client in ``sample_every``
(argument 4, default 1 = all) also decodes its frames: send-to-receive latency into a 0.1 ms
histogram, and per sender whether ``n`` only ever grows (a repeat or a step back is an order
violation). The arrival time of each client's first ``offer.updated`` is kept so a sale-start
broadcast can be timed against its send time.

Signed-in clients (argument 5: a JSON file of ``{token, show_id}``, one per client) can all emit
one event at once with their own payloads (``call <file>``) and time their acks: the flash-sale
stampede's buyers.
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
from pathlib import Path
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
        self,
        path: str,
        host: str,
        show_id: str,
        counters: Counters,
        sampled: bool,
        token: str | None = None,
    ) -> None:
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n\r\n"
        ).encode()
        self._show_id = show_id
        self._token = token
        self._counters = counters
        self._sampled = sampled
        self._buffer = bytearray()
        self._upgraded = False
        self._transport: asyncio.Transport | None = None
        self._last: dict[str, int] = {}
        self._offer_seen = False
        self.joined = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        #: The ack id of the next `call` (1 is the join's), and the call waiting for its ack.
        self._next_id = 2
        self._call: tuple[int, float, asyncio.Future[tuple[float, Any]]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's does not subclass it
        self._transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.joined.done() and self._counters.recording:
            self._counters.dropped += 1  # the server closed a connection that had joined
        for future, value in ((self.joined, False), (self.closed, None)):
            if not future.done():  # a cancelled waiter cancels its future
                future.set_result(value)
        if self._call is not None and not self._call[2].done():
            lost = {"ok": False, "error": {"code": "connection_lost"}}
            self._call[2].set_result((time.perf_counter() - self._call[1], lost))

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
            self._send("40" + (json.dumps({"token": self._token}) if self._token else ""))
        elif data.startswith(b"40"):
            self._send("421" + json.dumps(["show.join", {"show_id": self._show_id}]))
        elif data.startswith(b"43"):
            ack_id = int(data[2 : data.index(b"[")])
            if ack_id == 1:
                self.joined.set_result(b'"ok":true' in data)
            elif self._call is not None and self._call[0] == ack_id:
                _, sent, answer = self._call
                self._call = None
                answer.set_result(
                    (time.perf_counter() - sent, orjson.loads(data[2:].lstrip(b"0123456789"))[0])
                )
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

    def call(self, event: str, payload: Any) -> asyncio.Future[tuple[float, Any]]:
        """Emit `event` with an ack id: resolves to (seconds to the ack, the ack's payload)."""
        answer: asyncio.Future[tuple[float, Any]] = asyncio.get_running_loop().create_future()
        ack_id, self._next_id = self._next_id, self._next_id + 1
        self._call = (ack_id, time.perf_counter(), answer)
        self._send(f"42{ack_id}" + json.dumps([event, payload]))
        return answer

    def _send(self, text: str) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(client_frame(text))

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def client(
    base: str,
    show_id: str,
    counters: Counters,
    ready: asyncio.Event,
    sampled: bool,
    token: str | None = None,
    connected: dict[int, Client] | None = None,
    index: int = 0,
) -> None:
    """Connect (as `token`'s user, else a guest), join, and stay until cancelled or closed by
    the server; a client that joined is `connected[index]`."""
    url = urllib.parse.urlsplit(base)
    path = "/socket.io/?EIO=4&transport=websocket"
    loop = asyncio.get_running_loop()
    for attempt in range(CONNECT_ATTEMPTS):
        try:
            transport, protocol = await loop.create_connection(
                lambda: Client(path, url.netloc, show_id, counters, sampled, token),
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
            if connected is not None:
                connected[index] = protocol
            ready.set()
        await protocol.closed
    finally:
        transport.close()


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


async def call_all(connected: dict[int, Client], path: Path) -> dict[str, Any]:
    """Every joined client emits `event` at once with its own payload (the file's
    ``{"event", "payloads"}``, payload i for client i): the seconds from
    the first emit to the last ack, each call's seconds to its ack, and the ack codes."""
    spec = _read_json(path)
    start = time.perf_counter()
    answers = await asyncio.gather(
        *(c.call(spec["event"], spec["payloads"][i]) for i, c in sorted(connected.items()))
    )
    wall = time.perf_counter() - start
    codes = Counter("ok" if ack.get("ok") else ack["error"]["code"] for _, ack in answers)
    return {"wall": wall, "latencies": [s for s, _ in answers], "codes": dict(codes)}


async def main() -> None:
    base, show_id, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sample_every = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    #: Signed-in clients: one {token, show_id} per client (argument 5, a JSON file).
    buyers: list[dict[str, str]] = []
    if len(sys.argv) > 5:
        buyers = _read_json(Path(sys.argv[5]))
        n = len(buyers)
    counters = Counters()
    tasks: list[asyncio.Task[None]] = []
    connected: dict[int, Client] = {}
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
                buyer = buyers[i] if buyers else {"show_id": show_id}
                sampled = i % sample_every == 0
                joining = client(
                    base,
                    buyer["show_id"],
                    counters,
                    ready,
                    sampled,
                    buyer.get("token"),
                    connected,
                    i,
                )
                tasks.append(asyncio.create_task(joining))
                if i % 50 == 49:
                    await asyncio.sleep(0.05)  # do not stampede the accept queue
            # one deadline for all (a client whose connect failed never becomes ready)
            waits = [asyncio.create_task(ready.wait()) for ready in events]
            _done, pending = await asyncio.wait(waits, timeout=JOIN_DEADLINE_SECONDS)
            for waiter in pending:
                waiter.cancel()
            reply = {"connected": sum(ready.is_set() for ready in events)}
        elif command.startswith("call "):
            reply = await call_all(connected, Path(command.removeprefix("call ")))
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
