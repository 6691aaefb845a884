"""Real python-socketio clients against the running app, plus the accounts a hub test needs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import socketio
from aiohttp import web

from livecommerce import keys
from livecommerce.domain.access import Role
from livecommerce.settings import Settings
from tests.support.app import RunningApp, running_app

Event = tuple[str, Any]

#: The password of every account ``make_cast`` creates (strong enough for the sign-up rules).
PASSWORD = "Tangerine-Orbit-8842"


@dataclass(frozen=True)
class Actor:
    user_id: str
    name: str
    token: str


@dataclass(frozen=True)
class Cast:
    """A show with its seller, a host, two viewers and a guest."""

    show_id: str
    seller: Actor
    host: Actor
    alice: Actor
    bob: Actor
    guest: Actor


async def make_cast(app: web.Application) -> Cast:
    accounts = app[keys.SERVICES].accounts
    shows = app[keys.SERVICES].shows
    seller = await accounts.signup("Sam Shop", "sam@example.test", PASSWORD, Role.SELLER)
    host = await accounts.signup("Hana", "hana@example.test", PASSWORD)
    alice = await accounts.signup("Alice", "alice@example.test", PASSWORD)
    bob = await accounts.signup("Bob", "bob@example.test", PASSWORD)
    guest = await accounts.guest("Gus")
    seller_principal = await accounts.authenticate(seller.token)
    show, _key = await shows.create(seller_principal, "Spring drop")
    await shows.grant_host(seller_principal, show.id, host.user.id)

    def actor(issued: Any) -> Actor:
        return Actor(issued.user.id, issued.user.name, issued.token)

    return Cast(show.id, actor(seller), actor(host), actor(alice), actor(bob), actor(guest))


class HubClient:
    """One Socket.IO connection that records every server event in arrival order."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self.backlog: list[Event] = []
        #: (monotonic arrival time, event name) of everything received, for timing asserts.
        self.arrivals: list[tuple[float, str]] = []
        #: (monotonic arrival time, chat line) of every line, single or batched, kept even
        #: after the events are consumed: delivery checks and latency figures read it.
        self.lines: list[tuple[float, dict[str, Any]]] = []

        async def record(event: str, *args: Any) -> None:
            now = time.monotonic()
            self.arrivals.append((now, event))
            if event == "chat.message":
                self.lines.append((now, args[0]))
            elif event == "chat.batch":
                self.lines.extend((now, line) for line in args[0]["messages"])
            await self._queue.put((event, args[0] if args else None))

        self.sio.on("*", record)

    async def connect(
        self, base_url: str, token: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        await self.sio.connect(
            base_url,
            auth={"token": token} if token else None,
            headers=headers or {},
            transports=["websocket"],
            wait_timeout=5,
        )

    async def call(self, event: str, data: dict[str, Any], within: float = 5.0) -> Any:
        return await self.sio.call(event, data, timeout=within)

    async def expect(
        self,
        event: str,
        match: Callable[[Any], bool] | None = None,
        within: float = 5.0,
    ) -> Any:
        """The first (backlogged or future) event named ``event`` that matches; consumed."""
        for i, (name, data) in enumerate(self.backlog):
            if name == event and (match is None or match(data)):
                del self.backlog[i]
                return data
        deadline = time.monotonic() + within
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {event} within {within}s; backlog: {self.backlog[-5:]}")
            name, data = await asyncio.wait_for(self._queue.get(), left)
            if name == event and (match is None or match(data)):
                return data
            self.backlog.append((name, data))

    async def drain(self, settle: float = 0.3) -> list[Event]:
        """Everything that arrives within ``settle`` seconds (plus the backlog), consumed."""
        await asyncio.sleep(settle)
        while not self._queue.empty():
            self.backlog.append(self._queue.get_nowait())
        out, self.backlog = self.backlog, []
        return out

    async def chat_lines(self, settle: float = 0.3) -> list[dict[str, Any]]:
        """Chat lines received so far, from ``chat.message`` and ``chat.batch`` alike."""
        lines: list[dict[str, Any]] = []
        keep: list[Event] = []
        for name, data in await self.drain(settle):
            if name == "chat.message":
                lines.append(data)
            elif name == "chat.batch":
                lines.extend(data["messages"])
            else:
                keep.append((name, data))
        self.backlog = keep
        return lines

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()


async def refused(
    base_url: str, auth: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> Any:
    """Try to connect and return the server's refusal data (``{message, data}`` or a string)."""
    client = socketio.AsyncClient(reconnection=False)
    reasons: list[Any] = []
    client.on("connect_error", lambda data: reasons.append(data))
    try:
        await client.connect(
            base_url, auth=auth, headers=headers or {}, transports=["websocket"], wait_timeout=5
        )
    except socketio.exceptions.ConnectionError as exc:
        reasons.append(str(exc))
    else:
        await client.disconnect()
        raise AssertionError("the connection was accepted")
    finally:
        await client.shutdown()
        if client.eio.http is not None and not client.eio.http.closed:
            await client.eio.http.close()
    return reasons[0]


@contextlib.asynccontextmanager
async def clients(n: int) -> AsyncIterator[list[HubClient]]:
    made = [HubClient() for _ in range(n)]
    try:
        yield made
    finally:
        for client in made:
            await client.close()


async def join_show(
    base_url: str, show_id: str, token: str | None
) -> tuple[HubClient, dict[str, Any]]:
    """A client connected with ``token`` (None = watch-only) that joined the show, ack ok."""
    client = HubClient()
    await client.connect(base_url, token)
    ack: dict[str, Any] = await client.call("show.join", {"show_id": show_id})
    assert ack["ok"] is True, ack
    return client, ack


@dataclass
class Cluster:
    """Two app nodes sharing one store and one Redis, and the cast of a show on them."""

    a: RunningApp
    b: RunningApp
    cast: Cast


@contextlib.asynccontextmanager
async def cluster_of(
    settings: Callable[..., Settings],
    redis_url: str,
    hub: dict[str, Any],
    *,
    redis_cluster: bool = False,
    **sections: Any,
) -> AsyncIterator[Cluster]:
    """Same data dir (one SQLite store), different ports, one Redis (or one Redis Cluster)."""
    redis = {"url": redis_url, "cluster": redis_cluster}
    async with (
        running_app(settings(redis=redis, hub=hub, **sections)) as a,
        running_app(settings(redis=redis, hub=hub, **sections)) as b,
    ):
        yield Cluster(a, b, await make_cast(a.app))


class RawClient:
    """A Socket.IO client spoken by hand over an aiohttp websocket (as the load workers and
    browsers' socket.io-client do once on websocket), keeping each frame's text as received:
    what the server wrote, byte for byte, before any client library decodes it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._next_id = 0

    @classmethod
    async def connect(
        cls, http: aiohttp.ClientSession, base_url: str, token: str | None = None
    ) -> RawClient:
        """Connected (signed in with ``token``, else watch-only)."""
        url = base_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        client = cls(await http.ws_connect(url))
        assert (await client.frame()).startswith("0")  # engine.io open
        await client.ws.send_str("40" + (json.dumps({"token": token}) if token else ""))
        assert (await client.frame()).startswith("40")  # socket.io connect
        return client

    async def frame(self, within: float = 5.0) -> str:
        """The next frame's text, answering engine.io pings on the way."""
        while True:
            msg = await self.ws.receive(timeout=within)
            assert aiohttp.WSMsgType.TEXT == msg.type, msg
            if msg.data != "2":
                return str(msg.data)
            await self.ws.send_str("3")

    async def call(self, event: str, data: dict[str, Any], within: float = 5.0) -> Any:
        """Emit with an ack id and return the ack, keeping other frames in ``pending``."""
        self._next_id += 1
        ack_prefix = f"43{self._next_id}"
        await self.ws.send_str(f"42{self._next_id}" + json.dumps([event, data]))
        while True:
            text = await self.frame(within)
            if text.startswith(ack_prefix + "["):
                return json.loads(text[len(ack_prefix) :])[0]

    async def event(self, within: float = 5.0) -> tuple[str, Any, str]:
        """The next server event: (name, payload, the frame's text)."""
        while True:
            text = await self.frame(within)
            if text.startswith("42["):
                name, payload = json.loads(text[2:])[:2]
                return name, payload, text
