"""ICE policy: the one place that makes an ``RTCPeerConnection``.

Owns two decisions every peer connection in the process must share, so that no code path can
forget them: which STUN/TURN servers ICE may use (aiortc silently adds a public Google STUN server
when ``iceServers`` is unset) and which local addresses aioice may gather host candidates on
(aioice enumerates every interface, skips the literal ``127.0.0.1``/``::1`` and offers no
candidate at all in a loopback-only namespace; a host behind 1:1 NAT wants to announce one
address only).

Host-address control works by replacing ``aioice.ice.get_host_addresses`` once (aioice looks the
name up in its module at gathering time and offers no other hook). The replacement consults a
context variable that :class:`ScopedPeerConnection` sets only while its own
``setLocalDescription`` gathers; aioice's ``asyncio.gather`` copies that context into its tasks.
Connections that were not made here (or have no address list) keep aioice's behaviour, so the
patch is per connection, not a process-wide switch.
"""

from __future__ import annotations

import contextvars
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aioice.ice
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)

__all__ = [
    "IcePolicy",
    "IceServerLike",
    "ScopedPeerConnection",
    "create_peer_connection",
    "install_host_address_hook",
]

# Addresses the connection that is gathering right now may use; None = aioice's own choice.
_gathering_addresses: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "livecommerce_ice_gathering_addresses", default=None
)


class IceServerLike(Protocol):
    """Shape of one ``broadcast.ice.servers`` entry in settings (STUN or TURN)."""

    @property
    def urls(self) -> str | Sequence[str]: ...

    @property
    def username(self) -> str | None: ...

    @property
    def credential(self) -> Any: ...  # str, SecretStr or None


@dataclass(frozen=True)
class IcePolicy:
    """Explicit ICE configuration for every peer connection (servers and gathering addresses).

    ``host_addresses`` empty means "every interface, as aioice does"; otherwise exactly these
    addresses are gathered and announced (loopback literals included, which aioice would skip).
    """

    servers: tuple[RTCIceServer, ...] = ()
    host_addresses: tuple[str, ...] = ()

    @classmethod
    def from_settings(
        cls, servers: Iterable[IceServerLike], host_addresses: Iterable[str]
    ) -> IcePolicy:
        """Build the policy from the ``broadcast.ice`` settings section, validating addresses."""
        rtc_servers = []
        for server in servers:
            credential = server.credential
            if credential is not None and hasattr(credential, "get_secret_value"):
                credential = credential.get_secret_value()
            urls = server.urls if isinstance(server.urls, str) else list(server.urls)
            rtc_servers.append(
                RTCIceServer(urls=urls, username=server.username or None, credential=credential)
            )
        addresses = tuple(str(ipaddress.ip_address(a)) for a in host_addresses)
        return cls(servers=tuple(rtc_servers), host_addresses=addresses)

    def link_header(self) -> str | None:
        """The ICE servers as one RFC 9725 §4.6 ``Link`` header value (None when there are
        none), so standard WHIP/WHEP clients use ours and never a default public server."""
        links = []
        for server in self.servers:
            urls = [server.urls] if isinstance(server.urls, str) else list(server.urls or [])
            for url in urls:
                link = f'<{url}>; rel="ice-server"'
                if server.username:
                    link += f'; username="{_quoted(server.username)}"'
                    link += f'; credential="{_quoted(str(server.credential or ""))}"'
                    link += '; credential-type="password"'
                links.append(link)
        return ", ".join(links) or None

    def configuration(self) -> RTCConfiguration:
        """The RTCConfiguration: explicit server list (never aiortc's default STUN), max-bundle."""
        return RTCConfiguration(
            iceServers=list(self.servers), bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
        )


_original_get_host_addresses = aioice.ice.get_host_addresses


def _scoped_get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """aioice's address enumeration, narrowed to the gathering connection's policy if it has one."""
    wanted = _gathering_addresses.get()
    if not wanted:
        return list(_original_get_host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6))
    chosen = []
    for address in wanted:
        version = ipaddress.ip_address(address).version
        if (version == 4 and use_ipv4) or (version == 6 and use_ipv6):
            chosen.append(address)
    return chosen


def install_host_address_hook() -> None:
    """Route aioice's host-address enumeration through the policy (idempotent)."""
    if aioice.ice.get_host_addresses is not _scoped_get_host_addresses:
        aioice.ice.get_host_addresses = _scoped_get_host_addresses


class ScopedPeerConnection(RTCPeerConnection):
    """RTCPeerConnection whose candidate gathering honours its :class:`IcePolicy` addresses."""

    def __init__(self, policy: IcePolicy) -> None:
        super().__init__(configuration=policy.configuration())
        self._livecommerce_host_addresses = policy.host_addresses

    async def setLocalDescription(
        self, sessionDescription: RTCSessionDescription | None = None
    ) -> None:
        """Gather (aiortc gathers here, and only here) with this connection's addresses."""
        token = _gathering_addresses.set(self._livecommerce_host_addresses or None)
        try:
            await super().setLocalDescription(sessionDescription)
        finally:
            _gathering_addresses.reset(token)


def create_peer_connection(policy: IcePolicy) -> ScopedPeerConnection:
    """Make a peer connection with the ICE servers and gathering addresses of ``policy``."""
    install_host_address_hook()
    return ScopedPeerConnection(policy)


def _quoted(value: str) -> str:
    """A value inside a quoted-string of a Link parameter (RFC 8288)."""
    return value.replace("\\", "\\\\").replace('"', '\\"')
