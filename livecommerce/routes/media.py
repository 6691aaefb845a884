"""WHIP (RFC 9725) and WHEP signalling over HTTP; HLS and replay files.

Only the HTTP part lives here: size, content-type, bearer and rate-limit checks, then one call
into :class:`~livecommerce.broadcast.manager.BroadcastManager`, whose refusals become the status
codes the RFCs give (401, 404, 406, 409, 413, 503 + Retry-After). Answers are complete (all
candidates gathered), so trickle ``PATCH`` gets 405 as RFC 9725 allows. The endpoints answer
CORS preflights (``OPTIONS``, with ``Accept-Post: application/sdp``) and send the configured
ICE servers as ``Link`` headers, so a WHIP/WHEP client served from another origin works: they
are authorised by the stream key or the session's secret URL, never by cookies.

WHEP offers and HLS fetches are also sightings for the viewer counts (docs/METRICS.md): who
they are is read from a token or the session cookie, the ``lc_vid`` browser id (query parameter
or cookie), or else the one WHEP session, or the address and player of an HLS request. That
identity only counts; it authorises nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
from pathlib import Path

from aiohttp import web

from livecommerce import keys
from livecommerce.broadcast import BROADCAST, HLS
from livecommerce.broadcast.edge import NODE_TOKEN_HEADER
from livecommerce.broadcast.errors import MediaRejected, unauthenticated
from livecommerce.broadcast.packager import ShowPackager
from livecommerce.broadcast.playlist import DELTA_PLAYLIST, SKIP_TARGETS, PartPosition
from livecommerce.broadcast.sdp import MAX_SDP_BYTES
from livecommerce.domain.presence import person_key, valid_visitor_id
from livecommerce.domain.ratelimit import Rate
from livecommerce.domain.shows import ShowStatus
from livecommerce.errors import LiveCommerceError, NotFound, PayloadTooLarge
from livecommerce.routes.auth import bearer_token
from livecommerce.routes.bodies import read_body

__all__ = ["add_media_routes"]

SDP = "application/sdp"


def _error(exc: MediaRejected) -> web.Response:
    return web.json_response(
        {"error": {"code": exc.code, "message": exc.message}},
        status=exc.status,
        headers={**exc.headers, **_CORS},
    )


async def _read_offer(request: web.Request) -> str:
    """The SDP body: 415 wrong type, 413 over 64 KiB (checked before and while reading)."""
    if request.content_type != SDP:
        raise MediaRejected(415, "unsupported_media_type", "send the offer as application/sdp")
    try:
        body = await read_body(request, MAX_SDP_BYTES, "SDP offer")
    except PayloadTooLarge as exc:
        raise MediaRejected(413, "payload_too_large", "SDP offers are limited to 64 KiB") from exc
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MediaRejected(400, "invalid_sdp", "SDP must be UTF-8") from exc


async def _limit(request: web.Request, key: str, per_minute: int) -> None:
    limiter = request.app[keys.SERVICES].rate_limiter
    if not await limiter.allow(key, [Rate(per_minute, 60)]):
        raise MediaRejected(429, "rate_limited", "too many offers", {"Retry-After": "10"})


_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Location, Link, Accept-Post, ETag",
}


def _ice_links(request: web.Request) -> dict[str, str]:
    link = request.app[BROADCAST].policy.link_header()
    return {"Link": link} if link else {}


def _created(
    request: web.Request, kind: str, show_id: str, session_id: str, answer: str
) -> web.Response:
    location = f"/{kind}/{show_id}/{session_id}"
    return web.Response(
        status=201,
        body=answer.encode(),
        content_type=SDP,
        headers={
            "Location": location,
            "Cache-Control": "no-store",
            **_CORS,
            **_ice_links(request),
        },
    )


async def _preflight(request: web.Request, methods: str, with_links: bool) -> web.Response:
    return web.Response(
        status=204,
        headers={
            **_CORS,
            "Access-Control-Allow-Methods": methods,
            "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
            "Access-Control-Max-Age": "600",
            "Allow": methods,
            **({"Accept-Post": SDP} if "POST" in methods else {}),
            **(_ice_links(request) if with_links else {}),
        },
    )


async def whip_options(request: web.Request) -> web.Response:
    """CORS preflight / ICE configuration; ICE servers only for the stream key's holder (a
    preflight carries no credentials, and TURN credentials are not for everyone)."""
    key = bearer_token(request)
    with_links = False
    if key:
        try:
            await request.app[BROADCAST].gate.check_stream_key(request.match_info["show_id"], key)
            with_links = True
        except MediaRejected:
            with_links = False
    return await _preflight(request, "OPTIONS, POST", with_links)


async def whep_options(request: web.Request) -> web.Response:
    """CORS preflight / ICE configuration for players (the page hands the same list out)."""
    return await _preflight(request, "OPTIONS, POST", True)


async def session_options(request: web.Request) -> web.Response:
    """Preflight for a session URL (DELETE to leave)."""
    return await _preflight(request, "OPTIONS, DELETE, PATCH", False)


async def whip_post(request: web.Request) -> web.Response:
    """Start ingest: bearer stream key, SDP offer in, 201 + Location + SDP answer out."""
    show_id = request.match_info["show_id"]
    per_minute = request.app[keys.SETTINGS].broadcast.whip_rate_per_minute
    try:
        await _limit(request, f"whip:addr:{request.remote}", per_minute)
        key = bearer_token(request)
        if not key:
            raise unauthenticated("send the stream key as a Bearer token")
        offer = await _read_offer(request)
        # the show's own budget is spent only by holders of its key, so a flood from someone
        # without it cannot lock the seller out of their show
        await request.app[BROADCAST].gate.check_stream_key(show_id, key)
        await _limit(request, f"whip:show:{show_id}", per_minute)
        session_id, answer = await request.app[BROADCAST].publish(show_id, key, offer)
    except MediaRejected as exc:
        return _error(exc)
    return _created(request, "whip", show_id, session_id, answer)


async def whip_delete(request: web.Request) -> web.Response:
    """Stop the session named by the Location URL, with the stream key: the show pauses (only
    an explicit end ends it). 200 once, 404 after."""
    try:
        key = bearer_token(request)
        if not key:
            raise unauthenticated("send the stream key as a Bearer token")
        await request.app[BROADCAST].stop_publisher(
            request.match_info["show_id"], request.match_info["session_id"], key
        )
    except MediaRejected as exc:
        return _error(exc)
    return web.Response(status=200, headers=_CORS)


async def whep_post(request: web.Request) -> web.Response:
    """Add a viewer: SDP offer in, 201 + Location + SDP answer (sendonly) out."""
    show_id = request.match_info["show_id"]
    per_minute = request.app[keys.SETTINGS].broadcast.whip_rate_per_minute * 4
    try:
        await _limit(request, f"whep:addr:{request.remote}", per_minute)
        offer = await _read_offer(request)
        # another node pulling the show (edge WebRTC) proves it with a node token
        node_token = request.headers.get(NODE_TOKEN_HEADER)
        person = None if node_token is not None else await _person(request)
        session_id, answer = await request.app[BROADCAST].play(show_id, offer, person, node_token)
    except MediaRejected as exc:
        return _error(exc)
    return _created(request, "whep", show_id, session_id, answer)


def _visitor_id(request: web.Request) -> str | None:
    """The browser id a player carries: ``?lc_vid=`` (any player), else the page's cookie."""
    sent = request.query.get(keys.VISITOR_COOKIE) or request.cookies.get(keys.VISITOR_COOKIE)
    return sent if valid_visitor_id(sent) else None


