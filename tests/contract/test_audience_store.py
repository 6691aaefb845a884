"""The audience stores, identical on SQLite and PostgreSQL: seller handles made from names
(numbered when taken, filled in for sellers from before handles), follows and reminders unique
on their pair with counts from the rows, and the keyset pages fan-outs and lists walk."""

from __future__ import annotations

import pytest

from livecommerce.adapters.sql.accounts import SqlAccountStore
from livecommerce.adapters.sql.audience import SqlFollowStore, SqlRsvpStore
from livecommerce.adapters.sql.database import PostgresDatabase, SqliteDatabase
from livecommerce.adapters.sql.shows import SqlShowStore
from livecommerce.domain.access import Role
from livecommerce.domain.shows import ShowStatus
from livecommerce.errors import Conflict, HandleTaken
from livecommerce.services.ports import Show, User

Db = SqliteDatabase | PostgresDatabase


def _user(uid: str, name: str, role: Role = Role.VIEWER) -> User:
    return User(uid, name, f"{uid}@x.example", role, False, 1)


async def test_handles_are_made_unique_and_filled(db: Db) -> None:
    """Sellers get handles from their names (numbered when taken); viewers get none; a taken
    handle or e-mail is refused with its own error; sellers without one are filled from the
    name; lookups are by the stored lower-case handle."""
    accounts = SqlAccountStore(db)
    await accounts.add_user(_user("usr_a1", "Zoë's Shop!", Role.SELLER))
    await accounts.add_user(_user("usr_a2", "ZOE S SHOP", Role.SELLER))
    await accounts.add_user(_user("usr_v1", "Vic"))
    handles = [(await accounts.user_by_id(u)) for u in ("usr_a1", "usr_a2", "usr_v1")]
    assert ["zoe_s_shop", "zoe_s_shop_2", None] == [u.handle if u else "?" for u in handles]

    with pytest.raises(Conflict):  # the e-mail is taken, not the handle
        await accounts.add_user(User("usr_a3", "Zoë", "usr_a1@x.example", Role.SELLER, False, 1))
    with pytest.raises(HandleTaken):
        await accounts.set_handle("usr_v1", "zoe_s_shop", 2)
    await accounts.set_handle("usr_v1", "vic_sells", 3)
    found = await accounts.user_by_handle("vic_sells")
    assert found is not None and "usr_v1" == found.id
    assert None is await accounts.user_by_former_handle("vic_sells")

    # a changed handle is kept as a former one; retired twice, it names who retired it last
    await accounts.set_handle("usr_a1", "zoe_renamed", 4)
    await accounts.set_handle("usr_a1", "zoe_renamed", 5)  # unchanged: nothing retired
    former = await accounts.user_by_former_handle("zoe_s_shop")
    assert former is not None and ("usr_a1", "zoe_renamed") == (former.id, former.handle)
    assert None is await accounts.user_by_former_handle("zoe_renamed")
    await accounts.set_handle("usr_v1", "zoe_s_shop", 6)  # a freed handle can be taken
    await accounts.set_handle("usr_v1", "vic_again", 7)
    former = await accounts.user_by_former_handle("zoe_s_shop")
    assert former is not None and "usr_v1" == former.id
    await accounts.set_handle("usr_v1", "vic_sells", 8)
    await accounts.set_handle("usr_a1", "zoe_s_shop", 9)  # taken back: the holder wins
    now = await accounts.user_by_handle("zoe_s_shop")
    assert now is not None and "usr_a1" == now.id
    # a generated handle skips former ones: "vic_again" is one of usr_v1's
    await accounts.add_user(_user("usr_a9", "Vic Again", Role.SELLER))
    generated = await accounts.user_by_id("usr_a9")
    assert generated is not None and "vic_again_2" == generated.handle

    await db.execute("UPDATE users SET handle = NULL WHERE id = ?", "usr_a2")
    await db.execute("UPDATE users SET handle = ? WHERE id = ?", "zoe_s_shop_2", "usr_v1")
    assert 1 == await accounts.fill_handles()
    refilled = await accounts.user_by_id("usr_a2")
    assert refilled is not None and "zoe_s_shop_3" == refilled.handle
    assert 0 == await accounts.fill_handles()


async def test_follows_and_rsvps(db: Db) -> None:
    """Following and RSVPing twice is a no-op that says so; counts come from the rows; the
    followers of a seller come in id-ordered pages and a user's follows newest first."""
    accounts, follows, rsvps = SqlAccountStore(db), SqlFollowStore(db), SqlRsvpStore(db)
    for uid in ("usr_s1", "usr_s2"):
        await accounts.add_user(_user(uid, f"Seller {uid}", Role.SELLER))
    fans = [f"usr_f{n}" for n in range(5)]
    for uid in fans:
        await accounts.add_user(_user(uid, uid))
    assert await follows.follow("usr_f0", "usr_s1", 10)
    assert not await follows.follow("usr_f0", "usr_s1", 11)
    for n, uid in enumerate(fans[1:], start=1):
        await follows.follow(uid, "usr_s1", 10 + n)
    await follows.follow("usr_f0", "usr_s2", 20)
    assert (5, 1) == (
        await follows.follower_count("usr_s1"),
        await follows.follower_count("usr_s2"),
    )
    assert await follows.is_following("usr_f0", "usr_s2")
    assert not await follows.is_following("usr_f1", "usr_s2")

    first = await follows.followers_page("usr_s1", None, 3)
    rest = await follows.followers_page("usr_s1", first[-1], 3)
    assert sorted(fans) == first + rest

    newest = await follows.following_page("usr_f0", None, 1)
    assert [("usr_s2", 20, "seller_usr_s2")] == [
        (f.seller_id, f.followed_at, f.handle) for f in newest
    ]
    older = await follows.following_page("usr_f0", (20, "usr_s2"), 5)
    assert ["usr_s1"] == [f.seller_id for f in older]

    assert await follows.unfollow("usr_f0", "usr_s1")
    assert not await follows.unfollow("usr_f0", "usr_s1")
    assert 4 == await follows.follower_count("usr_s1")

    await SqlShowStore(db).add_show(
        Show("shw_1", "usr_s1", "Drop", "", ShowStatus.SCHEDULED, None, None, None, 1), "h"
    )
    assert await rsvps.add_rsvp("shw_1", "usr_f1", 30)
    assert not await rsvps.add_rsvp("shw_1", "usr_f1", 31)
    await rsvps.add_rsvp("shw_1", "usr_f2", 32)
    assert {"shw_1": 2} == await rsvps.rsvp_counts(["shw_1", "shw_none"])
    assert {"shw_1"} == await rsvps.rsvped("usr_f1", ["shw_1"])
    assert await rsvps.remove_rsvp("shw_1", "usr_f1")
    assert not await rsvps.remove_rsvp("shw_1", "usr_f1")
    assert set() == await rsvps.rsvped("usr_f1", ["shw_1"])
    row = await db.fetchone("SELECT created_at FROM rsvps WHERE user_id = ?", "usr_f2")
    assert row is not None and 32 == row["created_at"]
