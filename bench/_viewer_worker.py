"""Viewer worker process for the fan-out benchmark (viewers spread over processes).

``python -m bench._viewer_worker URL`` reads commands on stdin, one per line:

- ``add COUNT``: connect COUNT more counting viewers (a few at a time), then print ``ready N``;
- ``go SECONDS``: count for that long, then print one JSON object: per viewer, its complete
  frames and the frames the show was due to send between its first and last one; and the SRTP
  packets verified / failed verification.

EOF on stdin closes the viewers and exits.
"""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp

from bench._viewers import CountingViewer
from livecommerce.broadcast.ice import IcePolicy

CONNECT_BATCH = 8  # viewers connecting at once (their handshakes load the server too)


async def main(url: str) -> None:
    policy = IcePolicy(host_addresses=("127.0.0.1",))
    loop = asyncio.get_running_loop()
    viewers: list[CountingViewer] = []
    async with aiohttp.ClientSession() as http:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command, value = line.split()
            if command == "add":
                fresh = [CountingViewer(policy) for _ in range(int(value))]
                for i in range(0, len(fresh), CONNECT_BATCH):
                    batch = fresh[i : i + CONNECT_BATCH]
                    await asyncio.gather(*(viewer.connect(http, url) for viewer in batch))
                viewers += fresh
                print(f"ready {len(viewers)}", flush=True)
                continue
            counters = [viewer.counter for viewer in viewers if viewer.counter is not None]
            before = [(c.verified, c.auth_failures) for c in counters]
            for counter in counters:
                counter.start_window()
            await asyncio.sleep(float(value))
            result = {
                "windows": [counter.window() for counter in counters],
                "verified": sum(c.verified for c in counters) - sum(b[0] for b in before),
                "auth_failures": sum(c.auth_failures for c in counters) - sum(b[1] for b in before),
            }
            print(json.dumps(result), flush=True)
    for viewer in viewers:
        await viewer.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
