"""Command line: ``serve`` (config file < environment < flags), ``migrate``, ``create-user``,
``verify-bids`` (recompute an auction's published bid log, docs/AUCTIONS.md), ``verify-audit``
(recompute a show's exported moderation audit log, docs/TRUST.md) and ``verify-draw``
(recompute a giveaway's draw, docs/GIVEAWAYS.md)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from livecommerce import logs
from livecommerce.domain.access import Role
from livecommerce.domain.chain import Verdict
from livecommerce.errors import LiveCommerceError
from livecommerce.settings import ConfigError, Settings, load_settings

DEFAULT_CONFIG = Path("config.yaml")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="livecommerce", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument(
        "--config", type=Path, help="YAML config (default: ./config.yaml if present)"
    )
    serve.add_argument("--host")
    serve.add_argument("--port")
    serve.add_argument("--data-dir", type=Path)
    serve.add_argument(
        "--demo",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="seed and run the demo show",
    )
    migrate = sub.add_parser("migrate", help="bring the store's schema up to date and exit")
    user = sub.add_parser(
        "create-user",
        help="create an account of any role (admins cannot sign up); the password is read from "
        "LIVECOMMERCE_NEW_PASSWORD or standard input, never from a flag",
    )
    user.add_argument("--name", required=True)
    user.add_argument("--email", required=True)
    user.add_argument("--role", choices=[r.value for r in Role], default=Role.ADMIN.value)
    verify = sub.add_parser(
        "verify-bids",
        help="recompute an auction's bid log hash chain (GET /api/v1/offers/{id}/bids): prints "
        "OK or the first row that does not verify; exit status 1 when it fails",
    )
    verify.add_argument("url", help="the log's URL, or a saved copy's path ('-': stdin)")
    audit = sub.add_parser(
        "verify-audit",
        help="recompute a show's moderation audit log hash chain (the JSON export of GET "
        "/api/v1/shows/{id}/moderation/audit): prints OK or the first row that does not "
        "verify; exit status 1 when it fails",
    )
    audit.add_argument("url", help="the export's URL, or a saved copy's path ('-': stdin)")
    audit.add_argument(
        "--token-env",
        default="LIVECOMMERCE_TOKEN",
        help="environment variable holding the bearer token a URL needs (default: "
        "LIVECOMMERCE_TOKEN); never a flag, so it stays out of the process list",
    )
    verify_draw_cmd = sub.add_parser(
        "verify-draw",
        help="recompute a giveaway's draw (GET /api/v1/giveaways/{id}): its seed against the "
        "commitment, the entries against entries_hash, the winners against the seed; prints "
        "OK or what does not verify; exit status 1 when it fails",
    )
    verify_draw_cmd.add_argument(
        "url", help="the record's URL, or a saved copy's path ('-': stdin)"
    )
    for command in (migrate, user):
        command.add_argument("--config", type=Path)
        command.add_argument("--data-dir", type=Path)
        command.set_defaults(host=None, port=None, demo=None)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides: dict[str, dict[str, Any]] = {}
    if args.host is not None:
        overrides.setdefault("server", {})["host"] = args.host
    if args.port is not None:
        overrides.setdefault("server", {})["port"] = args.port
    if args.data_dir is not None:
        overrides.setdefault("server", {})["data_dir"] = args.data_dir
    if args.demo is not None:
        overrides["demo"] = {"enabled": args.demo}
    config = args.config
    if config is None and DEFAULT_CONFIG.exists():
        config = DEFAULT_CONFIG
    return load_settings(config, overrides)


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop ``serve`` runs on (None = asyncio's own): uvloop halves the hub's cost
    per delivered socket write, so ``auto`` takes it on Linux whenever it is installed; asking
    for ``uvloop`` where it is missing is a configuration error, not a silent fallback."""
    if choice == "asyncio" or (choice == "auto" and not sys.platform.startswith("linux")):
        return None
    try:
        import uvloop
    except ImportError as exc:
        if choice == "auto":
            return None
        raise ConfigError("server.event_loop is uvloop but uvloop is not installed") from exc
    return uvloop.new_event_loop


async def _serve(settings: Settings) -> None:
    from livecommerce.app import serving
    from livecommerce.bootstrap.demo import demo_welcome

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serving(settings):
        print(f"LiveCommerce serving on {settings.base_url}", file=sys.stderr, flush=True)
        if settings.demo.enabled:
            print(demo_welcome(settings.server.data_dir), file=sys.stderr, flush=True)
        await stop.wait()