async def _person(request: web.Request) -> str | None:
    """Who a media request is counted as (the account, else the browser), or None."""
    token = bearer_token(request) or request.cookies.get(keys.SESSION_COOKIE)
    return await request.app[keys.SERVICES].presence.identify(token, _visitor_id(request))


async def whep_delete(request: web.Request) -> web.Response:
    """Leave: close this viewer's peer connection."""
    try:
        await request.app[BROADCAST].leave(
            request.match_info["show_id"], request.match_info["session_id"]
        )
    except MediaRejected as exc:
        return _error(exc)
    return web.Response(status=200, headers=_CORS)


async def no_trickle(request: web.Request) -> web.Response:
    """Answers carry every candidate; trickle and ICE restarts are not supported (RFC 9725 §4.3)."""
    return web.json_response(
        {"error": {"code": "method_not_allowed", "message": "trickle ICE is not supported"}},
        status=405,
        headers={"Allow": "OPTIONS, DELETE", **_CORS},
    )


# Only names the packager writes: the multivariant playlist, and per rendition its playlist,
# init segments (``init.mp4``, then ``init_<n>.mp4`` after a format change), numbered media
# segments and LL-HLS parts. Anything else (.., %2e, tmp files) is a 404.
_HLS_NAME = re.compile(
    r"^(?:index\.m3u8|[a-z0-9_-]{1,32}/"
    r"(?:index\.m3u8|init(?:_\d{1,5})?\.mp4|seg_\d{5}\.m4s"
    r"|part_(?P<msn>\d{5})_(?P<part>\d{1,3})\.m4s))$"
)
_BLOCK_SECONDS = 6.0  # longest a blocking reload or preload-hint request is held
_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mp4": "video/mp4",
    ".m4s": "video/iso.segment",
}
# A CDN may keep segments, parts and answered blocking reloads (their URL names what they
# hold); a plain live playlist is revalidated each time; anything that did not answer what
# was asked (a held request that timed out, a 404) is never stored.
_LIVE_PLAYLIST_CACHE = "no-cache"
_SEGMENT_CACHE = "public, max-age=31536000, immutable"
_REPLAY_PLAYLIST_CACHE = "public, max-age=300"
_NOT_STORED = "no-store"


