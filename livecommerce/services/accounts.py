"""Sign-up, login, guest access, token resolution, the caller's sessions and the buyer's saved
shipping address.

Tokens are random and stored only as HMAC-SHA256 under the server's secret key (``token_key``),
so a leaked database holds no usable token and a new key ends every session. Each token has a
public session id, so a user can list and end their sessions without ever seeing a token again.
Passwords follow ``domain/passwords.py`` on every path that sets one and are argon2 hashes
computed off the event loop.

Sign-up with an e-mail that already has an account cannot answer like a sign-up that worked
(the contract hands back a working token, see docs/SECURITY.md): it is refused with a
``conflict`` that names nothing, only after every other check and after the same password hash,
so its other refusals and its timing are the same whether or not the e-mail is taken.

Guests who give an e-mail may buy. That e-mail is a contact address, not a login: it is kept
apart from the unique login e-mails, so a guest typing someone else's address gets an account of
their own (its own id, its own orders) and never sees, claims or blocks the other account.
Upgrading a guest makes the same user a full viewer account (orders stay, they belong to the
id) with that e-mail as login; if a full account already has it, the upgrade is refused with
`conflict` and the guest signs in to that account instead (their guest orders stay with the guest).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from livecommerce.domain.access import Action, Principal, Role, authorize
from livecommerce.domain.accounts import normalize_email, normalize_name
from livecommerce.domain.audience import normalize_handle
from livecommerce.domain.names import check_display_name
from livecommerce.domain.passwords import check_password
from livecommerce.domain.shipping import ShippingAddress, parse_address
from livecommerce.errors import (
    Conflict,
    GuestEmailRequired,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from livecommerce.ids import keyed_digest, new_id, new_secret
from livecommerce.services.ports import AccountStore, AddressStore, Clock, User
from livecommerce.settings import AuthSettings

TOKEN_PREFIX = "lct_"  # noqa: S105 why: a prefix, not a secret
DAY_MS = 86_400_000
#: What a sign-up with a taken e-mail says: nothing about the account, a way forward for its owner.
TAKEN_EMAIL = "no account can be created with these details; if you already have one, sign in"


class SessionKind(StrEnum):
    """How a session was signed in (the ``kind`` of its token)."""

    SESSION = "session"  # a browser's sign-in cookie, from the login or sign-up form
    API = "api"  # a bearer token from the API's sign-up or login (or the demo)
    GUEST = "guest"  # a guest's short-lived token


@dataclass(frozen=True, slots=True)
class Issued:
    """A user and a freshly issued token (the only time the token exists in clear)."""

    user: User
    token: str


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One of the caller's sessions as they may see it: never the token or its digest."""

    id: str
    kind: SessionKind
    created_at: int
    expires_at: int
    last_seen_at: int | None
    #: The session this request came with.
    current: bool


def principal_of(user: User) -> Principal:
    return Principal(
        user_id=user.id,
        name=user.name,
        role=user.role,
        is_guest=user.is_guest,
        has_email=user.contact_email is not None,
    )


