"""A network namespace for one server node, so a test can partition it for real.

The namespace is held by a ``sleep`` started with ``unshare -n``; commands run in it through
``nsenter``. Two veth pairs join it to the test's own namespace: the *backend* link, over which
the node reaches Redis (and so every other node), and the *client* link, over which the test's
clients reach the node. ``cut()`` takes the backend link down (a partition: no route, packets to
and from the other side go nowhere, open TCP connections hang until it heals) while the node's
own clients stay connected; ``heal()`` brings it back.

The addresses are in 10.254.0.0/16 on links that exist only between these two namespaces, both
inside the loopback-only test namespace (scripts/loopback-ns): nothing can leave the machine.
Needs root (the tests run as root inside scripts/loopback-ns).
"""

from __future__ import annotations

import shutil
import subprocess


def _ip(*args: str, prefix: tuple[str, ...] = ()) -> None:
    subprocess.run([*prefix, "ip", *args], check=True, capture_output=True)


def available() -> bool:
    """Whether this process may make namespaces (root, ``unshare`` and ``ip`` present)."""
    if not (shutil.which("unshare") and shutil.which("nsenter") and shutil.which("ip")):
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


class NodeNamespace:
    """``backend_peer``: the test side of the backend link (bind Redis there);
    ``client_address``: the node's address on the client link (serve there)."""

    def __init__(self, subnet: int = 16) -> None:
        self.backend_peer = f"10.254.{subnet}.1"
        self.backend_address = f"10.254.{subnet}.2"
        self.client_peer = f"10.254.{subnet + 1}.1"
        self.client_address = f"10.254.{subnet + 1}.2"
        self._backend = f"lcbk{subnet}"
        self._client = f"lccl{subnet}"
        self._holder: subprocess.Popen[bytes] | None = None

    @property
    def enter(self) -> tuple[str, ...]:
        """The command prefix that runs a command inside the namespace."""
        assert self._holder is not None, "create() first"
        return ("nsenter", f"--net=/proc/{self._holder.pid}/ns/net")

    def create(self) -> None:
        self._holder = subprocess.Popen(["unshare", "-n", "sleep", "infinity"])
        pid = str(self._holder.pid)
        _ip("link", "set", "lo", "up", prefix=self.enter)
        for name, peer, address in (
            (self._backend, self.backend_peer, self.backend_address),
            (self._client, self.client_peer, self.client_address),
        ):
            _ip("link", "add", name, "type", "veth", "peer", "name", name + "n", "netns", pid)
            _ip("addr", "add", f"{peer}/30", "dev", name)
            _ip("link", "set", name, "up")
            _ip("addr", "add", f"{address}/30", "dev", name + "n", prefix=self.enter)
            _ip("link", "set", name + "n", "up", prefix=self.enter)

    def cut(self) -> None:
        _ip("link", "set", self._backend, "down")

    def heal(self) -> None:
        _ip("link", "set", self._backend, "up")

    def close(self) -> None:
        """Delete the links (the namespace's ends go with them) and end the namespace."""
        for name in (self._backend, self._client):
            subprocess.run(["ip", "link", "del", name], capture_output=True)
        if self._holder is not None:
            self._holder.kill()
            self._holder.wait()
            self._holder = None
