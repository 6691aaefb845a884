"""Follows, handles, reminders (RSVP) and the storefront over real HTTP against the real app:
idempotent follows with counts, refusals (yourself, guests, signed out, unknown sellers), the
paged list of followed sellers with their live show, handle rules and case-insensitive
uniqueness, reminder rules, follower counts under 200 concurrent follows (SQLite and
PostgreSQL), and the storefront page with escaped text in its live, upcoming and past sections."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from livecommerce.domain.access import Role
from livecommerce.domain.money import Money
from livecommerce.domain.shows import ShowStatus
from livecommerce.services.accounts import principal_of
from livecommerce.services.catalog import VariantSpec
from livecommerce.services.ports import User
from tests.conftest import SettingsFactory
from tests.support.http import Api
from tests.support.shop import ShopEnv, shop_env


@pytest.fixture
async def api(env: ShopEnv) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, env.base_url)


async def member(env: ShopEnv, name: str, role: Role = Role.VIEWER) -> tuple[User, str]:
    """A full account written to the store, and an API token of it."""
    _, user = await env.user(name, role)
    return user, await env.token(user)


async def test_follow_unfollow_and_refusals(env: ShopEnv, api: Api) -> None:
    """A follow answers 201 then 200 with the count; the profile shows the count and the
    caller's state (by id and by handle in any case); unfollowing twice is fine; following
    yourself, as a guest, signed out or an unknown seller or a viewer is refused."""
    seller = env.seller_user
    _, token = await member(env, "Vera")
    follow = f"/api/v1/sellers/{seller.id}/follow"
    assert (201, {"following": True, "followers": 1}) == await api.call("POST", follow, token)
    assert (200, {"following": True, "followers": 1}) == await api.call("POST", follow, token)

    status, profile = await api.call("GET", f"/api/v1/sellers/{seller.id}", token)
    assert 200 == status
    assert {"id": seller.id, "name": "Seller", "handle": "seller", "followers": 1,
            "following": True} == {k: profile[k] for k in ("id", "name", "handle", "followers",
                                                             "following")}  # fmt: skip
    assert env.show_id == profile["live_show"]["id"]
    status, anonymous = await api.call("GET", "/api/v1/sellers/by-handle/SeLLer")
    assert (200, seller.id, False, 1) == (
        status, anonymous["id"], anonymous["following"], anonymous["followers"]
    )  # fmt: skip

    assert (200, {"following": False, "followers": 0}) == await api.call("DELETE", follow, token)
    assert (200, {"following": False, "followers": 0}) == await api.call("DELETE", follow, token)

    seller_token = await env.token(seller)
    status, body = await api.call("POST", follow, seller_token)
    assert (409, "cannot_follow_self") == (status, body["error"]["code"])
    status, guest = await api.call("POST", "/api/v1/auth/guest", json={"name": "Gus"})
    assert 201 == status
    status, body = await api.call("POST", follow, guest["token"])
    assert (403, "forbidden") == (status, body["error"]["code"])
    status, body = await api.call("POST", follow)
    assert (401, "unauthenticated") == (status, body["error"]["code"])
    viewer, _ = await member(env, "Nobody")
    for target in ("usr_nope", viewer.id):
        status, body = await api.call("POST", f"/api/v1/sellers/{target}/follow", token)
        assert (404, "not_found") == (status, body["error"]["code"]), target
        status, body = await api.call("GET", f"/api/v1/sellers/{target}")
        assert 404 == status
    for handle in ("nope_nope", "x", viewer.handle or "none"):
        status, _ = await api.call("GET", f"/api/v1/sellers/by-handle/{handle}")
        assert 404 == status, handle


async def test_following_list_pages_with_live_shows(env: ShopEnv, api: Api) -> None:
    """The sellers a user follows come newest first in pages joined by a cursor, each with
    handle, name and the show on air now (none for a seller who is not live)."""
    _, token = await member(env, "Fan")
    others = [(await member(env, f"Shop {n}", Role.SELLER))[0] for n in range(3)]
    for seller in (env.seller_user, *others):
        env.clock.advance(1)
        assert 201 == (await api.call("POST", f"/api/v1/sellers/{seller.id}/follow", token))[0]

    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    for expected_size in (2, 2):
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, page = await api.call("GET", f"/api/v1/me/following{query}", token)
        assert (200, expected_size) == (status, len(page["sellers"])), page
        seen += page["sellers"]
        cursor = page["next_cursor"]
    assert cursor is None
    assert [s.id for s in reversed(others)] + [env.seller_user.id] == [s["id"] for s in seen]
    assert ["shop_2", "shop_1", "shop_0", "seller"] == [s["handle"] for s in seen]
    assert [None, None, None, env.show_id] == [
        s["live_show"] and s["live_show"]["id"] for s in seen
    ]
    status, body = await api.call("GET", "/api/v1/me/following?cursor=not-a-cursor", token)
    assert (422, "invalid_input") == (status, body["error"]["code"])
    assert 401 == (await api.call("GET", "/api/v1/me/following"))[0]


async def test_handle_rules(env: ShopEnv, api: Api) -> None:
    """Handles are chosen in any case and stored lower-case; a handle differing only in case is
    taken; malformed, reserved and guest handles are refused; the storefront follows the new
    handle, and the old one redirects to it until another seller takes it."""
    seller, seller_token = await member(env, "Ana's Shop", Role.SELLER)
    status, body = await api.call("GET", "/api/v1/me", seller_token)
    assert (200, "ana_s_shop") == (status, body["handle"])

    status, body = await api.call(
        "PUT", "/api/v1/me/handle", seller_token, json={"handle": "Ana_Vintage"}
    )
    assert (200, "ana_vintage") == (status, body["user"]["handle"])
    _, other = await member(env, "Ann")
    status, body = await api.call("PUT", "/api/v1/me/handle", other, json={"handle": "ANA_VINTAGE"})
    assert (409, "handle_taken") == (status, body["error"]["code"])
    for bad in ("ab", "ana-vintage", "ana vintage", "a" * 31, "ånа"):
        status, body = await api.call("PUT", "/api/v1/me/handle", other, json={"handle": bad})
        assert (422, "handle_invalid") == (status, body["error"]["code"]), bad
    status, body = await api.call("PUT", "/api/v1/me/handle", other, json={"handle": "Adm1n"})
    assert (422, "reserved_name") == (status, body["error"]["code"])
    status, guest = await api.call("POST", "/api/v1/auth/guest", json={"name": "Gus"})
    status, body = await api.call(
        "PUT", "/api/v1/me/handle", guest["token"], json={"handle": "gus_g"}
    )
    assert (403, "forbidden") == (status, body["error"]["code"])

    status, body = await api.call("GET", "/api/v1/sellers/by-handle/Ana_Vintage")
    assert (200, seller.id) == (status, body["id"])
    # the former handle still names the seller: links shared before the change keep working
    status, body = await api.call("GET", "/api/v1/sellers/by-handle/ana_s_shop")
    assert (200, seller.id, "ana_vintage") == (status, body["id"], body["handle"])
    for old in ("/s/ANA_vintage", "/s/ana_s_shop"):
        async with api.session.get(env.base_url + old, allow_redirects=False) as resp:
            assert (301, "/s/ana_vintage") == (resp.status, resp.headers["Location"]), old
    assert 404 == (await api.call("GET", "/s/nobody_here"))[0]
    # ...until another seller takes it: a handle held now wins over a former one
    bo, bo_token = await member(env, "Bo's Shop", Role.SELLER)
    status, body = await api.call(
        "PUT", "/api/v1/me/handle", bo_token, json={"handle": "ana_s_shop"}
    )
    assert 200 == status, body
    status, body = await api.call("GET", "/api/v1/sellers/by-handle/ana_s_shop")
    assert (200, bo.id, "ana_s_shop") == (status, body["id"], body["handle"])


async def test_rsvp_rules(env: ShopEnv, api: Api) -> None:
    """Reminders are idempotent, counted on the show with the caller's own state, stored with
    who and when, refused for guests, the signed out, unknown shows and ended shows (taking
    one back always works)."""
    show, _ = await env.shop.shows.create(
        env.seller, "Spring drop", "", env.clock.now_ms() + 9_000_000
    )
    rsvp = f"/api/v1/shows/{show.id}/rsvp"
    vera, token = await member(env, "Vera")
    _, token2 = await member(env, "Walt")
    assert (201, {"rsvps": 1, "rsvped": True}) == await api.call("POST", rsvp, token)
    assert (200, {"rsvps": 1, "rsvped": True}) == await api.call("POST", rsvp, token)
    assert (201, {"rsvps": 2, "rsvped": True}) == await api.call("POST", rsvp, token2)
    status, detail = await api.call("GET", f"/api/v1/shows/{show.id}", token)
    assert (200, 2, True) == (status, detail["rsvps"], detail["rsvped"])
    status, detail = await api.call("GET", f"/api/v1/shows/{show.id}")
    assert (2, False) == (detail["rsvps"], detail["rsvped"])
    row = await env.adapters.db.fetchone(
        "SELECT created_at FROM rsvps WHERE show_id = ? AND user_id = ?", show.id, vera.id
    )
    assert row is not None and env.clock.now_ms() == row["created_at"]

    assert (200, {"rsvps": 1, "rsvped": False}) == await api.call("DELETE", rsvp, token2)
    assert (200, {"rsvps": 1, "rsvped": False}) == await api.call("DELETE", rsvp, token2)
    status, guest = await api.call("POST", "/api/v1/auth/guest", json={"name": "Gus"})
    assert 403 == (await api.call("POST", rsvp, guest["token"]))[0]
    assert 401 == (await api.call("POST", rsvp))[0]
    status, body = await api.call("POST", "/api/v1/shows/shw_nope/rsvp", token)
    assert (404, "not_found") == (status, body["error"]["code"])
    assert 201 == (await api.call("POST", f"/api/v1/shows/{env.show_id}/rsvp", token2))[0]

    await env.shop.lifecycle.end(env.seller, show.id)
    status, body = await api.call("POST", rsvp, token2)
    assert (409, "show_ended") == (status, body["error"]["code"])
    assert (200, {"rsvps": 0, "rsvped": False}) == await api.call("DELETE", rsvp, token)


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_counts_under_concurrent_follows(
    settings_factory: SettingsFactory, request: pytest.FixtureRequest, store: str
) -> None:
    """200 accounts follow at once (each twice), then half unfollow while the other half
    follow again: the count is exact at each step and the fan-out pages list each follower
    once."""
    sections: dict[str, Any] = {}
    if store == "postgres":
        sections["store"] = {"url": request.getfixturevalue("postgres_url"), "pool_size": 20}
    async with shop_env(settings_factory(**sections)) as env, aiohttp.ClientSession() as http:
        api = Api(http, env.base_url)
        fans = [await member(env, f"fan{n}") for n in range(200)]
        follow = f"/api/v1/sellers/{env.seller_user.id}/follow"
        answers = await asyncio.gather(
            *(api.call("POST", follow, token) for _, token in fans for _ in range(2))
        )
        assert {201: 200, 200: 200} == _tally(status for status, _ in answers)
        assert (
            200 == (await api.call("GET", f"/api/v1/sellers/{env.seller_user.id}"))[1]["followers"]
        )
        leaving, staying = fans[:100], fans[100:]
        answers = await asyncio.gather(
            *(api.call("DELETE", follow, token) for _, token in leaving),
            *(api.call("POST", follow, token) for _, token in staying),
        )
        assert all(200 == status for status, _ in answers)
        assert (
            100 == (await api.call("GET", f"/api/v1/sellers/{env.seller_user.id}"))[1]["followers"]
        )
        pages = [page async for page in env.shop.follows.followers(env.seller_user.id, 32)]
        assert [32, 32, 32, 4] == [len(p) for p in pages]
        assert sorted(user.id for user, _ in staying) == [i for p in pages for i in p]
        assert await env.shop.follows.is_following(staying[0][0].id, env.seller_user.id)
        assert not await env.shop.follows.is_following(leaving[0][0].id, env.seller_user.id)


def _tally(statuses: Any) -> dict[int, int]:
    out: dict[int, int] = {}
    for status in statuses:
        out[status] = out.get(status, 0) + 1
    return out


def _section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    end = html.find("</section>", start)
    return html[start:end]


async def test_storefront_page(env: ShopEnv, api: Api) -> None:
    """The storefront names the seller and counts followers, lists the live show, upcoming
    shows with Remind me and their counts, past shows and products, with every text escaped;
    signed out, Follow leads to the login with the storefront as next; signed in it is a
    pressed or unpressed button; an unknown handle is a 404 page; the home and show pages link
    the storefront."""
    seller_user, seller_token = await member(env, '<b>Bo & "Co"</b>', Role.SELLER)
    status, me = await api.call("GET", "/api/v1/me", seller_token)
    handle = me["handle"]
    assert (200, "b_bo_co_b") == (status, handle)
    seller = principal_of(seller_user)
    live, _ = await env.shop.shows.create(seller, "<script>alert(1)</script> live")
    await env.shop.shows.move(live.id, ShowStatus.LIVE)
    upcoming, _ = await env.shop.shows.create(
        seller, "Soon <i>", "", env.clock.now_ms() + 86_400_000
    )
    past, _ = await env.shop.shows.create(seller, "Old & gone")
    await env.shop.shows.move(past.id, ShowStatus.LIVE)
    await env.shop.lifecycle.end(seller, past.id)
    await env.shop.catalog.create_product(
        seller, name="<img src=x onerror=alert(1)>", price=Money(1250, "USD"),
        variants=[VariantSpec("one", 3)],
    )  # fmt: skip
    _, fan_token = await member(env, "Fan")
    await api.call("POST", f"/api/v1/shows/{upcoming.id}/rsvp", fan_token)

    status, html = await api.call("GET", f"/s/{handle}")
    assert 200 == status
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>Bo" not in html
    assert "&lt;b&gt;Bo &amp; &#34;Co&#34;&lt;/b&gt;" in html
    assert f'href="/login?next=%2Fs%2F{handle}"' in html
    assert 'id="followers" data-followers-of="' + seller_user.id + '">0<' in html
    assert f'href="/shows/{live.id}"' in _section(html, "live-h")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; live" in _section(html, "live-h")
    upcoming_part = _section(html, "up-h")
    assert f'href="/shows/{upcoming.id}"' in upcoming_part and "Soon &lt;i&gt;" in upcoming_part
    assert re.search(rf'data-rsvps-of="{upcoming.id}">1<', upcoming_part)
    assert f'href="/shows/{past.id}"' in _section(html, "past-h")
    assert "Old &amp; gone" in _section(html, "past-h")
    products = _section(html, "products-h")
    assert "&lt;img src=x onerror=alert(1)&gt;" in products and "12.50" in products

    await api.call("POST", f"/api/v1/sellers/{seller_user.id}/follow", fan_token)
    status, html = await api.call("GET", f"/s/{handle}", fan_token)
    assert f'data-follow="{seller_user.id}" aria-pressed="true">Following<' in html
    assert re.search(rf'data-rsvp="{upcoming.id}" aria-pressed="true">Reminder set<', html)
    assert 'data-followers-of="' + seller_user.id + '">1<' in html
    status, html = await api.call("GET", f"/s/{handle}", seller_token)
    assert "This is your storefront." in html and "data-follow=" not in html

    status, html = await api.call("GET", "/s/no_such_seller")
    assert 404 == status and "Storefront not found" in html
    status, html = await api.call("GET", "/")
    assert f'href="/s/{handle}">&lt;b&gt;Bo' in html
    status, html = await api.call("GET", f"/shows/{upcoming.id}", fan_token)
    assert f'id="seller-link" href="/s/{handle}"' in html
    assert f'data-rsvp="{upcoming.id}" aria-pressed="true"' in html
    assert 'data-rsvps-of="' + upcoming.id + '">1<' in html
