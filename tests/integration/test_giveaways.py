"""Giveaways end to end: a giveaway made over REST, entries from python-socketio clients (the
button and a chat keyword; every refusal code from a real request), the close by the background
sweeper, the draw revealing the seed, the winners' zero-price orders paid at once with the
seller's promotion journal entry, the public record verified by `livecommerce verify-draw` and
by the standalone script in docs/GIVEAWAYS.md (and failing once its seed, one entry or the
order of its picks is changed); then two nodes sharing Redis and PostgreSQL: the same
giveaway closes once and two simultaneous draws draw once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from livecommerce import keys
from livecommerce.adapters.sql.accounts import SqlAccountStore
from livecommerce.adapters.sql.addresses import SqlAddressStore
from livecommerce.bootstrap.adapters import ADAPTERS
from livecommerce.cli import verify_draw
from livecommerce.domain.access import Role
from livecommerce.domain.ledger import EntryKind
from livecommerce.domain.money import Money
from livecommerce.domain.orders import OrderStatus
from livecommerce.ids import new_id
from livecommerce.services.accounts import principal_of
from livecommerce.services.catalog import VariantSpec
from livecommerce.services.ports import User
from livecommerce.services.shows import show_ref
from tests.conftest import SettingsFactory
from tests.support.app import RunningApp, running_app
from tests.support.auctions import run_script, standalone_verifier
from tests.support.hub_clients import HubClient
from tests.support.shop import HOME, ShopEnv, post_json, production_sections, shop_env

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def env(settings_factory: SettingsFactory) -> AsyncIterator[ShopEnv]:
    shop = {"giveaway_sweep_seconds": 0.2, "giveaway_update_interval_seconds": 0.05}
    async with shop_env(settings_factory(shop=shop)) as running:
        yield running


async def connect(base_url: str, token: str | None, show_id: str) -> HubClient:
    client = HubClient()
    await client.connect(base_url, token)
    joined = await client.call("show.join", {"show_id": show_id})
    assert joined["ok"], joined
    return client


def code(ack: dict[str, Any]) -> str:
    assert ack["ok"] is False, ack
    return str(ack["error"]["code"])


async def check_verifiers(http: ClientSession, url: str, tmp_path: Path) -> dict[str, Any]:
    """The record verifies with `verify-draw` and the doc's script; a changed seed, one changed
    entry and swapped picks fail both. The record, as published."""
    async with http.get(url) as resp:
        assert 200 == resp.status
        record = await resp.json()
    assert 0 == await asyncio.to_thread(verify_draw, url)
    script = tmp_path / "verify_draw.py"
    script.write_text(standalone_verifier("GIVEAWAYS.md"), encoding="utf-8")
    status, out = await run_script(script, url)
    assert (0, "OK") == (status, out[:2]), out
    seed = dict(record, seed="00" * 32)
    entry = json.loads(json.dumps(record))
    entry["entries"][0]["entrant"] = "ab" * 32
    picks = dict(record, winners=list(reversed(record["winners"])))
    for name, edited in (("seed", seed), ("entry", entry), ("picks", picks)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(edited), encoding="utf-8")
        assert 1 == await asyncio.to_thread(verify_draw, str(path)), name
        status, out = await run_script(script, str(path))
        assert (1, "FAILED") == (status, out[:6]), (name, out)
    return dict(record)


async def test_giveaway_over_the_hub(env: ShopEnv, tmp_path: Path) -> None:
    """Entries by button and chat keyword, every refusal, one entry per person, the sweeper's
    close, refused early and second draws, the draw's winners with paid zero-price orders and
    promotion entries, and a record that verifies (and fails once edited)."""
    base = f"{env.base_url}/api/v1"
    seller_token = await env.token(env.seller_user)
    staff = await connect(env.base_url, seller_token, env.show_id)
    people = {name: await env.user(name) for name in ("Alice", "Bob", "Carol", "Dave")}
    tokens = {name: await env.token(user) for name, (_, user) in people.items()}
    socks = {name: await connect(env.base_url, tokens[name], env.show_id) for name in people}
    _, nowhere = await env.user("Nomad", address=None)
    nomad = await connect(env.base_url, await env.token(nowhere), env.show_id)
    _, troll = await env.user("Troll")
    trolling = await connect(env.base_url, await env.token(troll), env.show_id)
    watcher = await connect(env.base_url, None, env.show_id)
    guest = HubClient()
    before = (await env.variant()).on_hand
    async with ClientSession() as http:
        body = {"prize": {"product_id": env.product.id}, "winners": 2, "entry": "chat_keyword",
                "keyword": "win", "duration_seconds": 60}  # fmt: skip
        status, made = await post_json(http, f"{base}/shows/{env.show_id}/giveaways", body)
        assert 401 == status
        status, made = await post_json(
            http, f"{base}/shows/{env.show_id}/giveaways", body, tokens["Alice"]
        )
        assert (403, "forbidden") == (status, made["error"]["code"])
        status, made = await post_json(
            http, f"{base}/shows/{env.show_id}/giveaways", {**body, "winners": 600}, seller_token
        )
        assert (422, "invalid_input") == (status, made["error"]["code"])
        status, made = await post_json(
            http, f"{base}/shows/{env.show_id}/giveaways", body, seller_token
        )
        assert 201 == status, made
        gid = made["id"]
        assert ("open", 64, None) == (made["status"], len(made["commitment"]), made["entries_hash"])
        assert "seed" not in made
        started = await staff.expect("giveaway.started", within=5)
        assert (gid, made["commitment"], "win") == (
            started["giveaway_id"], started["commitment"], started["keyword"]
        )  # fmt: skip
        enter = {"show_id": env.show_id, "giveaway_id": gid}

        first = await socks["Alice"].call("giveaway.enter", enter)
        assert first["ok"], first
        assert first == await socks["Alice"].call("giveaway.enter", enter)
        sent = await socks["Bob"].call("chat.send", {"show_id": env.show_id, "text": "I WIN pls"})
        assert sent["ok"], sent
        await socks["Dave"].call("chat.send", {"show_id": env.show_id, "text": "winner winner"})
        assert (await socks["Carol"].call("giveaway.enter", enter))["ok"]
        await staff.expect("giveaway.updated", lambda e: e["entries"] == 3, within=10)

        assert "unauthenticated" == code(await watcher.call("giveaway.enter", enter))
        guest_token = (await post_json(http, f"{base}/auth/guest", {"name": "Guesty"}))[1]["token"]
        await guest.connect(env.base_url, guest_token)
        assert "cannot_enter" == code(await guest.call("giveaway.enter", enter))
        assert "cannot_enter" == code(await staff.call("giveaway.enter", enter))
        show = show_ref(await env.shop.shows.get(env.show_id))
        await env.shop.moderation.ban(env.seller, show, troll.id)
        assert "banned" == code(await trolling.call("giveaway.enter", enter))
        assert "shipping_address_required" == code(await nomad.call("giveaway.enter", enter))
        assert "not_found" == code(
            await socks["Dave"].call("giveaway.enter", {**enter, "giveaway_id": "gvw_nope"})
        )
        assert "invalid_input" == code(
            await socks["Dave"].call("giveaway.enter", {**enter, "x": 1})
        )

        draw_url = f"{base}/shows/{env.show_id}/giveaways/{gid}/draw"
        status, early = await post_json(http, draw_url, {}, seller_token)
        assert (409, "giveaway_not_closed") == (status, early["error"]["code"])
        async with http.get(f"{base}/giveaways/{gid}") as resp:
            open_record = await resp.json()
        assert (None, None, "open") == (
            open_record["seed"], open_record["entries"], open_record["status"]
        )  # fmt: skip

        env.clock.advance(61)
        closed = await staff.expect("giveaway.closed", within=20)
        assert (gid, 3) == (closed["giveaway_id"], closed["entries"])
        assert "giveaway_closed" == code(await socks["Dave"].call("giveaway.enter", enter))
        assert first == await socks["Alice"].call("giveaway.enter", enter)

        status, drawn = await post_json(http, draw_url, {}, seller_token)
        assert 200 == status, drawn
        assert (closed["entries_hash"], 2, "drawn") == (
            drawn["entries_hash"], len(drawn["winners"]), drawn["status"]
        )  # fmt: skip
        announced = await staff.expect("giveaway.drawn", within=5)
        assert drawn["seed"] == announced["seed"]
        assert [w["entry_id"] for w in drawn["winners"]] == [
            w["entry_id"] for w in announced["winners"]
        ]
        status, again = await post_json(http, draw_url, {}, seller_token)
        assert (409, "giveaway_already_drawn") == (status, again["error"]["code"])

        names = {user.id: name for name, (_, user) in people.items()}
        for winner in drawn["winners"]:
            order = (await socks[names[winner["id"]]].expect("order.updated", within=10))["order"]
            assert (winner["order_id"], "paid", 0) == (
                order["id"], order["status"], order["total"]["amount"]
            )  # fmt: skip
            journal = await env.adapters.orders.journal(order["id"])
            assert [(EntryKind.PROMOTION, 4900)] == [(t.kind, t.amount) for t in journal]
        assert before - 2 == (await env.variant()).on_hand
        record = await check_verifiers(http, f"{base}/giveaways/{gid}", tmp_path)
        assert first["entry"] in record["entries"]
        assert 3 == len(record["entries"])

        followers = {**body, "entry": "button", "keyword": None, "requires_follow": True}
        status, made = await post_json(
            http, f"{base}/shows/{env.show_id}/giveaways", followers, seller_token
        )
        assert 201 == status, made
        refused = await socks["Dave"].call("giveaway.enter", {**enter, "giveaway_id": made["id"]})
        assert "follow_required" == code(refused)
        follow = f"{base}/sellers/{env.seller_user.id}/follow"
        assert 201 == (await post_json(http, follow, {}, tokens["Dave"]))[0]
        entered = await socks["Dave"].call("giveaway.enter", {**enter, "giveaway_id": made["id"]})
        assert entered["ok"] is True, entered
    for client in (staff, nomad, trolling, watcher, guest, *socks.values()):
        await client.close()


async def account(node: RunningApp, name: str, role: Role = Role.VIEWER) -> tuple[User, str]:
    """An account with a saved shipping address, and its token."""
    user = User(new_id("usr"), name, f"{new_id('m')}@example.test", role, False, 0)
    db = node.app[ADAPTERS].db
    await SqlAccountStore(db).add_user(user)
    await SqlAddressStore(db).save_address(user.id, HOME, 0)
    return user, await node.app[keys.SERVICES].accounts.issue_api_token(user)


async def test_two_nodes_close_once_and_draw_once(
    settings_factory: SettingsFactory, redis_url: str, postgres_url: str, tmp_path: Path
) -> None:
    """Two nodes sharing Redis and PostgreSQL: entries through both (a chat keyword heard on
    the node that did not create the giveaway), one `giveaway.closed` per node, and two draws
    sent at once to the two nodes: one draws, the other is refused, one `giveaway.drawn` each
    and one prize order per winner; the record verifies."""
    sections: dict[str, Any] = {
        **production_sections(postgres_url, redis_url),
        "shop": {"giveaway_sweep_seconds": 0.2, "giveaway_update_interval_seconds": 0.05},
    }
    async with (
        running_app(settings_factory(**sections)) as a,
        running_app(settings_factory(**sections)) as b,
        ClientSession() as http,
    ):
        seller, seller_token = await account(a, "Seller", Role.SELLER)
        services = a.app[keys.SERVICES]
        show, _ = await services.shows.create(principal_of(seller), "Giveaway night")
        product = await services.catalog.create_product(
            principal_of(seller), name="Mug", price=Money(1500, "USD"),
            variants=[VariantSpec("one", 10)],
        )  # fmt: skip
        watchers = [await connect(node.base_url, seller_token, show.id) for node in (a, b)]
        people = [await account(a, f"Fan{n}") for n in range(6)]
        fans = [
            await connect((a, b)[n % 2].base_url, token, show.id)
            for n, (_, token) in enumerate(people)
        ]
        body = {"prize": {"product_id": product.id}, "winners": 3, "entry": "chat_keyword",
                "keyword": "#mug", "duration_seconds": 5}  # fmt: skip
        status, made = await post_json(
            http, f"{a.base_url}/api/v1/shows/{show.id}/giveaways", body, seller_token
        )
        assert 201 == status, made
        gid = made["id"]
        enter = {"show_id": show.id, "giveaway_id": gid}
        acks = await asyncio.gather(*(fan.call("giveaway.enter", enter) for fan in fans[:5]))
        assert all(ack["ok"] for ack in acks), acks
        said = await fans[5].call("chat.send", {"show_id": show.id, "text": "gimme the #MUG"})
        assert said["ok"], said
        closed = [await w.expect("giveaway.closed", within=20) for w in watchers]
        assert [6, 6] == [c["entries"] for c in closed]
        assert closed[0] == closed[1]

        draws = await asyncio.gather(
            *(post_json(http, f"{node.base_url}/api/v1/shows/{show.id}/giveaways/{gid}/draw",
                        {}, seller_token) for node in (a, b))
        )  # fmt: skip
        assert [200, 409] == sorted(status for status, _ in draws), draws
        refused = next(answer for status, answer in draws if status == 409)
        assert "giveaway_already_drawn" == refused["error"]["code"]
        seeds = [(await w.expect("giveaway.drawn", within=10))["seed"] for w in watchers]
        assert seeds[0] == seeds[1]
        for watcher in watchers:
            assert [] == [e for e, _ in await watcher.drain(0.5) if e.startswith("giveaway.c")]
        record = await check_verifiers(http, f"{b.base_url}/api/v1/giveaways/{gid}", tmp_path)
        orders = await a.app[ADAPTERS].orders.offer_orders(gid, [OrderStatus.PAID])
        assert sorted(w["order_id"] for w in record["winners"]) == sorted(o.id for o in orders)
        assert 3 == len(orders)
        for client in (*watchers, *fans):
            await client.close()
