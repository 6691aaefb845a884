"""The domain core stays pure: nothing under livecommerce/domain imports a module doing I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import livecommerce.domain

FORBIDDEN = {
    "asyncio",
    "aiohttp",
    "redis",
    "stripe",
    "av",
    "aiortc",
    "socketio",
    "engineio",
    "os",
    "time",
    "random",
    "uuid",
    "socket",
    "subprocess",
    "sqlite3",
    "aiosqlite",
    "asyncpg",
    "secrets",
    "pathlib",
    "shutil",
    "requests",
    "urllib",
    "http",
    "logging",
    "threading",
    "datetime",
}
ALLOWED_PROJECT = ("livecommerce.domain", "livecommerce.errors")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _domain_files() -> list[Path]:
    return sorted(Path(livecommerce.domain.__file__).parent.glob("*.py"))


def test_domain_imports_nothing_that_does_io() -> None:
    """Every import in domain/ is pure stdlib or another domain module."""
    offenders = []
    for path in _domain_files():
        for name in _imports(path):
            root = name.split(".")[0]
            if root in FORBIDDEN:
                offenders.append(f"{path.name}: {name}")
            if root == "livecommerce" and not name.startswith(ALLOWED_PROJECT):
                offenders.append(f"{path.name}: {name}")
    assert [] == offenders


def test_purity_check_catches_an_io_import(tmp_path: Path) -> None:
    """The scanner itself flags a forbidden import (so the rule above cannot pass vacuously)."""
    bad = tmp_path / "bad.py"
    bad.write_text("import asyncio\nfrom redis import Redis\nfrom livecommerce.app import x\n")
    assert ["asyncio", "redis", "livecommerce.app"] == _imports(bad)
    assert len(_domain_files()) >= 5
