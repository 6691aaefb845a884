"""The stores behind the seller pages, identical on SQLite and PostgreSQL: archived products,
option names, photo sizes and SKUs in the catalog; restrictions, lifted timeouts and target names
in the hub's moderation store."""

from __future__ import annotations

from dataclasses import replace

import pytest

from livecommerce.adapters.sql.accounts import SqlAccountStore
from livecommerce.adapters.sql.catalog import SqlCatalogStore
from livecommerce.adapters.sql.catalog_admin import SqlCatalogAdmin
from livecommerce.adapters.sql.database import PostgresDatabase, SqliteDatabase
from livecommerce.adapters.sql.hub import SqlHubStore
from livecommerce.domain.access import Role
from livecommerce.domain.moderation import AuditEntry, ModAction
from livecommerce.errors import Conflict
from livecommerce.services.ports import ImageSize, Product, User, Variant

Db = SqliteDatabase | PostgresDatabase


async def _people(db: Db) -> None:
    accounts = SqlAccountStore(db)
    for uid, name in (("s1", "Sam"), ("h1", "Hana"), ("a1", "Alice"), ("b1", "Bob")):
        await accounts.add_user(User(uid, name, f"{uid}@x.example", Role.SELLER, False, 1))


async def test_catalog_fields_variants_and_skus(db: Db) -> None:
    """New product fields round-trip; variants are added and renamed; a SKU is unique in its
    product; the photo's sizes are kept in order."""
    await _people(db)
    catalog, admin = SqlCatalogStore(db), SqlCatalogAdmin(db)
    product = Product(
        "p1", "s1", "Tee", "", 2500, "USD", "", 10,
        (Variant("v1", "S", 2, None, sku="TEE-S"),), option_name="Size",
    )  # fmt: skip
    await catalog.add_product(product)
    assert product == await catalog.get_product("p1")

    await admin.add_variant("p1", Variant("v2", "M", 0, 2700, sku="TEE-M"))
    with pytest.raises(Conflict):
        await admin.add_variant("p1", Variant("v3", "M", 0, None))
    with pytest.raises(Conflict):
        await admin.add_variant("p1", Variant("v3", "L", 0, None, sku="TEE-M"))
    assert await admin.edit_variant(
        "p1", "v2", {"label": "Medium", "sku": None, "price_minor": None}
    )
    assert not await admin.edit_variant("p1", "nope", {"label": "x"})
    with pytest.raises(Conflict):
        await admin.edit_variant("p1", "v2", {"sku": "TEE-S"})

    sizes = (ImageSize(160, 120, "/u/a-160.webp"), ImageSize(480, 360, "/u/a-480.webp"))
    await admin.update_product("p1", {"archived": True, "images": sizes, "option_name": "Fit"})
    got = await catalog.get_product("p1")
    assert got is not None
    assert (True, "Fit", sizes) == (got.archived, got.option_name, got.images)
    assert [("S", "TEE-S", None), ("Medium", None, None)] == [
        (v.label, v.sku, v.price_minor) for v in got.variants
    ]


async def test_restrictions_lift_and_target_names(db: Db) -> None:
    """Bans and running timeouts are listed with names; a lift ends only a running timeout;
    audit entries keep the target's name."""
    await _people(db)
    store = SqlHubStore(db)
    await store.ban("show", "b1", "h1", "spam", 100)
    await store.mute("show", "a1", 5000)
    await store.mute("show", "s1", 50)  # over by now: not listed
    found = await store.restrictions("show", 1000)
    assert [("ban", "Bob", "Hana", "spam"), ("timeout", "Alice", "", "")] == [
        (r.kind, r.user_name, r.by_name, r.reason) for r in found
    ]
    assert 5000 == found[1].until_ms
    assert not await store.unmute("show", "s1", 1000)
    assert await store.unmute("show", "a1", 1000)
    assert [] == [r for r in await store.restrictions("show", 1000) if r.kind == "timeout"]

    entry = AuditEntry("e1", "show", "h1", "Hana", ModAction.LIFT, 1000, "a1", target_name="Alice")
    await store.append_audit(entry)
    (stored,) = await store.audit("show", 10)
    # the row joins the show's hash chain (docs/TRUST.md): the first row, hashed
    assert replace(entry, seq=1, prev_hash=stored.prev_hash, hash=stored.hash) == stored
    assert 64 == len(stored.prev_hash) == len(stored.hash)
