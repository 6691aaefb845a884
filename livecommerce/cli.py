"""Command line: ``livecommerce serve`` with config file, environment and flag overrides."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from livecommerce import logs
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


async def _serve(settings: Settings) -> None:
    from livecommerce.app import serving

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serving(settings):
        print(f"LiveCommerce serving on {settings.base_url}", file=sys.stderr, flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        print(f"livecommerce: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log.level, settings.log.format)
    try:
        asyncio.run(_serve(settings))
    except OSError as exc:
        print(f"livecommerce: cannot start: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
