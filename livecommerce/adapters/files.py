"""Files on the local disk under the data dir: uploaded product images.

Writes go to a hidden temporary name and are renamed into place, so a reader never serves half
an image; the names come from the service, never from a client.
"""

from __future__ import annotations

import asyncio
from pathlib import Path


class FileProductImages:
    def __init__(self, directory: Path) -> None:
        self._dir = directory

    async def save(self, name: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, name, data)

    def _write(self, name: str, data: bytes) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        tmp = self._dir / f".{name}.part"
        tmp.write_bytes(data)
        tmp.replace(self._dir / name)

    def path_of(self, name: str) -> Path | None:
        path = self._dir / name
        return path if path.is_file() else None
