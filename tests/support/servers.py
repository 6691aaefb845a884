"""Real servers the tests start on free loopback ports, so fault tests can kill and restart them."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 15.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


class RedisServer:
    """A throwaway redis-server without persistence; ``kill``/``start`` keep the same port.
    ``binds``: its addresses (a partition test adds one on a veth link to another namespace)."""

    def __init__(self, binds: tuple[str, ...] = ("127.0.0.1",)) -> None:
        self.port = free_port()
        self.binds = binds
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (make system-deps)")
        self._proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                *self.binds,
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                # why: protected mode refuses every non-loopback client, even on an explicit bind
                "yes" if self.binds == ("127.0.0.1",) else "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), 2) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(64)


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (make system-deps)")
    return candidates[-1]


class PostgresServer:
    """A private PostgreSQL cluster in a temp dir (initdb once), tuned for speed, not durability."""

    def __init__(self) -> None:
        self.port = free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="lc-pg-"))
        self._proc: subprocess.Popen[bytes] | None = None
        # why: PostgreSQL refuses to run as root; tests run as root in CI
        self._user = "postgres" if os.geteuid() == 0 else None

    def init(self) -> None:
        if self._user:
            shutil.chown(self._dir, self._user)
        subprocess.run(
            [
                _pg_bin("initdb"),
                "-D",
                str(self._dir / "data"),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            user=self._user,
        )

    def start(self) -> None:
        if not (self._dir / "data").exists():
            self.init()
        self._proc = subprocess.Popen(
            [
                _pg_bin("postgres"),
                "-D",
                str(self._dir / "data"),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
                "-k",
                str(self._dir),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=self._user,
        )
        wait_for_port(self.port, 30)
        time.sleep(0.2)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def socket_url(self, database: str) -> str:
        """The URL through the server's Unix socket: reachable from any network namespace."""
        return f"postgresql://postgres@/{database}?host={self._dir}&port={self.port}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        subprocess.run(
            [_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
            check=True,
            capture_output=True,
        )
        return self.url(name)

    def kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self._dir, ignore_errors=True)
