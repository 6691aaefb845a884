"""A show's peak and unique viewers in SQL, identical on SQLite and PostgreSQL: written by
every node, repeated freely, the peak only rising and each viewer counted once."""

from __future__ import annotations

from livecommerce.adapters.sql.analytics import VIEWER_ROWS_PER_INSERT, SqlAnalyticsStore
from livecommerce.adapters.sql.database import PostgresDatabase, SqliteDatabase
from livecommerce.services.ports import AudienceTally


async def test_peak_only_rises_and_viewers_count_once(
    db: SqliteDatabase | PostgresDatabase,
) -> None:
    """Two nodes recording overlapping viewers and counts leave the true peak and unique count."""
    store = SqlAnalyticsStore(db)
    assert AudienceTally(0, 0) == await store.audience("show_1")
    await store.record_audience("show_1", {"a", "b"}, 2, 1_000)
    await store.record_audience("show_1", {"b", "c"}, 3, 1_100)  # the other node
    await store.record_audience("show_1", {"a"}, 1, 1_200)  # a repeat, a lower count
    await store.record_audience("show_2", {"a"}, 7, 1_200)
    assert AudienceTally(peak=3, unique_viewers=3) == await store.audience("show_1")
    assert AudienceTally(peak=7, unique_viewers=1) == await store.audience("show_2")


async def test_a_large_audience_is_written_in_batches(
    db: SqliteDatabase | PostgresDatabase,
) -> None:
    """More viewers than one INSERT carries are all kept."""
    store = SqlAnalyticsStore(db)
    many = {f"viewer-{i}" for i in range(VIEWER_ROWS_PER_INSERT * 2 + 5)}
    await store.record_audience("show_1", many, len(many), 1_000)
    assert AudienceTally(len(many), len(many)) == await store.audience("show_1")
