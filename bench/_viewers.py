"""Benchmark helpers: a media server subprocess, CPU accounting, and cheap counting viewers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCSessionDescription

from livecommerce.broadcast.ice import IcePolicy, ScopedPeerConnection, create_peer_connection

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpus: str) -> list[str]:
    """The ``taskset`` prefix that pins a command to ``cpus`` (none if empty or unavailable)."""
    taskset = shutil.which("taskset")
    return [taskset, "-c", cpus] if cpus and taskset else []


def usable_cpus() -> int:
    """CPUs this process may run on (the bench pins server and viewers apart when there are 2+)."""
    return len(os.sched_getaffinity(0))


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def udp_rcvbuf_errors() -> int:
    """Kernel count of UDP datagrams dropped for a full receive buffer (namespace-wide)."""
    lines = Path("/proc/net/snmp").read_text().splitlines()
    udp = [line.split() for line in lines if line.startswith("Udp:")]
    header, values = udp[0], udp[1]
    return int(values[header.index("RcvbufErrors")])


@dataclass
class Server:
    pid: int
    port: int
    process: asyncio.subprocess.Process

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def media_server(args: Sequence[str], cpus: str = "") -> AsyncIterator[Server]:
    """Start ``bench._media_server`` with ``args`` (pinned to ``cpus`` if given, ``taskset -c``
    syntax) and wait for it to listen."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *pinned(cpus),
        sys.executable,
        "-m",
        "bench._media_server",
        "--port",
        str(port),
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        if not line.startswith("ready"):
            raise RuntimeError(f"media server did not start: {line!r}")
        yield Server(int(line.split()[1]), port, process)
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


RCVBUF = 2 << 20  # bytes per viewer socket (keyframe bursts overflow the default; see docs)
VERIFY_EVERY = 32  # one RTP packet in this many is SRTP-authenticated (unprotect) by the viewer


FRAME_STEP = 90_000 // 30  # RTP timestamp step of one frame of the bench's 30 fps show


@dataclass
class FrameCounter:
    """Counts complete video frames from the RTP headers of one viewer's SRTP packets.

    SRTP leaves the RTP header in clear: a frame is complete when its marker packet arrives and
    no sequence number was missing since the previous marker. A counting window also keeps the
    RTP timestamps of its first and last complete frames: the show's frames due between them are
    ``span // FRAME_STEP + 1`` whatever the window's edges, so delivery is exact (a frame the
    server never encoded or never sent counts as missed). One packet in ``VERIFY_EVERY`` is
    unprotected (authenticated and decrypted) so the counted stream is proven genuine SRTP.
    """

    unprotect: Callable[[bytes], bytes]
    frames: int = 0
    packets: int = 0
    verified: int = 0
    auth_failures: int = 0
    window_frames: int = 0
    window_first: int | None = None
    window_last: int = 0
    _next: int = -1
    _broken: bool = True  # the first frame may have started before the hook

    def start_window(self) -> None:
        self.window_frames, self.window_first = 0, None

    def window(self) -> tuple[int, int]:
        """(complete frames, frames the show was due to send) since ``start_window``."""
        if self.window_first is None:
            return 0, 0
        span = (self.window_last - self.window_first) & 0xFFFFFFFF
        return self.window_frames, span // FRAME_STEP + 1

    def datagram(self, data: bytes) -> None:
        second = data[1]
        if 192 <= second <= 208:  # RTCP (aiortc's is_rtcp), e.g. sender reports
            return
        self.packets += 1
        seq = (data[2] << 8) | data[3]
        if seq != self._next:
            self._broken = True
        self._next = (seq + 1) & 0xFFFF
        if second & 0x80:
            if not self._broken:
                self.frames += 1
                timestamp = int.from_bytes(data[4:8], "big")
                if self.window_first is None:
                    self.window_first = timestamp
                self.window_last = timestamp
                self.window_frames += 1
            self._broken = False
        if self.packets % VERIFY_EVERY == 0:
            try:
                self.unprotect(data)
                self.verified += 1
            except Exception:  # pylibsrtp raises its own Error on a bad tag or replay
                self.auth_failures += 1


@dataclass
class CountingViewer:
    """A receive-only WHEP viewer: a real aiortc peer (ICE, DTLS, SRTP) that counts, not decodes.

    aiortc does the ICE and DTLS handshakes; once connected, the nominated socket's datagrams go
    to a :class:`FrameCounter` instead of aiortc's SRTP + jitter buffer + depacketizer (which
    costs more per packet than the server's send, so 200+ of them would not fit on one core).
    STUN (consent checks) and DTLS still reach aioice and aiortc.
    """

    policy: IcePolicy
    pc: ScopedPeerConnection = field(init=False)
    counter: FrameCounter | None = None

    def __post_init__(self) -> None:
        self.pc = create_peer_connection(self.policy)
        self.pc.addTransceiver("video", direction="recvonly")

    @property
    def frames(self) -> int:
        return self.counter.frames if self.counter is not None else 0

    async def connect(self, http: aiohttp.ClientSession, url: str) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        async with http.post(
            url, data=self.pc.localDescription.sdp, headers={"Content-Type": "application/sdp"}
        ) as resp:
            if resp.status != 201:
                raise RuntimeError(f"WHEP {resp.status}: {await resp.text()}")
            answer = await resp.text()
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        for _ in range(300):
            if self.pc.connectionState == "connected":
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError(f"viewer not connected: {self.pc.connectionState}")
        self._hook()

    def _hook(self) -> None:
        """Send the nominated pair's non-STUN, non-DTLS datagrams to the counter."""
        dtls = self.pc.getTransceivers()[0].receiver.transport
        pair = dtls.transport._connection._nominated[1]
        protocol = pair.protocol
        counter = self.counter = FrameCounter(dtls._rx_srtp.unprotect)
        sock = protocol.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        original = protocol.datagram_received

        def datagram_received(data: bytes | str, addr: tuple[Any, ...]) -> None:
            if isinstance(data, bytes) and 127 < data[0] < 192:
                counter.datagram(data)
            else:
                original(data, addr)

        protocol.datagram_received = datagram_received  # type: ignore[method-assign]

    async def close(self) -> None:
        await self.pc.close()
