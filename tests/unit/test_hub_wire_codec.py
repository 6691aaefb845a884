"""The hub's JSON codec (orjson, the standard library where orjson would change a value), its
websocket framing, and the event loop ``serve`` picks."""

from __future__ import annotations

import asyncio
import json

import pytest
import uvloop
from aiohttp import WSMsgType
from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader

from livecommerce.cli import loop_factory
from livecommerce.hub.wire import OrjsonCodec, text_frame


@pytest.mark.parametrize(
    "value",
    [
        {"text": '日本語 ✓ émoji 👩‍👩‍👧 \u2028 "q" </script> &amp; \\ \t', "seq": 7},
        {"big": 2**70, "neg": -(2**65), "small": [1, -1, 2**63 - 1]},
        [None, True, 1.5, {"nested": {"k": ["v"]}}],
    ],
)
def test_round_trip_keeps_every_value(value: object) -> None:
    """What the codec writes, both it and the standard library read back unchanged."""
    text = OrjsonCodec.dumps(value, separators=(",", ":"))
    assert value == OrjsonCodec.loads(text)
    assert value == json.loads(text)


def test_non_ascii_is_utf8_and_escapes_stay_json() -> None:
    """Non-ASCII goes out as UTF-8 (not \\u escapes); quotes and backslashes stay escaped, and
    HTML is left alone (chat text is escaped where it is rendered, not on the wire)."""
    text = OrjsonCodec.dumps({"t": '日本 "x" \\ <b>'})
    assert '{"t":"日本 \\"x\\" \\\\ <b>"}' == text


def test_big_ints_are_exact_both_ways() -> None:
    """Ints beyond 64 bits, which orjson cannot write and reads as floats, stay exact ints."""
    assert "[18446744073709551616]" == OrjsonCodec.dumps([2**64])
    assert [2**64, -(2**70)] == OrjsonCodec.loads("[18446744073709551616,-1180591620717411303424]")
    assert isinstance(OrjsonCodec.loads("[18446744073709551616]")[0], int)


def test_what_orjson_refuses_to_read_the_standard_library_reads() -> None:
    """NaN and lone surrogates, which browsers never send but json accepted, still decode."""
    decoded = OrjsonCodec.loads('[NaN, "\\ud800"]')
    assert "\ud800" == decoded[1]
    assert decoded[0] != decoded[0]


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 70000])
async def test_text_frame_is_what_a_websocket_reader_decodes(size: int) -> None:
    """Our once-built frame is what aiohttp's own websocket reader decodes as one text message,
    at each of the three length encodings."""
    message = "é" * (size // 2) + "x" * (size % 2)
    loop = asyncio.get_running_loop()

    class Protocol:
        _reading_paused = False

        def pause_reading(self) -> None: ...
        def resume_reading(self) -> None: ...

    queue = WebSocketDataQueue(Protocol(), 2**20, loop=loop)  # type: ignore[arg-type]
    WebSocketReader(queue, 2**20, compress=False, decode_text=True).feed_data(text_frame(message))
    msg = await asyncio.wait_for(queue.read(), 1)
    assert (WSMsgType.TEXT, message) == (msg.type, msg.data)


def test_event_loop_setting() -> None:
    """auto and uvloop run on uvloop on Linux; asyncio keeps asyncio's own loop."""
    assert None is loop_factory("asyncio")
    assert uvloop.new_event_loop is loop_factory("auto")
    assert uvloop.new_event_loop is loop_factory("uvloop")