def _not_found() -> web.HTTPNotFound:
    return web.HTTPNotFound(reason="no such HLS file")


def _not_stored(exc: web.HTTPException) -> web.Response:
    """A refused HLS request as the structured error, marked never to be cached (a CDN that
    kept a 404 for a part about to exist would break every player behind it)."""
    code = "not_found" if exc.status == 404 else "invalid_request"
    return web.json_response(
        {"error": {"code": code, "message": exc.reason}},
        status=exc.status,
        headers={"Cache-Control": _NOT_STORED},
    )


def _media_file(request: web.Request) -> tuple[Path, str]:
    show_id, name = request.match_info["show_id"], request.match_info["name"]
    if not _HLS_NAME.fullmatch(name):
        raise _not_found()
    path = request.app[HLS].show_dir(show_id) / name
    if not path.is_file():
        raise _not_found()
    return path, name


def _query_int(request: web.Request, key: str) -> int | None:
    value = request.query.get(key)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 9:
        raise web.HTTPBadRequest(reason=f"{key} must be a non-negative integer")
    return int(value)


def _too_far(packager: ShowPackager, position: PartPosition, msn: int, part: int | None) -> bool:
    """RFC 8216bis §6.2.5.2: ``_HLS_msn`` past the last segment plus two, or ``_HLS_part``
    more than the Advance Part Limit past the last part, is refused at once."""
    if position.finished:
        return False
    if msn > position.msn + 1:  # position.msn is the open segment: the last one is before it
        return True
    if part is None or packager.part_seconds is None:
        return False
    per_segment = round(packager.segment_seconds / packager.part_seconds)
    limit = 3 / packager.part_seconds if packager.part_seconds < 1 else 3
    ahead = (msn - position.msn) * per_segment + part - (position.parts - 1)
    return ahead > limit