class AccountService:
    def __init__(
        self,
        store: AccountStore,
        clock: Clock,
        settings: AuthSettings,
        reserved_names: tuple[str, ...] = (),
        *,
        addresses: AddressStore,
        token_key: bytes,
    ) -> None:
        self._store = store
        self._token_key = token_key
        self._addresses = addresses
        self._reserved_names = reserved_names
        self._clock = clock
        self._settings = settings
        self._hasher = PasswordHasher()
        # why: login for an unknown e-mail still verifies a hash, so timing does not reveal accounts
        self._dummy_hash = self._hasher.hash(new_secret(16))

    def _digest(self, token: str) -> str:
        return keyed_digest(self._token_key, token)

    async def _issue(self, user: User, kind: SessionKind, ttl_ms: int) -> str:
        token = TOKEN_PREFIX + new_secret(32)
        now = self._clock.now_ms()
        await self._store.add_token(
            new_id("ses"), self._digest(token), user.id, kind.value, now, now + ttl_ms
        )
        return token

    async def signup(
        self,
        name: str,
        email: str,
        password: str,
        role: Role = Role.VIEWER,
        *,
        kind: SessionKind = SessionKind.API,
    ) -> Issued:
        """A new account, signed in with a token of ``kind`` (the sign-up form asks for a page
        session, so no API token is left behind that nobody holds)."""
        if role is Role.ADMIN or (role is Role.SELLER and not self._settings.seller_signup):
            raise PermissionDenied(f"cannot sign up as {role}")
        name = self._public_name(name)
        address = normalize_email(email)
        check_password(password, name=name, email=address)
        # why: hashed before the e-mail is known to be taken or free, so both cost the same
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        user = User(
            id=new_id("usr"),
            name=name,
            email=address,
            role=role,
            is_guest=False,
            created_at=self._clock.now_ms(),
            password_hash=password_hash,
        )
        try:
            await self._store.add_user(user)
        except Conflict as exc:
            raise Conflict(TAKEN_EMAIL) from exc
        return Issued(user, await self._issue(user, kind, self._ttl_ms(kind)))

    def _ttl_ms(self, kind: SessionKind) -> int:
        if kind is SessionKind.SESSION:
            return self._settings.session_ttl_days * DAY_MS
        if kind is SessionKind.GUEST:
            return self._settings.guest_ttl_hours * 3_600_000
        return self._settings.token_ttl_days * DAY_MS

    def _public_name(self, raw: str) -> str:
        """Self-chosen names may not read like staff (seller, host, admin, the shop's name…),
        lookalike letters included; badges are the only way to show a role."""
        name = normalize_name(raw)
        check_display_name(name, self._reserved_names)
        return name

    async def create_user(self, name: str, email: str, password: str, role: Role) -> User:
        """Administrative creation (demo seeding, CLI) that may create any role."""
        name = normalize_name(name)
        address = normalize_email(email)
        check_password(password, name=name, email=address)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        user = User(
            new_id("usr"),
            name,
            address,
            role,
            False,
            self._clock.now_ms(),
            password_hash,
        )
        await self._store.add_user(user)
        return user

    async def check_credentials(self, email: str, password: str) -> User:
        try:
            address = normalize_email(email)
        except Exception:
            address = ""
        user = await self._store.user_by_email(address) if address else None
        stored = user.password_hash if user and user.password_hash else self._dummy_hash
        try:
            await asyncio.to_thread(self._hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            user = None
        if user is None:
            raise Unauthenticated("wrong e-mail or password")
        return user

    async def login(self, email: str, password: str) -> Issued:
        user = await self.check_credentials(email, password)
        return Issued(user, await self._issue(user, SessionKind.API, self._ttl_ms(SessionKind.API)))

    async def start_session(self, user: User) -> str:
        """A token for the page cookie; shorter-lived than API tokens."""
        return await self._issue(user, SessionKind.SESSION, self._ttl_ms(SessionKind.SESSION))

    async def issue_api_token(self, user: User) -> str:
        return await self._issue(user, SessionKind.API, self._ttl_ms(SessionKind.API))

    async def guest(self, name: str, email: str | None = None) -> Issued:
        """A short-lived guest account; with an e-mail it may also buy (see the module notes)."""
        user = User(
            new_id("usr"),
            self._public_name(name),
            None,
            Role.VIEWER,
            True,
            self._clock.now_ms(),
            guest_email=None if email is None else normalize_email(email),
        )
        await self._store.add_user(user)
        return Issued(
            user, await self._issue(user, SessionKind.GUEST, self._ttl_ms(SessionKind.GUEST))
        )

    async def upgrade(self, principal: Principal | None, password: str) -> User:
        """Turn the calling guest into a full viewer account: same id (so its orders stay), its
        guest e-mail becomes the login, with this password (the sign-up rules)."""
        caller = authorize(principal, Action.WATCH)
        user = await self._store.user_by_id(caller.user_id)
        if user is None or not user.is_guest:
            raise Conflict("this is already a full account")
        if user.guest_email is None:
            raise GuestEmailRequired("only a guest who gave an e-mail can become an account")
        check_password(password, name=user.name, email=user.guest_email)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        try:
            upgraded = await self._store.upgrade_guest(user.id, user.guest_email, password_hash)
        except Conflict as exc:
            raise Conflict(TAKEN_EMAIL) from exc
        if upgraded is None:
            raise Conflict("this is already a full account")
        return upgraded

    async def authenticate(self, token: str) -> Principal:
        """The principal behind a bearer or session token; Unauthenticated if unknown or expired."""
        user = await self.user_for_token(token)
        return principal_of(user)

    async def user_for_token(self, token: str) -> User:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            raise Unauthenticated("invalid token")
        user = await self._store.user_by_token(self._digest(token), self._clock.now_ms())
        if user is None:
            raise Unauthenticated("invalid or expired token")
        return user

    async def logout(self, token: str) -> None:
        await self._store.delete_token(self._digest(token))

    # -- sessions --------------------------------------------------------------------------------
    async def sessions(self, principal: Principal | None, current_token: str) -> list[SessionInfo]:
        """The caller's unexpired sessions, newest first, the one of this request marked."""
        caller = authorize(principal, Action.WATCH)
        current = self._digest(current_token)
        return [
            SessionInfo(
                id=record.id,
                kind=SessionKind(record.kind),
                created_at=record.created_at,
                expires_at=record.expires_at,
                last_seen_at=record.last_seen_at,
                current=hmac.compare_digest(record.token_digest, current),
            )
            for record in await self._store.sessions_of(caller.user_id, self._clock.now_ms())
        ]

    async def end_session(
        self, principal: Principal | None, session_id: str, current_token: str
    ) -> bool:
        """End one of the caller's sessions (another user's id is as unknown as a made-up one);
        True when it was the session of this request."""
        caller = authorize(principal, Action.WATCH)
        now = self._clock.now_ms()
        target = next(
            (s for s in await self._store.sessions_of(caller.user_id, now) if s.id == session_id),
            None,
        )
        if target is None or not await self._store.delete_session(caller.user_id, session_id):
            raise NotFound("no such session")
        return hmac.compare_digest(target.token_digest, self._digest(current_token))

    async def end_sessions(
        self, principal: Principal | None, current_token: str, *, include_current: bool
    ) -> int:
        """End every session of the caller but this one (or this one too); how many ended."""
        caller = authorize(principal, Action.WATCH)
        keep = None if include_current else self._digest(current_token)
        return await self._store.delete_sessions(caller.user_id, keep)

    async def get_user(self, user_id: str) -> User | None:
        return await self._store.user_by_id(user_id)

    # -- handle ----------------------------------------------------------------------------------
    async def change_handle(self, principal: Principal | None, raw: str) -> User:
        """Set the caller's handle (accounts only). Lower-cased before the checks, so handles
        differing only in case collide: ``handle_invalid``, ``reserved_name`` (a handle reads
        like a name on the storefront's address) or ``handle_taken``."""
        caller = authorize(principal, Action.FOLLOW)
        handle = normalize_handle(raw)
        check_display_name(handle.replace("_", " "), self._reserved_names)
        await self._store.set_handle(caller.user_id, handle, self._clock.now_ms())
        user = await self._store.user_by_id(caller.user_id)
        if user is None:
            raise NotFound("no such account")
        return user

    async def fill_handles(self) -> int:
        """Handles for sellers that have none (made before handles existed); run at start-up."""
        return await self._store.fill_handles()

    # -- shipping address ------------------------------------------------------------------------
    async def shipping_address(self, user_id: str) -> ShippingAddress | None:
        return await self._addresses.address_of(user_id)

    async def save_shipping_address(
        self, principal: Principal | None, fields: Mapping[str, object]
    ) -> ShippingAddress:
        """Validate and save the caller's address (replacing the saved one; orders already
        placed keep the address they were bought with)."""
        caller = authorize(principal, Action.WATCH)
        address = parse_address(fields)
        await self._addresses.save_address(caller.user_id, address, self._clock.now_ms())
        return address
