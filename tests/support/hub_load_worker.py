"""A load worker process: N lightweight Socket.IO clients over raw websockets, all in one show.

Speaks Engine.IO v4 / Socket.IO v5 on the websocket transport (open ``0``, connect ``40``,
ping ``2`` / pong ``3``, events ``42[...]``, acks ``43<id>[...]``), which is exactly what a
python-socketio or socket.io-client connection sends once upgraded, at a fraction of the memory:
thousands of full python-socketio clients would need more memory and CPU than the server under
test. Commands on stdin, one JSON reply per line on stdout: connect, start, report, quit.

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
import json
import sys
import time
from collections import Counter
from typing import Any

import aiohttp
import orjson

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
LINE_MARK = '"text":"t='


async def client(
    http: aiohttp.ClientSession,
    base: str,
    show_id: str,
    counters: Counters,
    ready: asyncio.Event,
    sampled: bool,
) -> None:
    url = base.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    last: dict[str, int] = {}
    offer_seen = False
    async with http.ws_connect(url, max_msg_size=0, autoping=True) as ws:
        await ws.receive()  # engine.io open packet
        await ws.send_str("40")
        joined = False
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data: str = msg.data
            if data == "2":
                await ws.send_str("3")
            elif data.startswith("40") and not joined:
                await ws.send_str("421" + json.dumps(["show.join", {"show_id": show_id}]))
            elif data.startswith("431") and not joined:
                joined = True
                ready.set()
            elif not counters.recording:
                continue
            elif data.startswith('42["chat.'):
                counters.packets += 1
                counters.lines += data.count(LINE_MARK)
                if sampled:
                    now = time.time()
                    event, payload = orjson.loads(data[2:])[:2]
                    lines = payload["messages"] if event == "chat.batch" else [payload]
                    _record(counters, lines, now, last)
            elif data.startswith('42["offer.updated"') and not offer_seen:
                offer_seen = True
                counters.offer_arrivals.append(time.time())
    if joined and counters.recording:
        counters.dropped += 1  # the server closed a connection that had joined


async def main() -> None:
    base, show_id, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sample_every = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    counters = Counters()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
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
                            client(http, base, show_id, counters, ready, i % sample_every == 0)
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
    asyncio.run(main())
