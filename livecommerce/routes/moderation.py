"""Moderation records for a show's staff over HTTP: the audit log (JSON or CSV download, a hash
chain: docs/TRUST.md), open reports, held lines, who is banned or timed out now, and appeals
(a viewer files one; staff lift or uphold). Live actions themselves (including ``mod.unban``
and ``mod.lift``) are Socket.IO events (docs/HUB.md)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from livecommerce import keys
from livecommerce.domain.moderation import (
    AUDIT_CSV_COLUMNS,
    MAX_APPEAL_LENGTH,
    AppealStatus,
    ReportStatus,
    audit_genesis,
    audit_summary,
    csv_cell,
)
from livecommerce.routes.api import ApiRoutes
from livecommerce.routes.auth import require_principal
from livecommerce.services.shows import show_ref

api = ApiRoutes("moderation")


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["json", "csv"] = "json"
    limit: int = Field(1000, ge=1, le=100_000)


class ReportsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["open", "resolved"] | None = "open"


@api.get(
    "/api/v1/shows/{show_id}/moderation/audit",
    query=AuditQuery,
    summary="The show's moderation audit log, newest first (staff); format=csv downloads it",
)
async def audit_log(request: web.Request, query: AuditQuery) -> web.StreamResponse | dict[str, Any]:
    principal = await require_principal(request)
    services = request.app[keys.SERVICES]
    show = show_ref(await services.shows.get(request.match_info["show_id"]))
    if query.format == "json":
        return await services.moderation.audit_export(principal, show, query.limit)
    entries = await services.moderation.audit(principal, show, query.limit)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(AUDIT_CSV_COLUMNS)
    for e in entries:
        row = [
            str(e.at_ms), str(e.action), e.actor_id, e.actor_name, e.target_user_id or "",
            e.target_message_id or "", e.reason, json.dumps(e.detail, ensure_ascii=False),
            e.target_name, audit_summary(e), str(e.seq), e.prev_hash, e.hash,
        ]  # fmt: skip
        writer.writerow([csv_cell(cell) for cell in row])
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="audit-{show.id}.csv"',
            "LiveCommerce-Audit-Head": entries[0].hash if entries else audit_genesis(show.id),
        },
    )


@api.get(
    "/api/v1/shows/{show_id}/moderation/reports",
    query=ReportsQuery,
    summary="Viewer reports of chat lines (staff)",
)
async def reports(request: web.Request, query: ReportsQuery) -> dict[str, Any]:
    principal = await require_principal(request)
    services = request.app[keys.SERVICES]
    show = show_ref(await services.shows.get(request.match_info["show_id"]))
    status = ReportStatus(query.status) if query.status else None
    found = await services.moderation.reports(principal, show, status)
    return {"reports": [r.to_wire() for r in found]}


@api.get("/api/v1/shows/{show_id}/moderation/held", summary="Lines held for review (staff)")
async def held(request: web.Request) -> dict[str, Any]:
    principal = await require_principal(request)
    services = request.app[keys.SERVICES]
    show = show_ref(await services.shows.get(request.match_info["show_id"]))
    await services.moderation.reports(principal, show, None)  # authorizes MODERATE
    return {"held": [m.to_wire() for m in await services.chat.held(show.id)]}


@api.get(
    "/api/v1/shows/{show_id}/moderation/restrictions",
    summary="Who is banned and who is timed out now, with names (staff); "
    "lift them with the hub's mod.unban and mod.lift",
)
async def restrictions(request: web.Request) -> dict[str, Any]:
    principal = await require_principal(request)
    services = request.app[keys.SERVICES]
    show = show_ref(await services.shows.get(request.match_info["show_id"]))
    found = await services.moderation.restrictions(principal, show)
    return {
        "banned": [r.to_wire() for r in found if r.kind == "ban"],
        "timed_out": [r.to_wire() for r in found if r.kind == "timeout"],
    }


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_APPEAL_LENGTH)


class AppealsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["open", "lifted", "upheld"] | None = None


class DecideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["lifted", "upheld"]
    note: str | None = Field(None, max_length=200)


@api.post(
    "/api/v1/shows/{show_id}/appeals",
    body=AppealIn,
    status=201,
    summary="Appeal the ban or timeout in force on you in this show (once per action)",
)
async def create_appeal(request: web.Request, body: AppealIn) -> dict[str, Any]:
    principal = await require_principal(request)
    services = request.app[keys.SERVICES]
    show = show_ref(await services.shows.get(request.match_info["show_id"]))
    return (await services.moderation.appeal(principal, show, body.text)).to_wire()


@api.get(
    "/api/v1/shows/{show_id}/appeals",
    query=AppealsQuery,
    summary="The show's appeals, oldest first (staff: all; anyone else: their own)",
)
async def list_appeals(request: web.Request, query: AppealsQuery) -> dict[str, Any]:
    principal = await require_principal(request)
    services = request.app[keys.SERVICES]
    show = show_ref(await services.shows.get(request.match_info["show_id"]))
    status = AppealStatus(query.status) if query.status else None
    found = await services.moderation.appeals(principal, show, status)
    return {"appeals": [a.to_wire() for a in found]}


@api.get(
    "/api/v1/shows/{show_id}/appeals/{appeal_id}",
    summary="One appeal (its author or the show's staff)",
)
async def get_appeal(request: web.Request) -> dict[str, Any]:
    principal = await require_principal(request)
    services = request.app[keys.SERVICES]
    show = show_ref(await services.shows.get(request.match_info["show_id"]))
    appeal = await services.moderation.get_appeal(principal, show, request.match_info["appeal_id"])
    return appeal.to_wire()


@api.post(
    "/api/v1/shows/{show_id}/appeals/{appeal_id}/decide",
    body=DecideIn,
    summary="Lift the action appealed or uphold it (staff; once)",
)
async def decide_appeal(request: web.Request, body: DecideIn) -> dict[str, Any]:
    principal = await require_principal(request)
    services = request.app[keys.SERVICES]
    show = show_ref(await services.shows.get(request.match_info["show_id"]))
    appeal = await services.moderation.decide(
        principal, show, request.match_info["appeal_id"], AppealStatus(body.outcome), body.note
    )
    return appeal.to_wire()
