"""MemoryAuctions: the live state of auctions on one node, atomic because every method runs
without awaiting between its read and its write on the node's one event loop."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from livecommerce.domain.auctions import AuctionState
from livecommerce.services.ports import Commit, OwnedRow


class MemoryAuctions:
    def __init__(self) -> None:
        self._states: dict[str, AuctionState] = {}
        self._rows: dict[str, list[OwnedRow]] = {}
        self._acks: dict[tuple[str, str], Mapping[str, Any]] = {}
        self._refused: dict[str, dict[str, int]] = {}

    async def state(self, offer_id: str) -> AuctionState | None:
        return self._states.get(offer_id)

    async def open(self, state: AuctionState, rows: Sequence[OwnedRow] = ()) -> AuctionState:
        if state.offer_id not in self._states:
            self._rows[state.offer_id] = list(rows)
        return self._states.setdefault(state.offer_id, state)

    async def replay(self, offer_id: str, key: str) -> Mapping[str, Any] | None:
        return self._acks.get((offer_id, key))

    async def commit(
        self,
        expected_version: int,
        state: AuctionState,
        rows: Sequence[OwnedRow] = (),
        acks: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Commit:
        offer_id = state.offer_id
        for key in acks or {}:
            if (offer_id, key) in self._acks:
                return Commit(False, self._acks[(offer_id, key)], key)
        current = self._states.get(offer_id)
        if current is None or current.version != expected_version:
            return Commit(False)
        self._states[offer_id] = state
        self._rows.setdefault(offer_id, []).extend(rows)
        for key, ack in (acks or {}).items():
            self._acks[(offer_id, key)] = dict(ack)
        return Commit(True)

    async def rows(self, offer_id: str) -> list[OwnedRow]:
        return list(self._rows.get(offer_id, ()))

    async def refuse(self, offer_id: str, counts: Mapping[str, int]) -> None:
        known = self._refused.setdefault(offer_id, {})
        for code, n in counts.items():
            known[code] = known.get(code, 0) + n

    async def refusals(self, offer_id: str) -> dict[str, int]:
        return dict(self._refused.get(offer_id, {}))
