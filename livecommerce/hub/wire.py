"""What goes on the Socket.IO wire and how it reaches many sockets cheaply: the JSON codec
(orjson, with the standard library where orjson would change a value), the websocket transport
(permessage-deflate off by default), and the chat writer that sends one show's packet to all of
this node's sockets in the room with back-pressure for slow readers.

Why not ``AsyncServer.emit`` for chat: python-socketio encodes a room emit once already, but
then starts one asyncio task per recipient to queue the packet (``_send_eio_packet``), and each
socket's writer task wakes through ``asyncio.wait_for`` (another task) to frame and write it:
at 5,000 viewers those tasks were most of a delivery's cost (profile in docs/HUB.md). The
writer encodes the packet once, frames it once as a websocket text frame (server frames are
unmasked, and deflate is off, so every socket gets the same bytes), and writes those bytes
straight to each socket's transport when the socket's own writer is idle: blocked waiting on an
empty queue, with nothing buffered in the transport, so nothing queued earlier can be
overtaken. Otherwise the packet goes on the socket's Engine.IO queue behind what is there, as
``emit`` would, and that queue's length is where a slow reader shows: once the kernel and
transport buffers are full, aiohttp's writer waits for drain and packets pile up there.

Slow readers: a socket with ``max_packets`` waiting in its queue, or ``max_bytes`` waiting in
its transport's buffer (aiohttp's writer only waits for drain every 64 KiB, so a reader that
stopped reading shows there first), stops getting chat packets; the lines meant for it are
kept, the latest ``keep`` of them, and once both have drained to half their limit it gets them
in one ``chat.batch`` whose ``gap`` names the seq range it lost (if it lost any): a client
fills it by re-joining with ``last_seq``. Other events (acks, offers, orders) are never
dropped, and the catch-up is sent with the show's next line.
"""

from __future__ import annotations

import asyncio
import json as stdlib_json
import re
import struct
from collections import deque
from collections.abc import Iterable
from typing import Any

import orjson
import socketio
from aiohttp import web
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as eio_aiohttp
from socketio import packet as sio_packet

Wire = dict[str, Any]

#: Beyond 64 bits orjson cannot encode an int and decodes one as a float: a run of 19 digits
#: sends a document to the standard library instead (rare, and exact).
_LONG_NUMBER = re.compile(rb"\d{19}")


class OrjsonCodec:
    """The ``json`` module python-socketio and python-engineio encode and decode with.

    orjson writes UTF-8 (no ``\\uXXXX`` for non-ASCII, so Japanese chat is a third of the
    bytes) and is ~5x faster; any document it would refuse or alter (ints beyond 64 bits,
    lone surrogates, non-string keys it cannot name) goes through the standard library, so
    what a client receives never differs in value from before.
    """

    @staticmethod
    def dumps(obj: Any, **_options: Any) -> str:
        """Compact JSON text (python-socketio passes ``separators``; orjson is always compact)."""
        try:
            return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:
            return stdlib_json.dumps(obj, separators=(",", ":"))

    @staticmethod
    def loads(text: str | bytes, **_options: Any) -> Any:
        raw = text.encode() if isinstance(text, str) else text
        if _LONG_NUMBER.search(raw):
            return stdlib_json.loads(raw)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return stdlib_json.loads(raw)  # what orjson is stricter about (NaN, surrogates)


#: The attribute of an Engine.IO socket holding its transport while frames may be written to
#: it directly (an uncompressed websocket).
DIRECT = "lc_direct_transport"


def plain_websocket(compress: bool) -> type[eio_aiohttp.WebSocket]:
    """python-engineio's aiohttp websocket transport with permessage-deflate on or off.

    aiohttp negotiates deflate whenever the client offers it (browsers always do), and then
    compresses every packet per connection with a zlib stream of its own: at 5,000 viewers
    that is the largest CPU cost of a chat line and ~0.3 MiB per connection once used.
    Without it, the socket's transport is recorded on its Engine.IO socket for
    ``ChatWriter``'s direct writes.
    """

    class WebSocket(eio_aiohttp.WebSocket):  # type: ignore[misc]
        async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
            request = environ["aiohttp.request"]
            self._sock = web.WebSocketResponse(
                max_msg_size=self.server.max_http_buffer_size, compress=compress
            )
            await self._sock.prepare(request)
            self.environ = environ
            socket = self.handler.__self__  # the Engine.IO socket this transport serves
            if not self._sock.compress:
                setattr(socket, DIRECT, request.transport)
            try:
                await self.handler(self)
            finally:
                setattr(socket, DIRECT, None)
            return self._sock

    return WebSocket


def use_transport(sio: socketio.AsyncServer, compress: bool) -> None:
    """Make ``sio``'s Engine.IO server upgrade to our websocket transport (the driver table is
    the driver module's; it is copied, never changed in place)."""
    eio = sio.eio
    eio._async = {**eio._async, "websocket": plain_websocket(compress)}


def event_packet(event: str, data: Wire) -> eio_packet.Packet:
    """One Socket.IO EVENT as an Engine.IO MESSAGE packet, encoded once: the packet caches
    its encoding, so every socket it is queued on writes the same string."""
    pkt = sio_packet.Packet(sio_packet.EVENT, data=[event, data], namespace="/")
    message = eio_packet.Packet(eio_packet.MESSAGE, pkt.encode())
    message.encode()
    return message


