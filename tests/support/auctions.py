"""What the tests of published records share (auction bid logs, giveaway draws): the standalone
verifier a doc gives, run as a reader would run it, and a one-byte edit of a published log."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def standalone_verifier(doc: str = "AUCTIONS.md") -> str:
    """The script a doc (docs/AUCTIONS.md, docs/GIVEAWAYS.md) gives, as a reader would copy it."""
    found = re.search(r"```python\n(.*?)```", (DOCS / doc).read_text(encoding="utf-8"), re.S)
    assert found is not None
    return found.group(1)


async def run_script(script: Path, source: str) -> tuple[int, str]:
    """Run a saved verifier on a log URL or file: (exit status, stdout)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), source, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode or 0, out.decode()


def edit_one_byte(raw: bytes) -> bytes:
    """The published log with one byte changed: the last digit of the first row's amount."""
    found = re.compile(rb'"amount":\s*\d*(\d)').search(raw, raw.index(b'"bids"'))
    assert found is not None
    at = found.start(1)
    return raw[:at] + str((int(raw[at : at + 1]) + 1) % 10).encode() + raw[at + 1 :]
