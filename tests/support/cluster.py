"""A whole deployment on loopback: Debian's nginx in front of three `livecommerce serve` nodes,
a three-master Redis Cluster and PostgreSQL, every process running as the current user under
one state dir (`scripts/cluster up|down|status`; the node-kill test starts the same thing).

The nodes share what must be equal on every node of a fleet (deploy/README.md): the secret key
(one generated file, handed to each node as `LIVECOMMERCE_SERVER__SECRET_KEY`), the store and
Redis URLs, and the public URL (nginx's). Each has its own data dir, like separate machines,
except the media dir, which they share the way a real fleet shares a volume: a show's HLS
files are written by the node it is published to and readable by any. Node 1 seeds the demo
and broadcasts its test pattern; nginx sends WHIP/WHEP and HLS to it first (`lc_media`).

`up` records every process id in `<state>/cluster.json`; `down` stops them by those ids
(nodes, then nginx, Redis and PostgreSQL), so nothing outside the state dir is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.servers import PostgresServer, RedisClusterServer, free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf"
NGINX = "/usr/sbin/nginx"
DATABASE = "livecommerce"


def render_nginx(listen: str, nodes: list[int], media: int, state_dir: Path) -> str:
    """deploy/nginx.conf with its placeholders filled for nodes on loopback ports; `media`: the
    node that gets WHIP/WHEP and HLS first (the others back it up)."""
    servers = "\n        ".join(f"server 127.0.0.1:{port};" for port in nodes)
    media_servers = "\n        ".join(
        f"server 127.0.0.1:{port}{'' if port == media else ' backup'};" for port in nodes
    )
    return string.Template(NGINX_TEMPLATE.read_text()).safe_substitute(
        LC_LISTEN=listen,
        LC_NODES=servers,
        LC_MEDIA_NODES=media_servers,
        LC_STATE_DIR=str(state_dir),
    )


@dataclass
class LocalCluster:
    """The processes of one local cluster under `state`. `python`: the interpreter the nodes
    run on; `env`: extra settings for every node (LIVECOMMERCE_… variables)."""

    state: Path
    port: int = 8800
    nodes: int = 3
    demo: bool = True
    python: str = sys.executable
    env: dict[str, str] = field(default_factory=dict)
    store_url: str = ""
    redis_url: str = ""
    node_ports: list[int] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)
    node_procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    _postgres: PostgresServer | None = None
    _redis: RedisClusterServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def nginx_dir(self) -> Path:
        return self.state / "nginx"

    @property
    def access_log(self) -> Path:
        return self.nginx_dir / "logs" / "access.log"

    async def access_log_with(self, pattern: str, within: float = 5.0) -> str:
        """The access log once a line matches `pattern`: nginx writes a request's line only
        after its last byte went out, so a client that has read the response can be first."""
        deadline = time.monotonic() + within
        while True:
            log = self.access_log.read_text()
            if re.search(pattern, log) or time.monotonic() > deadline:
                return log
            await asyncio.sleep(0.1)

    def node_dir(self, index: int) -> Path:
        return self.state / f"node{index + 1}"

    def node_log(self, index: int) -> Path:
        return self.state / "logs" / f"node{index + 1}.log"

    # -- up --------------------------------------------------------------------------------------
    def up(self, within: float = 90.0) -> None:
        """Start PostgreSQL, the Redis Cluster, the nodes and nginx; wait until every node and
        nginx answer `/healthz`. A failure part way stops what started."""
        if not Path(NGINX).exists():
            raise RuntimeError(f"{NGINX} is missing: make system-deps installs Debian's nginx")
        for sub in ("logs", "media"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # why: as root, PostgreSQL runs as `postgres`, which must pass through to its data
            self.state.chmod(0o755)
        try:
            self._start_stores()
            self.node_ports = [free_port() for _ in range(self.nodes)]
            self._save()
            for index in range(self.nodes):
                self.start_node(index)
            deadline = time.monotonic() + within
            for index in range(self.nodes):
                self.wait_node(index, deadline - time.monotonic())
            self._start_nginx()
            self._save()
            _wait_http(self.url + "/healthz", deadline - time.monotonic())
        except BaseException:
            self.down()
            raise

    def _start_stores(self) -> None:
        postgres = self._postgres = PostgresServer(root=self.state / "postgres")
        postgres.start()
        assert postgres.pid is not None
        self.pids["postgres"] = postgres.pid
        self.store_url = postgres.create_database(DATABASE, exist_ok=True)
        # Redis keeps nothing here (no persistence): a fresh cluster each time, and the nodes
        # reload every pool from PostgreSQL (StockService.resync)
        shutil.rmtree(self.state / "redis", ignore_errors=True)
        redis = self._redis = RedisClusterServer(masters=3, root=self.state / "redis")
        redis.start()
        for i, pid in enumerate(redis.pids):
            self.pids[f"redis{i + 1}"] = pid
        self.redis_url = redis.url

    def _secret_key(self) -> str:
        path = self.state / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def node_env(self) -> dict[str, str]:
        """The settings every node gets alike (deploy/README.md lists why each must match)."""
        return {
            "LIVECOMMERCE_SERVER__SECRET_KEY": self._secret_key(),
            "LIVECOMMERCE_SERVER__PUBLIC_URL": self.url,
            # nginx is the peer of every request: per-address limits must see the client
            "LIVECOMMERCE_SERVER__TRUSTED_PROXIES": '["127.0.0.1"]',
            "LIVECOMMERCE_STORE__URL": self.store_url,
            "LIVECOMMERCE_REDIS__URL": self.redis_url,
            "LIVECOMMERCE_REDIS__CLUSTER": "true",
            "LIVECOMMERCE_BROADCAST__MEDIA_DIR": str(self.state / "media"),
            **self.env,
        }

    def start_node(self, index: int) -> None:
        """(Re)start node `index` on its port; returns once the process is spawned."""
        demo = self.demo and index == 0
        env = {**os.environ, **self.node_env()}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        with self.node_log(index).open("ab") as log:
            proc = subprocess.Popen(
                [
                    *(self.python, "-m", "livecommerce", "serve"),
                    *("--host", "127.0.0.1", "--port", str(self.node_ports[index])),
                    *("--data-dir", str(self.node_dir(index))),
                    "--demo" if demo else "--no-demo",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
        self.node_procs[index] = proc
        self.pids[f"node{index + 1}"] = proc.pid

    def wait_node(self, index: int, within: float) -> None:
        proc = self.node_procs.get(index)
        deadline = time.monotonic() + max(within, 1.0)
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                tail = self.node_log(index).read_text(errors="replace")[-2000:]
                raise RuntimeError(f"node{index + 1} exited at start-up:\n{tail}")
            with contextlib.suppress(OSError):
                _wait_http(f"http://127.0.0.1:{self.node_ports[index]}/healthz", 0.5)
                return
            time.sleep(0.2)
        raise TimeoutError(f"node{index + 1} not healthy within {within:.0f}s")

    def kill_node(self, index: int) -> None:
        """SIGKILL node `index` (a machine that died: no shutdown, no goodbye)."""
        proc = self.node_procs.pop(index)
        proc.kill()
        proc.wait()
        self.pids.pop(f"node{index + 1}", None)

    def _start_nginx(self) -> None:
        for sub in ("logs", "cache", "tmp"):
            (self.nginx_dir / sub).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # why: as root nginx's workers run as nobody; they write the cache and temp files
            for sub in ("cache", "tmp"):
                for path in [self.nginx_dir / sub, *(self.nginx_dir / sub).rglob("*")]:
                    shutil.chown(path, "nobody", "nogroup")
        conf = self.nginx_dir / "nginx.conf"
        conf.write_text(
            render_nginx(
                f"127.0.0.1:{self.port}", self.node_ports, self.node_ports[0], self.nginx_dir
            )
        )
        subprocess.run(
            [NGINX, "-p", str(self.nginx_dir), "-c", str(conf), "-e", "stderr"],
            check=True,
            capture_output=True,
            start_new_session=True,
        )
        pid_file = self.nginx_dir / "nginx.pid"
        deadline = time.monotonic() + 10
        while not pid_file.exists():
            if time.monotonic() > deadline:
                raise TimeoutError("nginx wrote no pid file")
            time.sleep(0.05)
        self.pids["nginx"] = int(pid_file.read_text())
        wait_for_port(self.port)

    def _save(self) -> None:
        (self.state / "cluster.json").write_text(
            json.dumps({"url": self.url, "nodes": self.node_ports, "pids": self.pids}, indent=2)
        )

    # -- down and status ---------------------------------------------------------------------------
    def down(self, within: float = 20.0) -> list[str]:
        """Stop every process this cluster recorded, nodes first; returns their names."""
        pids = dict(self.pids)
        saved = self.state / "cluster.json"
        if saved.exists():
            pids = {**json.loads(saved.read_text()).get("pids", {}), **pids}
        order = sorted(pids, key=lambda name: (not name.startswith("node"), name))
        stopped = []
        for name in order:
            # PostgreSQL's fast shutdown is SIGINT; nginx's graceful one SIGQUIT
            sig = {"postgres": signal.SIGINT, "nginx": signal.SIGQUIT}.get(name, signal.SIGTERM)
            if _signal(pids[name], sig):
                stopped.append(name)
        deadline = time.monotonic() + within
        for name in order:
            while _alive(pids[name]) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pids[name]):
                _signal(pids[name], signal.SIGKILL)
        for proc in self.node_procs.values():
            proc.wait()
        self.node_procs.clear()
        # the servers this process started: reap them (they have exited by now)
        if self._postgres is not None:
            self._postgres.kill()
        if self._redis is not None:
            self._redis.cleanup()
        self.pids.clear()
        saved.unlink(missing_ok=True)
        return stopped

    def status(self) -> dict[str, bool]:
        saved = self.state / "cluster.json"
        if not saved.exists():
            return {}
        pids: dict[str, int] = json.loads(saved.read_text()).get("pids", {})
        return {name: _alive(pid) for name, pid in sorted(pids.items())}


@contextlib.asynccontextmanager
async def local_cluster() -> AsyncIterator[LocalCluster]:
    """A cluster for one test, with the per-address limits lifted (every test client is
    127.0.0.1) and the nodes' ICE candidates on 127.0.0.2."""
    # why: not under pytest's tmp dir, which PostgreSQL (run as `postgres`) cannot enter
    state = Path(tempfile.mkdtemp(prefix="lc-cluster-"))
    cluster = LocalCluster(
        state,
        port=free_port(),
        python=sys.executable,
        env={
            "LIVECOMMERCE_AUTH__ATTEMPTS_PER_MINUTE": "1000",
            "LIVECOMMERCE_HUB__MAX_CONNECTIONS_PER_ADDRESS": "1000",
            "LIVECOMMERCE_LOG__LEVEL": "WARNING",
            "LIVECOMMERCE_BROADCAST__ICE__HOST_ADDRESSES": '["127.0.0.2"]',
        },
    )
    try:
        await asyncio.to_thread(cluster.up)
        yield cluster
    finally:
        await asyncio.to_thread(cluster.down)
        shutil.rmtree(state, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def _signal(pid: int, sig: signal.Signals) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def _wait_http(url: str, within: float) -> None:
    deadline = time.monotonic() + max(within, 0.5)
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 why: loopback URL we built
                if reply.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not healthy within {within:.0f}s")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/cluster", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--state", type=Path, default=ROOT / ".cluster", help="state dir")
    parser.add_argument("--port", type=int, default=8800, help="nginx's port (127.0.0.1)")
    args = parser.parse_args(argv)
    cluster = LocalCluster(args.state, port=args.port)
    if args.command == "down":
        stopped = cluster.down()
        print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
        return 0
    if args.command == "status":
        seen = cluster.status()
        if not seen:
            print("no cluster under", args.state)
            return 1
        for name, alive in seen.items():
            print(f"{name:10} {'running' if alive else 'stopped'}")
        return 0 if all(seen.values()) else 1
    if cluster.status():
        print("a cluster is running already (scripts/cluster down first)", file=sys.stderr)
        return 1
    cluster.up()
    from livecommerce.bootstrap.demo import demo_welcome

    print(f"LiveCommerce cluster on {cluster.url} (nginx -> nodes {cluster.node_ports})")
    print(f"  nginx log with cache hits: {cluster.access_log}")
    print(f"  node logs: {cluster.state / 'logs'}")
    print(demo_welcome(cluster.node_dir(0)))
    print("  stop it with: scripts/cluster down")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
