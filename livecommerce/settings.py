"""Typed configuration: ``config.yaml`` < ``LIVECOMMERCE_<SECTION>__<KEY>`` environment < CLI flags.

Sections are frozen and forbid unknown keys, so a typo stops start-up with the key's name instead
of being ignored. Secrets are ``SecretStr`` so they never print in logs or reprs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    #: Where the SQLite store, uploads, demo.json and the generated secret key live.
    data_dir: Path = Path("data")
    #: The address clients use (behind a proxy, the proxy's); empty = http://host:port.
    public_url: str = ""
    #: The address the other nodes reach this node at (edge WebRTC pulls a show from its origin
    #: node here); empty = http://host:port, which is wrong when host is 0.0.0.0.
    internal_url: str = ""
    #: Signs CSRF tokens and keys stored token digests (a new key ends every session); empty =
    #: generated once and kept in ``<data_dir>/secret_key``.
    secret_key: SecretStr = SecretStr("")
    #: Proxies (addresses or networks, e.g. ``127.0.0.1`` for a local nginx) whose
    #: ``X-Forwarded-For`` names the client; empty = the peer address is the client. Behind a
    #: proxy every per-address limit (sign-in attempts, hub connections, WHIP/WHEP) would
    #: otherwise count the proxy as one client.
    trusted_proxies: list[str] = []
    #: Secure cookies; None = only when public_url is https.
    cookie_secure: bool | None = None
    #: Largest accepted request body for JSON endpoints (uploads have their own cap).
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    #: ``Strict-Transport-Security`` max-age on HTTPS responses; 0 = not sent. Turn it on once
    #: the site is served over HTTPS for good (browsers then refuse plain HTTP for that long).
    hsts_seconds: int = Field(0, ge=0, le=2 * 365 * 86400)
    #: ``livecommerce serve``'s event loop: uvloop roughly halves the hub's per-socket cost;
    #: ``auto`` = uvloop on Linux when it is installed, else asyncio's own.
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    #: Allocations between two young-generation collections of Python's cyclic collector
    #: (CPython's default is 700). A node holding thousands of sockets churns through short-lived
    #: objects; at 700 the frequent collections promote them into full collections that each
    #: scan every connection's objects and stalled chat 0.5-1.5 s at 5,000 viewers (measured,
    #: docs/BENCHMARKS.md). Cycles are still collected, only in larger steps.
    gc_threshold: int = Field(100_000, ge=100, le=10_000_000)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(f"{entry!r} is not an address or network") from exc
        return value

    @field_validator("public_url", "internal_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class StoreSettings(Section):
    #: ``sqlite:///path.db`` or ``postgresql://user@host:port/db``; empty = SQLite in data_dir.
    url: str = ""
    pool_size: int = Field(10, ge=1, le=200)

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if value and not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value


class RedisSettings(Section):
    #: ``redis://host:port/db``; empty = in-process adapters (one node only).
    url: str = ""
    #: The process's one pool: bus, rate limits, inventory, hub fan-out and presence share it.
    pool_size: int = Field(50, ge=1, le=1000)
    #: ``url`` names one node of a Redis Cluster (Redis >= 7: the hub's fan-out uses sharded
    #: pub/sub); the client finds the others and routes each key to its node.
    cluster: bool = False

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// URL")
        return value


class AuthSettings(Section):
    token_ttl_days: int = Field(30, ge=1)
    session_ttl_days: int = Field(14, ge=1)
    guest_ttl_hours: int = Field(24, ge=1)
    #: Whether anyone may sign up as a seller (a marketplace) or only admins create sellers.
    seller_signup: bool = True
    #: Sign-up, login and guest attempts per address per minute.
    attempts_per_minute: int = Field(20, ge=1)


class DemoSettings(Section):
    #: Seed a demo seller, host, products and a live show, and write <data_dir>/demo.json.
    enabled: bool = False


class LogSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


class IceServer(Section):
    urls: list[str]
    username: str = ""
    credential: SecretStr = SecretStr("")


class IceSettings(Section):
    #: STUN/TURN servers handed to every peer connection; empty = none (never a public default).
    servers: list[IceServer] = []
    #: Addresses to gather and announce ICE candidates on; empty = every interface.
    host_addresses: list[str] = []


class HlsRenditionSettings(Section):
    name: str = Field(pattern=r"^[a-z0-9_-]{1,32}$")
    #: Output height in pixels; 0 = pass the source video through without re-encoding.
    height: int = Field(0, ge=0, le=2160)
    bitrate: int = Field(0, ge=0)


class BroadcastSettings(Section):
    ice: IceSettings = IceSettings()
    #: Runtime HLS output and replays; a relative path is inside ``server.data_dir``, so two
    #: servers with their own data dirs never write into each other's folder.
    media_dir: Path = Path("media")
    #: WebRTC (WHEP) viewers per node; beyond it 503 + Retry-After and the page falls back to HLS.
    viewer_cap: int = Field(300, ge=1)
    #: Split each show's media into RTP payloads once for all WebRTC viewers (off: every viewer's
    #: sender packetizes on its own, the pre-issue-13 path the fan-out benchmark compares with).
    shared_packetization: bool = True
    #: A show paused (publisher gone) longer than this ends; a publisher back inside it resumes
    #: the same show.
    reconnect_grace_seconds: float = Field(300.0, ge=0)
    #: Edge WebRTC: a node with no viewer left of a show it pulls from another node keeps the
    #: pull this long (a reloading viewer gets its picture at once), then stops it.
    edge_linger_seconds: float = Field(10.0, ge=0)
    #: Edge WebRTC: life of a show's origin record in Redis; the origin refreshes it every third
    #: of it, so a dead origin is forgotten (and its edges re-pull from a new one) after this.
    origin_ttl_seconds: float = Field(10.0, ge=1, le=300)
    #: WHIP offers per minute per client address and per show (WHEP: 4x the address rate).
    whip_rate_per_minute: int = Field(30, ge=1)
    #: Synthetic source (demo show, tests, benchmarks).
    synthetic_width: int = Field(1280, ge=320, multiple_of=16)
    synthetic_height: int = Field(720, ge=176, multiple_of=16)
    synthetic_fps: int = Field(30, ge=1, le=60)
    synthetic_bitrate: int = Field(2_500_000, ge=100_000)
    #: HLS packager: one per live show, fMP4 segments with EXT-X-PROGRAM-DATE-TIME.
    hls_enabled: bool = True
    #: 1 s: plain HLS players (3 target durations behind the edge) stay ~4 s behind.
    hls_segment_seconds: float = Field(1.0, ge=0.5, le=10)
    #: LL-HLS: CMAF parts, blocking playlist reload, preload hints, delta updates, rendition
    #: reports. The part is rounded to whole frames dividing the segment (0.33 → 1/3 s).
    hls_low_latency: bool = True
    hls_part_seconds: float = Field(0.33, ge=0.1, le=1.0)
    hls_ladder: list[HlsRenditionSettings] = [
        HlsRenditionSettings(name="source"),
        HlsRenditionSettings(name="360p", height=360, bitrate=800_000),
    ]


class RateSetting(Section):
    """At most ``limit`` events per ``per_seconds`` (a burst of ``limit`` is allowed)."""

    limit: int = Field(ge=1)
    per_seconds: float = Field(gt=0)


class HubSettings(Section):
    #: Origins allowed to open Socket.IO connections besides the server's own.
    cors_allowed_origins: list[str] = []
    #: Largest Socket.IO frame (python-engineio's default is 1 MB; a chat line is < 2 KB).
    max_frame_bytes: int = Field(16 * 1024, ge=1024, le=1024 * 1024)
    #: Open Socket.IO connections per client address on one node.
    max_connections_per_address: int = Field(20, ge=1)
    #: Engine.IO heartbeat: a silently closed tab is dropped after interval + timeout.
    ping_interval: float = Field(10.0, gt=0)
    ping_timeout: float = Field(10.0, gt=0)
    #: Lines sent with ``show.join`` when no ``last_seq`` is given.
    history_lines: int = Field(50, ge=0, le=1000)
    #: Most lines replayed after ``last_seq`` in one join.
    replay_limit: int = Field(1000, ge=1, le=10000)
    #: Per-user chat limits in one show (default: 3 per 2 s and 20 per 30 s).
    chat_rates: list[RateSetting] = [
        RateSetting(limit=3, per_seconds=2),
        RateSetting(limit=20, per_seconds=30),
    ]
    reaction_rates: list[RateSetting] = [RateSetting(limit=30, per_seconds=2)]
    question_rates: list[RateSetting] = [
        RateSetting(limit=3, per_seconds=10),
        RateSetting(limit=10, per_seconds=300),
    ]
    #: Reactions are aggregated into one ``reaction.burst`` per show at most this often.
    reaction_interval_ms: int = Field(250, ge=50)
    #: Above this many lines per second in a show, chat is coalesced into ``chat.batch``.
    coalesce_above_per_second: float = Field(10.0, ge=0)
    #: ...or above this many deliveries per second (lines/s x viewers on this node).
    coalesce_above_deliveries_per_second: float = Field(2000.0, ge=0)
    #: The longest coalescing window, reached at ``coalesce_full_deliveries_per_second``; below
    #: it the window shrinks in proportion, and a quiet show's lines go out at once.
    coalesce_interval_ms: int = Field(100, ge=20, le=1000)
    #: Deliveries per second (lines/s x viewers on this node) at which the window is longest.
    coalesce_full_deliveries_per_second: float = Field(50_000.0, gt=0)
    #: A connection with this many chat packets, or bytes, waiting to be written is a slow
    #: reader: its backlog collapses to the latest ``slow_client_keep_lines`` lines (docs/HUB.md).
    slow_client_max_packets: int = Field(64, ge=1)
    slow_client_max_bytes: int = Field(256 * 1024, ge=1024)
    slow_client_keep_lines: int = Field(50, ge=1)
    #: permessage-deflate on the Socket.IO websocket: off, because it costs one zlib stream
    #: per connection (~0.3 MiB once used) and compresses every fanned-out packet per socket.
    websocket_compression: bool = False
    #: ``viewers.count`` is pushed at most this often, and only when it changed.
    viewers_push_seconds: float = Field(2.0, ge=0.1)
    #: Each node sends who it sees watching to the presence store this often (at most half
    #: of ``viewer_window_seconds``, or a held viewer would flicker out between two beats).
    presence_heartbeat_seconds: float = Field(5.0, ge=0.1)
    #: A person counts in ``watching_now`` this long after they were last seen (docs/METRICS.md).
    viewer_window_seconds: float = Field(30.0, ge=0.2)
    #: Display names refused to non-staff besides seller/host/admin/... (e.g. the shop's name).
    reserved_names: list[str] = []

    @model_validator(mode="after")
    def _beats_within_window(self) -> HubSettings:
        if self.presence_heartbeat_seconds * 2 > self.viewer_window_seconds:
            raise ValueError(
                "presence_heartbeat_seconds must be at most half viewer_window_seconds"
            )
        return self


class PaymentsSettings(Section):
    provider: Literal["demo", "stripe"] = "demo"
    stripe_secret_key: SecretStr = SecretStr("")
    stripe_publishable_key: str = ""
    stripe_webhook_secret: SecretStr = SecretStr("")
    #: Only for tests against the local Stripe-compatible server; empty = Stripe itself.
    stripe_api_base: str = ""
    #: Platform fee in basis points of each sale (1000 = 10 %).
    platform_fee_bps: int = Field(1000, ge=0, le=10000)


class ShopSettings(Section):
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    reservation_ttl_seconds: int = Field(600, ge=10)
    image_max_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    #: How often each node's expiry sweeper looks for reservations past their deadline.
    sweep_interval_seconds: float = Field(5.0, gt=0, le=3600)
    #: How often each node asks the payment provider for events it could not deliver (the
    #: reconcile). A safety net behind the provider's own retries, so slower than the sweeper:
    #: every pass is a paged provider API call per node.
    reconcile_interval_seconds: float = Field(60.0, gt=0, le=3600)
    #: Shortest gap between two `offer.updated` stock announcements of one offer (coalescing).
    stock_update_interval_seconds: float = Field(0.2, ge=0, le=60)
    #: The most requests one store call answers for the money path: the reservations, checkout
    #: rate checks, address reads and order and payment writes made in one event-loop tick
    #: share one Redis script or SQL statement (docs/SHOP.md, "Batching"). 1 = no batching.
    batch_max: int = Field(256, ge=1, le=1000)
    #: New checkouts per buyer (retries of one idempotency key are not counted): keeps one
    #: account from holding a whole offer's stock with unpaid reservations.
    checkout_rates: list[RateSetting] = [
        RateSetting(limit=5, per_seconds=10),
        RateSetting(limit=30, per_seconds=600),
    ]
    #: How long an auction's winner has to pay before the order expires (docs/AUCTIONS.md).
    auction_payment_seconds: int = Field(900, ge=10, le=7 * 24 * 3600)
    #: How often each node closes due auctions another node left behind (its own close on
    #: time with a timer; this is the recovery after a crash).
    auction_sweep_seconds: float = Field(1.0, gt=0, le=3600)
    #: Shortest gap between two `auction.updated` of one auction from one node (the latest
    #: state always goes out; every bidder's ack carries the state after their bid).
    auction_update_interval_seconds: float = Field(0.1, ge=0, le=10)
    #: How often each node closes due group buys another node left behind (its own close on
    #: time with a timer; this is the recovery after a crash) (docs/SOCIAL.md).
    group_sweep_seconds: float = Field(1.0, gt=0, le=3600)
    #: Shortest gap between two `group.updated` of one group buy from one node.
    group_update_interval_seconds: float = Field(0.1, ge=0, le=10)
    #: Bids per bidder (every auction together).
    bid_rates: list[RateSetting] = [RateSetting(limit=10, per_seconds=1)]
    #: Words refused in reviews and sellers' replies (matched like chat's banned words: case,
    #: spacing and look-alike letters folded); links are always refused (docs/TRUST.md).
    review_banned_words: list[str] = Field(default_factory=list, max_length=500)
    #: How often each node closes due giveaways and places the prize orders of drawn ones
    #: another node left behind (docs/GIVEAWAYS.md).
    giveaway_sweep_seconds: float = Field(1.0, gt=0, le=3600)
    #: Shortest gap between two `giveaway.updated` (entry counts) of one giveaway from one node.
    giveaway_update_interval_seconds: float = Field(0.5, ge=0, le=60)
    #: Giveaway entries per person (every giveaway together, repeats included).
    giveaway_enter_rates: list[RateSetting] = [RateSetting(limit=5, per_seconds=10)]
    #: Voucher drop claims per viewer (every drop together; docs/SOCIAL.md).
    claim_rates: list[RateSetting] = [RateSetting(limit=5, per_seconds=1)]


class WebhooksSettings(Section):
    """Outgoing webhooks to sellers' own systems (docs/AUDIENCE.md "Outgoing webhooks")."""

    #: Let targets be private, loopback or link-local addresses (tests, closed networks only:
    #: otherwise a seller could make the server reach inside its own network).
    allow_private_targets: bool = False
    #: The whole of one attempt: connect, send, answer headers and the excerpt read.
    timeout_seconds: float = Field(10.0, gt=0, le=60)
    #: The wait after the first failed attempt; each further failure doubles it, capped.
    retry_base_seconds: float = Field(30.0, gt=0)
    retry_max_seconds: float = Field(3600.0, gt=0)
    #: How long after the event a delivery is still retried before it is `failed`.
    give_up_after_seconds: float = Field(86400.0, gt=0)
    #: How often each node looks for due deliveries, and how many it takes per look.
    poll_interval_seconds: float = Field(1.0, gt=0)
    batch: int = Field(20, ge=1, le=500)
    #: Endpoints one seller may have.
    max_endpoints: int = Field(10, ge=1, le=100)
    #: Bytes of a receiver's answer kept in the delivery log.
    response_excerpt_bytes: int = Field(512, ge=0, le=4096)


