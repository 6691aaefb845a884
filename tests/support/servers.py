"""Real servers the tests start on free loopback ports, so fault tests can kill and restart them."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
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
    """A throwaway redis-server; ``kill`` (SIGKILL) / ``start`` keep the same port. Without
    persistence by default; with `appendfsync` ("everysec", "always", "no") it keeps an AOF in
    a temp dir that a restart loads back (``cleanup`` removes it). ``binds``: its addresses (a
    partition test adds one on a veth link to another namespace)."""

    def __init__(
        self, appendfsync: str | None = None, binds: tuple[str, ...] = ("127.0.0.1",)
    ) -> None:
        self.port = free_port()
        self.binds = binds
        self.appendfsync = appendfsync
        self._dir = Path(tempfile.mkdtemp(prefix="lc-redis-")) if appendfsync else None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (make system-deps)")
        persistence = ["--appendonly", "no"]
        if self.appendfsync and self._dir:
            persistence = ["--appendonly", "yes", "--appendfsync", self.appendfsync]
            persistence += ["--dir", str(self._dir)]
        self._proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                *self.binds,
                "--save",
                "",
                *persistence,
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

    def cleanup(self) -> None:
        self.kill()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), 2) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(64)


class RedisClusterServer:
    """A throwaway Redis Cluster of `masters` redis-servers (no replicas, no persistence) on
    free ports, its slots spread by ``redis-cli --cluster create``; ``root``: where the nodes
    keep their cluster config (a temp dir unless given, e.g. ``scripts/cluster``'s state dir).
    Its `url` names one node; a cluster client finds the others from it."""

    def __init__(self, masters: int = 3, root: Path | None = None) -> None:
        self.ports = [free_port() for _ in range(masters)]
        # why: the cluster bus defaults to port + 10000, which may be taken or past 65535
        self.bus_ports = [free_port() for _ in range(masters)]
        self._own_root = root is None
        self.root = root if root is not None else Path(tempfile.mkdtemp(prefix="lc-rcluster-"))
        self._procs: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self, timeout: float = 30.0) -> None:
        binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if binary is None or cli is None:
            raise RuntimeError("redis-server is not installed (make system-deps)")
        for port, bus_port in zip(self.ports, self.bus_ports, strict=True):
            node_dir = self.root / str(port)
            node_dir.mkdir(parents=True, exist_ok=True)
            self._procs.append(
                subprocess.Popen(
                    [
                        binary,
                        *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir)),
                        *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
                        *("--cluster-port", str(bus_port)),
                        *("--save", "", "--appendonly", "no", "--loglevel", "warning"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=not self._own_root,
                )
            )
        for port in self.ports:
            wait_for_port(port, timeout)
        subprocess.run(
            [
                *(cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports)),
                *("--cluster-replicas", "0", "--cluster-yes"),
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        deadline = time.monotonic() + timeout
        while not all(self._ok(cli, port) for port in self.ports):
            if time.monotonic() > deadline:
                raise TimeoutError(f"redis cluster on {self.ports} not ok after {timeout}s")
            time.sleep(0.1)

    @staticmethod
    def _ok(cli: str, port: int) -> bool:
        info = subprocess.run(
            [cli, "-p", str(port), "cluster", "info"], capture_output=True, text=True, timeout=5
        ).stdout
        return "cluster_state:ok" in info

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self._procs]

    def flush(self) -> None:
        for port in self.ports:
            with socket.create_connection(("127.0.0.1", port), 2) as sock:
                sock.sendall(b"FLUSHALL\r\n")
                sock.recv(64)

    def cleanup(self) -> None:
        for proc in self._procs:
            proc.kill()
            proc.wait()
        self._procs = []
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (make system-deps)")
    return candidates[-1]


class PostgresServer:
    """A private PostgreSQL cluster in a temp dir (initdb once), tuned for speed, not durability.
    ``root``: a lasting dir instead (``scripts/cluster``'s state dir keeps its data between
    runs; the server is then in its own session, so it outlives the script that started it)."""

    def __init__(self, root: Path | None = None) -> None:
        self.port = free_port()
        self._detached = root is not None
        self._dir = root if root is not None else Path(tempfile.mkdtemp(prefix="lc-pg-"))
        self._dir.mkdir(parents=True, exist_ok=True)
        self._proc: subprocess.Popen[bytes] | None = None
        # why: PostgreSQL refuses to run as root; tests run as root in CI
        self._user = "postgres" if os.geteuid() == 0 else None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

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
            start_new_session=self._detached,
        )
        wait_for_port(self.port, 30)
        time.sleep(0.2)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def socket_url(self, database: str) -> str:
        """The URL through the server's Unix socket: reachable from any network namespace."""
        return f"postgresql://postgres@/{database}?host={self._dir}&port={self.port}"

    def create_database(self, name: str, *, exist_ok: bool = False) -> str:
        """A new empty database (or, with `exist_ok`, the one of that name); returns its URL."""
        done = subprocess.run(
            [_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 and not (exist_ok and "already exists" in done.stderr):
            raise subprocess.CalledProcessError(done.returncode, done.args, stderr=done.stderr)
        return self.url(name)

    def kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self._dir, ignore_errors=True)


class AppServer:
    """`python -m livecommerce serve --config <file>` as a child process on a fixed port, so a
    test can let a fault point (livecommerce/faults.py) SIGKILL it and start it again. Its
    output goes to `log`. Everything is async: the test's own event loop may be serving the fake
    Stripe the child is talking to."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.config = config
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}"
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self, fault_point: str = "", within: float = 60.0) -> None:
        """Start it (with `fault_point` armed, if given) and wait until it accepts connections."""
        env = {k: v for k, v in os.environ.items() if k != "LIVECOMMERCE_FAULT_POINT"}
        if fault_point:
            env["LIVECOMMERCE_FAULT_POINT"] = fault_point
        with self.log.open("ab") as out:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "livecommerce", "serve", "--config", str(self.config)),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.config.parent,
            )
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self._proc.returncode is not None:
                raise RuntimeError(f"the server exited at start-up: {self.tail()}")
            with contextlib.suppress(OSError):
                _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"the server did not listen within {within}s: {self.tail()}")

    async def exited(self, within: float = 30.0) -> int:
        """Wait for the process to end on its own (a fault point); returns its exit code."""
        assert self._proc is not None
        code = await asyncio.wait_for(self._proc.wait(), within)
        self._proc = None
        return code

    async def stop(self) -> None:
        """SIGTERM (a clean shutdown), SIGKILL if it takes longer than 20 s."""
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            await self.exited(20)
        except TimeoutError:
            if self._proc is not None:
                self._proc.kill()
                await self.exited()

    def tail(self, chars: int = 3000) -> str:
        """The end of the server's output, for failure messages."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""
