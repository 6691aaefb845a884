"""Viewer worker process for the fan-out benchmark (viewers spread over processes).

``python -m bench._viewer_worker URL COUNT`` connects COUNT counting viewers, prints
``ready``, then for every ``go SECONDS`` line on stdin counts frames for that long and prints
one JSON list of per-viewer frame counts. EOF on stdin closes the viewers and exits.
"""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp

from bench._viewers import CountingViewer
from livecommerce.broadcast.ice import IcePolicy


async def main(url: str, count: int) -> None:
    policy = IcePolicy(host_addresses=("127.0.0.1",))
    loop = asyncio.get_running_loop()
    viewers = []
    async with aiohttp.ClientSession() as http:
        for _ in range(count):
            viewer = CountingViewer(policy)
            await viewer.connect(http, url)
            viewers.append(viewer)
    print("ready", flush=True)
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        seconds = float(line.split()[1])
        before = [v.frames for v in viewers]
        await asyncio.sleep(seconds)
        print(json.dumps([v.frames - b for v, b in zip(viewers, before, strict=True)]), flush=True)
    for viewer in viewers:
        await viewer.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