class NotifySettings(Section):
    """Notifications (docs/AUDIENCE.md, "Notifications")."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    #: ``smtp://[user:password@]host:port`` (``smtps://`` for TLS, ``?starttls=1`` to upgrade);
    #: empty = no e-mail (those deliveries are skipped).
    smtp_url: SecretStr = SecretStr("")
    #: The From of notification e-mails, such as ``Shop <shop@example.com>``.
    from_: str = Field("LiveCommerce <notify@localhost>", alias="from")
    #: The VAPID ``sub`` claim push services contact the operator through (``mailto:`` or
    #: ``https:``); empty = ``mailto:`` + the address in ``from``.
    vapid_subject: str = ""
    #: Accept ``http://`` push endpoints on loopback addresses (tests only; browsers' push
    #: services are always https).
    allow_insecure_push_endpoints: bool = False
    #: How long a push service keeps a message for an offline browser.
    push_ttl_seconds: int = Field(3600, ge=0, le=28 * 86400)
    #: Run the outbox worker (fan-out and deliveries) on this node; nodes that only serve
    #: viewers may leave it to others (every node still writes to the outbox).
    worker: bool = True
    #: How often an idle worker looks for new outbox events and due deliveries.
    poll_seconds: float = Field(0.5, gt=0, le=60)
    #: A claimed event or delivery is another worker's to take after this long (a crashed
    #: worker's rows wait this long); longer than the slowest send.
    lease_seconds: float = Field(60.0, ge=0.5, le=3600)
    #: Recipients per fan-out transaction and deliveries per claimed batch.
    batch_size: int = Field(500, ge=1, le=2000)
    #: First retry after this long, doubling up to ``retry_max_seconds``.
    retry_base_seconds: float = Field(5.0, gt=0, le=3600)
    retry_max_seconds: float = Field(3600.0, gt=0, le=86400)
    #: Attempts before a delivery is given up.
    max_attempts: int = Field(8, ge=1, le=50)
    #: How often scheduled shows are checked for their 15-minutes-before reminder.
    reminder_sweep_seconds: float = Field(30.0, gt=0, le=3600)
    #: Seconds to wait for the SMTP server or a push service.
    send_timeout_seconds: float = Field(10.0, gt=0, le=120)

    @field_validator("smtp_url")
    @classmethod
    def _smtp(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if url and not url.startswith(("smtp://", "smtps://")):
            raise ValueError("must start with smtp:// or smtps://")
        return value


class Settings(BaseSettings):
    """The whole boot configuration; runtime choices (offers, chat rules) live in the store."""

    model_config = SettingsConfigDict(
        env_prefix="LIVECOMMERCE_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    redis: RedisSettings = RedisSettings()
    auth: AuthSettings = AuthSettings()
    demo: DemoSettings = DemoSettings()
    log: LogSettings = LogSettings()
    broadcast: BroadcastSettings = BroadcastSettings()
    hub: HubSettings = HubSettings()
    payments: PaymentsSettings = PaymentsSettings()
    shop: ShopSettings = ShopSettings()
    webhooks: WebhooksSettings = WebhooksSettings()
    notify: NotifySettings = NotifySettings()

    @property
    def base_url(self) -> str:
        return self.server.public_url or f"http://{self.server.host}:{self.server.port}"

    @property
    def node_url(self) -> str:
        """Where the other nodes reach this one (``server.internal_url``, else host:port)."""
        return self.server.internal_url or f"http://{self.server.host}:{self.server.port}"

    @property
    def media_dir(self) -> Path:
        """Where HLS segments and replays go (``broadcast.media_dir`` under the data dir)."""
        return self.server.data_dir / self.broadcast.media_dir

    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{self.server.data_dir / 'livecommerce.db'}"


class ConfigError(Exception):
    """A bad configuration value; its message is the one line printed before exiting."""


class _MappingSource(PydanticBaseSettingsSource):
    """Lowest-priority source: the parsed YAML file."""

    def __init__(self, settings_cls: type[BaseSettings], data: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = dict(data)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._data


def _read_yaml(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path}: not valid YAML ({exc})") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping of sections")
    return loaded


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "config"
        parts.append(f"{key}: {err['msg']}")
    return "invalid configuration: " + "; ".join(parts)


def load_settings(
    config_file: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build Settings from the file, the environment and explicit overrides (highest first).

    ``overrides`` is nested by section (``{"server": {"port": 9000}}``) and deep-merged.
    Raises ConfigError with one line naming every bad key.
    """
    data = _read_yaml(config_file)

    class _Loaded(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, _MappingSource(settings_cls, data))

    try:
        return _Loaded(**dict(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc
