"""Configuration precedence and start-up failures that name the bad key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from livecommerce.logs import redact
from livecommerce.settings import ConfigError, load_settings


def test_file_then_env_then_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """config.yaml < LIVECOMMERCE_* environment < explicit (CLI) overrides."""
    config = tmp_path / "config.yaml"
    config.write_text("server:\n  port: 7001\n  host: 127.0.0.9\nlog:\n  level: DEBUG\n")
    assert 7001 == load_settings(config).server.port
    monkeypatch.setenv("LIVECOMMERCE_SERVER__PORT", "7002")
    settings = load_settings(config)
    assert (7002, "127.0.0.9", "DEBUG") == (
        settings.server.port,
        settings.server.host,
        settings.log.level,
    )
    assert 7003 == load_settings(config, {"server": {"port": 7003}}).server.port


def test_unknown_key_and_bad_value_name_the_key(tmp_path: Path) -> None:
    """A typo or a bad value is reported with its dotted key."""
    config = tmp_path / "config.yaml"
    config.write_text("server:\n  prot: 1\n")
    with pytest.raises(ConfigError, match=r"server\.prot"):
        load_settings(config)
    with pytest.raises(ConfigError, match=r"store\.url"):
        load_settings(None, {"store": {"url": "mysql://x"}})


def test_secrets_do_not_print() -> None:
    """SecretStr hides the webhook secret in reprs and the log redactor masks tokens."""
    settings = load_settings(None, {"payments": {"stripe_webhook_secret": "whsec_abcdef123456"}})
    assert "whsec_abcdef123456" not in repr(settings)
    assert "[redacted]" == redact("hunter2", "password")
    assert "lct_abcdefgh" not in redact("token is lct_abcdefghijkl")
    assert "Bearer [redacted]" == redact("Bearer sk_live_123456789")


def test_bad_port_from_environment_stops_start_up(tmp_path: Path) -> None:
    """LIVECOMMERCE_SERVER__PORT=abc: serve exits non-zero with one line naming server.port."""
    env = {**os.environ, "LIVECOMMERCE_SERVER__PORT": "abc"}
    result = subprocess.run(
        [sys.executable, "-m", "livecommerce", "serve", "--data-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert 1 == len(lines), result.stderr
    assert "server.port" in lines[0]


def test_media_dir_is_inside_the_data_dir_unless_absolute(tmp_path: Path) -> None:
    """A relative broadcast.media_dir resolves under server.data_dir; an absolute one is kept."""
    relative = load_settings(None, {"server": {"data_dir": str(tmp_path / "d")}})
    assert tmp_path / "d" / "media" == relative.media_dir
    absolute = load_settings(
        None,
        {"server": {"data_dir": str(tmp_path / "d")}, "broadcast": {"media_dir": "/srv/hls"}},
    )
    assert Path("/srv/hls") == absolute.media_dir