async def _migrate(settings: Settings) -> list[int]:
    from livecommerce.adapters.sql.accounts import SqlAccountStore
    from livecommerce.adapters.sql.database import open_database

    db = await open_database(settings.store_url, 1)
    try:
        await SqlAccountStore(db).fill_handles()  # the data step of migration 0830
        rows = await db.fetchall("SELECT version FROM schema_migrations ORDER BY version")
    finally:
        await db.close()
    return [row["version"] for row in rows]


async def _create_user(settings: Settings, name: str, email: str, role: Role, password: str) -> str:
    from livecommerce.adapters.clock import SystemClock
    from livecommerce.adapters.sql.accounts import SqlAccountStore
    from livecommerce.adapters.sql.addresses import SqlAddressStore
    from livecommerce.adapters.sql.database import open_database
    from livecommerce.bootstrap import secret_key
    from livecommerce.services.accounts import AccountService

    db = await open_database(settings.store_url, 1)
    try:
        accounts = AccountService(
            SqlAccountStore(db),
            SystemClock(),
            settings.auth,
            addresses=SqlAddressStore(db),
            token_key=await asyncio.to_thread(secret_key, settings),
        )
        user = await accounts.create_user(name, email, password, role)
    finally:
        await db.close()
    return user.id


def _published(source: str, what: str, token: str | None = None) -> dict[str, Any] | None:
    """A published JSON document from a URL (with a bearer token when given), a saved file or
    stdin ('-'); None (after saying why on stderr) when it cannot be read."""
    import json
    import urllib.request

    try:
        if source.startswith(("http://", "https://")):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            request = urllib.request.Request(source, headers=headers)  # noqa: S310 why: the scheme is checked just above
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 why: as above
                raw = response.read()
        elif source == "-":
            raw = sys.stdin.buffer.read()
        else:
            raw = Path(source).read_bytes()
        document = json.loads(raw)
    except (OSError, ValueError) as exc:
        print(f"livecommerce: cannot read the {what}: {exc}", file=sys.stderr)
        return None
    if not isinstance(document, dict):
        print(f"livecommerce: the {what} is not a JSON object", file=sys.stderr)
        return None
    return document


def _report(verdict: Verdict, ok_text: str) -> int:
    if verdict.ok:
        print(ok_text)
        return 0
    where = f"row seq {verdict.bad_seq}" if verdict.bad_seq is not None else "the log"
    print(f"FAILED at {where}: {verdict.reason}")
    return 1


def verify_bids(source: str) -> int:
    """Fetch (or read) a published bid log and check its chain; 0 when it verifies."""
    from livecommerce.domain.auctions import verify_log

    log = _published(source, "log")
    if log is None:
        return 2
    return _report(verify_log(log), f"OK: {len(log.get('bids', []))} bids, head {log.get('head')}")


def verify_audit(source: str, token: str | None) -> int:
    """Fetch (or read) a show's exported audit log and check its chain; 0 when it verifies."""
    from livecommerce.domain.moderation import verify_audit as verify

    log = _published(source, "log", token)
    if log is None:
        return 2
    return _report(verify(log), f"OK: {len(log.get('entries', []))} rows, head {log.get('head')}")


def verify_draw(source: str) -> int:
    """Fetch (or read) a giveaway's published record and recompute its draw; 0 when it
    verifies."""
    from livecommerce.domain.giveaways import verify_draw as check

    record = _published(source, "record")
    if record is None:
        return 2
    verdict = check(record)
    if verdict.ok:
        winners = ", ".join(w["entry_id"] for w in record["winners"]) or "none"
        print(f"OK: {len(record['entries'])} entries, winners {winners}")
        return 0
    print(f"FAILED: {verdict.reason}")
    return 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "verify-bids":
        return verify_bids(args.url)
    if args.command == "verify-audit":
        return verify_audit(args.url, os.environ.get(args.token_env))
    if args.command == "verify-draw":
        return verify_draw(args.url)
    try:
        settings = settings_from_args(args)
        factory = loop_factory(settings.server.event_loop)
    except ConfigError as exc:
        print(f"livecommerce: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log.level, settings.log.format)
    try:
        if args.command == "migrate":
            versions = asyncio.run(_migrate(settings))
            print(f"schema at version {max(versions)} ({len(versions)} migrations)")
        elif args.command == "create-user":
            password = os.environ.get("LIVECOMMERCE_NEW_PASSWORD") or sys.stdin.readline().rstrip(
                "\n"
            )
            user_id = asyncio.run(
                _create_user(settings, args.name, args.email, Role(args.role), password)
            )
            print(user_id)
        else:
            with asyncio.Runner(loop_factory=factory) as runner:
                runner.run(_serve(settings))
    except LiveCommerceError as exc:
        print(f"livecommerce: {exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"livecommerce: cannot start: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