async def _block_until_available(request: web.Request) -> bool | None:
    """LL-HLS: hold a playlist reload (``_HLS_msn``/``_HLS_part``) or a preload-hinted part
    request until the packager has written it (at most ``_BLOCK_SECONDS``). Returns whether
    it is there (None: nothing was asked to wait for)."""
    show_id, name = request.match_info["show_id"], request.match_info["name"]
    match = _HLS_NAME.fullmatch(name)
    packager = request.app[HLS].packagers.get(show_id)
    if match is None or packager is None or packager.part_seconds is None or "/" not in name:
        return None
    rendition = name.split("/", 1)[0]
    part: int | None
    if match.group("msn") is not None:
        msn, part = int(match.group("msn")), int(match.group("part"))
        position = packager.positions.get(rendition)
        if position is not None and _too_far(packager, position, msn, part):
            raise _not_found()  # only parts about to be written are waited for
    elif name.endswith("/index.m3u8"):
        msn_q, part_q = _query_int(request, "_HLS_msn"), _query_int(request, "_HLS_part")
        if msn_q is None:
            if part_q is not None:
                raise web.HTTPBadRequest(reason="_HLS_part needs _HLS_msn")
            return None
        msn, part = msn_q, part_q
        position = packager.positions.get(rendition)
        if position is not None and _too_far(packager, position, msn, part):
            raise web.HTTPBadRequest(
                reason="_HLS_msn/_HLS_part is too far past the end of the playlist"
            )
    else:
        return None
    return await packager.wait_for_part(rendition, msn, part, _BLOCK_SECONDS)


def _ended(path: Path) -> bool:
    try:
        return "#EXT-X-ENDLIST" in path.read_text()
    except OSError:
        return False


def _rendition_reports(packager: ShowPackager, rendition: str) -> str:
    """``EXT-X-RENDITION-REPORT`` lines for the show's other renditions, where each is now, so
    a player switching rendition can ask for the right part at once (§4.4.5.4)."""
    lines = []
    for name, position in sorted(packager.positions.items()):
        if name == rendition or position.finished:
            continue
        if position.parts:
            last = f"LAST-MSN={position.msn},LAST-PART={position.parts - 1}"
        elif position.msn > 0:
            last = f"LAST-MSN={position.msn - 1}"  # between runs: its last segment is whole
        else:
            continue
        lines.append(f'#EXT-X-RENDITION-REPORT:URI="../{name}/index.m3u8",{last}\n')
    return "".join(lines)


def _live_playlist(
    request: web.Request, path: Path, name: str, waited: bool | None
) -> web.Response:
    """A live playlist: the delta update when asked (``_HLS_skip``), plus rendition reports."""
    skip = request.query.get("_HLS_skip")
    if skip is not None and skip not in ("YES", "v2"):
        raise web.HTTPBadRequest(reason="_HLS_skip must be YES or v2")
    packager = request.app[HLS].packagers.get(request.match_info["show_id"])
    low_latency = packager is not None and packager.part_seconds is not None and "/" in name
    body = path.read_text()
    if low_latency and skip is not None:
        with contextlib.suppress(OSError):  # gone since (the show ended): the full one
            delta = (path.parent / DELTA_PLAYLIST).read_text()
            if "#EXT-X-ENDLIST" not in body:
                body = delta
    if low_latency and packager is not None and "#EXT-X-ENDLIST" not in body:
        body += _rendition_reports(packager, name.split("/", 1)[0])
    if waited is None:
        cache = _LIVE_PLAYLIST_CACHE
    elif waited and packager is not None:
        cache = f"public, max-age={math.ceil(SKIP_TARGETS * packager.segment_seconds)}"
    else:
        cache = _NOT_STORED
    return web.Response(
        body=body.encode(), content_type=_TYPES[".m3u8"], headers={"Cache-Control": cache}
    )


