"""Shared fixtures: settings with a private data dir; real Redis and PostgreSQL per session."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from livecommerce.settings import Settings, load_settings
from tests.support.servers import PostgresServer, RedisClusterServer, RedisServer, free_port

SettingsFactory = Callable[..., Settings]

# why: RB-24 scans every log line of the run (tests/support/logscan.py)
pytest_plugins = ["tests.support.logscan"]


def pytest_configure(config: pytest.Config) -> None:
    # Registered here, not in pyproject.toml, so the marker list stays with the tests.
    config.addinivalue_line(
        "markers",
        "long: runs for minutes of wall-clock time; make test runs these beside the rest",
    )
    config.addinivalue_line(
        "markers",
        "soak: the N tier of the reliability battery (long, large); only `make soak` runs these",
    )


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@pytest.fixture
def settings_factory(tmp_path: Path) -> SettingsFactory:
    """Settings with a private data dir, a free port, loopback ICE and no demo unless asked."""

    def make(**sections: Any) -> Settings:
        base: dict[str, Any] = {
            "server": {"host": "127.0.0.1", "port": free_port(), "data_dir": tmp_path / "data"},
            "demo": {"enabled": False},
            "log": {"format": "text"},
            "broadcast": {
                "ice": {"host_addresses": ["127.0.0.2"]},
                "media_dir": tmp_path / "media",
            },
        }
        return load_settings(None, _merge(base, sections))

    return make


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.kill()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A flushed Redis database on the session's redis-server (restarted if a test killed it)."""
    try:
        redis_server.flush()
    except OSError:
        redis_server.start()
    return redis_server.url


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterServer]:
    cluster = RedisClusterServer(masters=3)
    cluster.start()
    yield cluster
    cluster.cleanup()


@pytest.fixture
def redis_cluster_url(redis_cluster: RedisClusterServer) -> str:
    """One node of the session's flushed three-master Redis Cluster (connect with
    ``cluster=True``)."""
    redis_cluster.flush()
    return redis_cluster.url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's PostgreSQL."""
    return postgres_server.create_database("t_" + uuid.uuid4().hex[:12])