def text_frame(message: str) -> bytes:
    """A final, unmasked websocket text frame (RFC 6455 5.2): what aiohttp's writer would
    produce for ``message`` on a server socket without deflate."""
    payload = message.encode()
    size = len(payload)
    if size < 126:
        return struct.pack("!BB", 0x81, size) + payload
    if size < 65536:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


def _writer_idle(queue: asyncio.Queue[Any]) -> bool:
    """The socket's writer task is waiting on its empty queue (so it holds no packet it took
    and has yet to write): CPython's ``asyncio.Queue`` keeps its waiting getters there."""
    getters: deque[Any] = queue._getters  # type: ignore[attr-defined]
    return not queue.qsize() and bool(getters)


def _send(
    socket: Any,
    pkt: eio_packet.Packet,
    frame: bytes,
    transport: asyncio.Transport | None,
    buffered: int,
) -> bool:
    """Write ``frame`` straight to the socket's transport when its writer is idle with nothing
    buffered (nothing queued earlier can be overtaken), else queue ``pkt`` behind what it has;
    True for a direct write."""
    queue = socket.queue
    if (
        transport is not None
        and not buffered
        and not transport.is_closing()
        and _writer_idle(queue)
    ):
        transport.write(frame)
        return True
    queue.put_nowait(pkt)
    return False


def write_room(sio: socketio.AsyncServer, room: str, event: str, data: Wire) -> None:
    """``sio.emit(event, data, room=room)`` for this node's sockets, encoded and framed once
    and written without a task per recipient (offers, orders and moderation events reach a
    show's whole room: at a flash sale's stock updates, python-socketio's per-recipient tasks
    were most of a checkout's server CPU). Nothing here is ever dropped: only chat collapses
    for slow readers (``ChatWriter``)."""
    pkt = event_packet(event, data)
    frame = text_frame(pkt.encode())
    sockets = sio.eio.sockets
    for _sid, eio_sid in sio.manager.get_participants("/", room):
        socket = sockets.get(eio_sid)
        if socket is None or socket.closing or socket.closed:
            continue
        transport: asyncio.Transport | None = getattr(socket, DIRECT, None)
        buffered = transport.get_write_buffer_size() if transport is not None else 0
        _send(socket, pkt, frame, transport, buffered)


class ChatWriter:
    """Sends one show's chat packets to this node's sockets in its room (see the module
    docstring for slow readers)."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        show_id: str,
        room: str,
        *,
        max_packets: int,
        max_bytes: int,
        keep: int,
    ) -> None:
        self._sio = sio
        self._show_id = show_id
        self._room = room
        self._max_packets = max_packets
        self._max_bytes = max_bytes
        self._keep = keep
        #: sid → (the latest lines not sent to it, seq of the first one it missed)
        self._behind: dict[str, tuple[deque[Wire], int]] = {}
        #: Sockets that fell behind so far, and packets written straight to a transport.
        self.collapsed = 0
        self.direct = 0

    def write(self, event: str, data: Wire, messages: list[Wire], skip: Iterable[str]) -> None:
        """Queue ``event`` on every socket in the room but ``skip``; ``messages`` are the
        lines it carries (kept for a socket that is behind)."""
        pkt = event_packet(event, data)
        frame = text_frame(pkt.encode())
        skipped = set(skip)
        sockets = self._sio.eio.sockets
        for sid, eio_sid in self._sio.manager.get_participants("/", self._room):
            if sid in skipped:
                continue
            socket = sockets.get(eio_sid)
            if socket is None or socket.closing or socket.closed:
                continue
            queue = socket.queue
            transport: asyncio.Transport | None = getattr(socket, DIRECT, None)
            buffered = transport.get_write_buffer_size() if transport is not None else 0
            behind = self._behind.get(sid)
            if behind is not None:
                behind[0].extend(messages)
                if queue.qsize() > self._max_packets // 2 or buffered > self._max_bytes // 2:
                    continue
                del self._behind[sid]
                if behind[0]:
                    queue.put_nowait(self._catch_up(*behind))
            elif queue.qsize() >= self._max_packets or buffered >= self._max_bytes:
                self._behind[sid] = (deque(messages, maxlen=self._keep), int(messages[0]["seq"]))
                self.collapsed += 1
            elif _send(socket, pkt, frame, transport, buffered):
                self.direct += 1

    def _catch_up(self, lines: deque[Wire], first_missed: int) -> eio_packet.Packet:
        """The latest lines a socket missed, and the seq range it lost if it lost any."""
        messages = list(lines)
        data: Wire = {"show_id": self._show_id, "messages": messages}
        if int(messages[0]["seq"]) > first_missed:
            data["gap"] = {"from_seq": first_missed, "to_seq": int(messages[0]["seq"]) - 1}
        return event_packet("chat.batch", data)

    def forget_ids(self, ids: set[str]) -> None:
        """Deleted lines are not caught up on."""
        for lines, _first in self._behind.values():
            kept = [m for m in lines if m["id"] not in ids]
            if len(kept) < len(lines):
                lines.clear()
                lines.extend(kept)

    def forget(self, sid: str) -> None:
        """The socket left the show or disconnected."""
        self._behind.pop(sid, None)

    @property
    def behind(self) -> int:
        """How many sockets are behind now."""
        return len(self._behind)