async def hls_file(request: web.Request) -> web.StreamResponse:
    """Live HLS: playlists revalidated on every request (answered blocking reloads are
    cacheable), segments and parts cached for good."""
    try:
        waited = await _block_until_available(request)
        path, name = _media_file(request)
        playlist = _live_playlist(request, path, name, waited) if name.endswith(".m3u8") else None
    except (web.HTTPNotFound, web.HTTPBadRequest) as exc:
        return _not_stored(exc)
    await _seen(request)
    if playlist is not None:
        return playlist
    return web.FileResponse(
        path, headers={"Content-Type": _TYPES[path.suffix], "Cache-Control": _SEGMENT_CACHE}
    )


async def _seen(request: web.Request) -> None:
    """An HLS fetch of a show's stored file: a sighting of its viewer. A player that names
    nobody counts once per address and player (``User-Agent``), never once per request. When
    its token cannot be checked (store down) the fetch is not counted: low, never padded."""
    try:
        person = await _person(request)
    except LiveCommerceError:
        return
    if person is None:
        player = f"{request.remote}\0{request.headers.get('User-Agent', '')}"
        person = person_key(None, None, "hls:" + hashlib.sha256(player.encode()).hexdigest()[:32])
    request.app[keys.SERVICES].presence.seen(request.match_info["show_id"], person)


async def _show_ended(request: web.Request) -> bool:
    try:
        show = await request.app[keys.SERVICES].shows.get(request.match_info["show_id"])
    except NotFound:
        return False
    return show.status is ShowStatus.ENDED


async def replay_file(request: web.Request) -> web.StreamResponse:
    """Replay (VOD): the ended show's segments; 404 while the show is still live."""
    try:
        return await _replay_file(request)
    except web.HTTPNotFound as exc:
        return _not_stored(exc)


async def _replay_file(request: web.Request) -> web.StreamResponse:
    path, name = _media_file(request)
    if name.endswith(".m3u8") and not await _show_ended(request):
        raise _not_found()
    if name == "index.m3u8":
        renditions = [p for p in path.parent.glob("*/index.m3u8")]
        if not renditions or not all(_ended(p) for p in renditions):
            raise _not_found()
        body = path.read_text()
    elif name.endswith(".m3u8"):
        if not _ended(path):
            raise _not_found()
        body = path.read_text().replace("#EXT-X-PLAYLIST-TYPE:EVENT", "#EXT-X-PLAYLIST-TYPE:VOD")
    else:
        if not _ended(path.parent / "index.m3u8"):
            raise _not_found()
        return web.FileResponse(
            path, headers={"Content-Type": _TYPES[path.suffix], "Cache-Control": _SEGMENT_CACHE}
        )
    return web.Response(
        text=body,
        content_type=_TYPES[".m3u8"],
        headers={"Cache-Control": _REPLAY_PLAYLIST_CACHE},
    )


def add_media_routes(app: web.Application) -> None:
    """Register WHIP/WHEP (and, when packaging is on, HLS/replay) routes."""
    session = r"/{show_id:[A-Za-z0-9_-]{1,64}}/{session_id:[A-Za-z0-9_-]{1,64}}"
    show = r"/{show_id:[A-Za-z0-9_-]{1,64}}"
    app.router.add_post("/whip" + show, whip_post)
    app.router.add_route("OPTIONS", "/whip" + show, whip_options)
    app.router.add_delete("/whip" + session, whip_delete)
    app.router.add_patch("/whip" + session, no_trickle)
    app.router.add_route("OPTIONS", "/whip" + session, session_options)
    app.router.add_post("/whep" + show, whep_post)
    app.router.add_route("OPTIONS", "/whep" + show, whep_options)
    app.router.add_delete("/whep" + session, whep_delete)
    app.router.add_patch("/whep" + session, no_trickle)
    app.router.add_route("OPTIONS", "/whep" + session, session_options)
    app.router.add_get("/hls" + show + "/{name:.+}", hls_file)
    app.router.add_get("/replays" + show + "/{name:.+}", replay_file)
