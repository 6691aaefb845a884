"""The server runs Python's cyclic collector with its own young-generation threshold while it
is up (many sockets churn short-lived objects; docs/OPERATIONS.md) and hands the process's
previous one back when it stops."""

from __future__ import annotations

import gc
from pathlib import Path

from livecommerce.settings import load_settings
from tests.support.app import running_app
from tests.support.servers import free_port


async def test_gc_threshold_applies_while_running_and_is_restored(tmp_path: Path) -> None:
    """``server.gc_threshold`` is the young threshold during the app's life; the older
    generations keep theirs, and stopping the app restores what the process had before."""
    before = gc.get_threshold()
    settings = load_settings(
        None,
        {
            "server": {"port": free_port(), "data_dir": str(tmp_path), "gc_threshold": 54_321},
            "demo": {"enabled": False},
        },
    )
    async with running_app(settings):
        assert (54_321, before[1], before[2]) == gc.get_threshold()
    assert before == gc.get_threshold()
