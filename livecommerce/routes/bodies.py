"""Reading a request body whole, with a real size cap, for every route that reads one.

``request.content.read(n)`` returns what has *arrived so far*, not ``n`` bytes: a large body
sent in several TCP segments was cut short (valid JSON refused as invalid, an upload stored
truncated, a chunked 10 MB upload accepted). This reads to the end of the body, refusing it as
soon as it passes the cap, whether the client declared a Content-Length or sent it chunked.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from livecommerce.errors import InvalidInput, PayloadTooLarge

__all__ = ["MAX_JSON_DEPTH", "parse_json", "read_body"]

#: Deeper JSON than any of our payloads has is refused (a 100k-deep ``[[[…`` must be a 422).
MAX_JSON_DEPTH = 32


async def read_body(request: web.Request, limit: int, what: str = "body") -> bytes:
    """The whole body; PayloadTooLarge past ``limit`` bytes (checked before and while reading)."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"{what} larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.content.iter_any():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"{what} larger than {limit} bytes")
    return bytes(body)


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, iteratively (no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in node)
    return deepest


def parse_json(raw: bytes) -> Any:
    """JSON from bytes, refusing bad syntax and nesting beyond ``MAX_JSON_DEPTH`` as 422."""
    try:
        data = json.loads(raw)
    except RecursionError as exc:
        raise InvalidInput(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("body is not valid JSON") from exc
    if _depth(data) > MAX_JSON_DEPTH:
        raise InvalidInput(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return data
