"""ICE policy: explicit servers, per-connection gathering addresses."""

from __future__ import annotations

from dataclasses import dataclass

import aioice.ice

from livecommerce.broadcast import ice


@dataclass
class _Server:
    urls: str
    username: str | None = None
    credential: str | None = None


def test_default_policy_has_no_ice_servers() -> None:
    """An empty policy yields an explicit empty server list, never aiortc's public STUN default."""
    config = ice.IcePolicy().configuration()
    assert config.iceServers == []


def test_policy_from_settings_keeps_turn_credentials() -> None:
    """TURN entries keep their username and credential; addresses are normalised."""
    policy = ice.IcePolicy.from_settings(
        [_Server("turn:turn.example.test:3478", "u", "p")], ["127.0.0.2"]
    )
    assert (
        policy.servers[0].urls,
        policy.servers[0].username,
        policy.servers[0].credential,
    ) == ("turn:turn.example.test:3478", "u", "p")
    assert policy.host_addresses == ("127.0.0.2",)


def test_hook_only_narrows_inside_a_scoped_gathering() -> None:
    """Outside a scoped connection aioice's own enumeration is used; inside, exactly the policy."""
    ice.install_host_address_hook()
    assert aioice.ice.get_host_addresses is ice._scoped_get_host_addresses
    token = ice._gathering_addresses.set(("127.0.0.1", "::1"))
    try:
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1", "::1"]
    finally:
        ice._gathering_addresses.reset(token)
    assert "127.0.0.1" not in aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)
