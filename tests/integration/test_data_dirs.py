"""Runtime files live under the server's own data dir, so two servers on one machine never
write into each other's media folder."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from livecommerce.settings import Settings, load_settings
from tests.support.app import running_app
from tests.support.servers import free_port


def _settings(data_dir: Path) -> Settings:
    return load_settings(
        None,
        {
            "server": {"host": "127.0.0.1", "port": free_port(), "data_dir": str(data_dir)},
            "demo": {"enabled": True},
            "log": {"format": "text"},
            "broadcast": {
                "ice": {"host_addresses": ["127.0.0.2"]},
                "synthetic_width": 320,
                "synthetic_height": 176,
            },
        },
    )


async def _wait_for(path: Path, within: float) -> None:
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(path.exists):
        assert time.monotonic() < deadline, f"{path} never appeared"
        await asyncio.sleep(0.2)


async def test_two_servers_write_hls_under_their_own_data_dirs(tmp_path: Path) -> None:
    """With the default (relative) media_dir, each demo server packages its show's HLS into
    `<its data dir>/media/hls/<show>/` and nothing of it lands in the other's folder."""
    dir_a, dir_b = tmp_path / "a", tmp_path / "b"
    settings_a, settings_b = _settings(dir_a), _settings(dir_b)
    assert dir_a / "media" == settings_a.media_dir
    async with running_app(settings_a), running_app(settings_b):
        show_a = json.loads((dir_a / "demo.json").read_text())["show_id"]
        show_b = json.loads((dir_b / "demo.json").read_text())["show_id"]
        await _wait_for(dir_a / "media" / "hls" / show_a / "index.m3u8", within=30)
        await _wait_for(dir_b / "media" / "hls" / show_b / "index.m3u8", within=30)
        assert not (dir_a / "media" / "hls" / show_b).exists()
        assert not (dir_b / "media" / "hls" / show_a).exists()
