"""SqlAddressStore: one saved shipping address per user (table `shipping_addresses`, migration
0610). Upserts use `INSERT … ON CONFLICT`, which SQLite (3.24+) and PostgreSQL both speak, so a
save racing another save or a checkout's "keep this one if there is none" never fails. Reads
made in one event-loop tick share one `SELECT … WHERE user_id IN (…)` (a flash sale reads a
thousand buyers' addresses at once)."""

from __future__ import annotations

from livecommerce.adapters.sql.database import Database, Row
from livecommerce.domain.shipping import ShippingAddress
from livecommerce.services.batching import DEFAULT_BATCH_MAX, TickBatcher

_COLUMNS = "user_id, name, line1, line2, city, region, postal_code, country, updated_at"
_INSERT = (
    f"INSERT INTO shipping_addresses ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608 why: constant column list
    "ON CONFLICT (user_id) DO "
)


def _args(user_id: str, address: ShippingAddress, at_ms: int) -> tuple[object, ...]:
    return (
        user_id,
        address.name,
        address.line1,
        address.line2,
        address.city,
        address.region,
        address.postal_code,
        address.country,
        at_ms,
    )


def _address(row: Row) -> ShippingAddress:
    return ShippingAddress(
        name=row["name"],
        line1=row["line1"],
        line2=row["line2"],
        city=row["city"],
        region=row["region"],
        postal_code=row["postal_code"],
        country=row["country"],
    )


class SqlAddressStore:
    def __init__(self, db: Database, *, batch_max: int = DEFAULT_BATCH_MAX) -> None:
        self._db = db
        self._reads: TickBatcher[str, ShippingAddress | None] = TickBatcher(self._read, batch_max)

    async def address_of(self, user_id: str) -> ShippingAddress | None:
        return await self._reads.submit(user_id)

    async def _read(self, user_ids: list[str]) -> list[ShippingAddress | Exception | None]:
        wanted = sorted(set(user_ids))
        marks = ", ".join("?" for _ in wanted)
        rows = await self._db.fetchall(
            "SELECT user_id, name, line1, line2, city, region, postal_code, country "  # noqa: S608 why: only placeholders are interpolated
            f"FROM shipping_addresses WHERE user_id IN ({marks})",
            *wanted,
        )
        found = {row["user_id"]: _address(row) for row in rows}
        return [found.get(user_id) for user_id in user_ids]

    async def save_address(self, user_id: str, address: ShippingAddress, at_ms: int) -> None:
        await self._db.execute(
            _INSERT
            + "UPDATE SET name = excluded.name, line1 = excluded.line1, line2 = excluded.line2, "
            "city = excluded.city, region = excluded.region, postal_code = excluded.postal_code, "
            "country = excluded.country, updated_at = excluded.updated_at",
            *_args(user_id, address, at_ms),
        )

    async def add_address(self, user_id: str, address: ShippingAddress, at_ms: int) -> bool:
        changed = await self._db.execute(_INSERT + "NOTHING", *_args(user_id, address, at_ms))
        return changed == 1
