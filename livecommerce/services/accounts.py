"""Sign-up, login, guest access, token resolution and the buyer's saved shipping address.

Tokens are random and stored only as SHA-256, so a leaked database holds no usable token;
passwords are argon2 hashes computed off the event loop.

Guests who give an e-mail may buy. That e-mail is a contact address, not a login: it is kept
apart from the unique login e-mails, so a guest typing someone else's address gets an account of
their own (its own id, its own orders) and never sees, claims or blocks the other account.
Upgrading a guest makes the same user a full viewer account (orders stay, they belong to the
id) with that e-mail as login; if a full account already has it, the upgrade is refused with
`conflict` and the guest signs in to that account instead (their guest orders stay with the guest).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from livecommerce.domain.access import Action, Principal, Role, authorize
from livecommerce.domain.accounts import check_password, normalize_email, normalize_name
from livecommerce.domain.names import check_display_name
from livecommerce.domain.shipping import ShippingAddress, parse_address
from livecommerce.errors import Conflict, GuestEmailRequired, PermissionDenied, Unauthenticated
from livecommerce.ids import hash_secret, new_id, new_secret
from livecommerce.services.ports import AccountStore, AddressStore, Clock, User
from livecommerce.settings import AuthSettings

TOKEN_PREFIX = "lct_"  # noqa: S105 why: a prefix, not a secret
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Issued:
    """A user and a freshly issued token (the only time the token exists in clear)."""

    user: User
    token: str


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
    ) -> None:
        self._store = store
        self._addresses = addresses
        self._reserved_names = reserved_names
        self._clock = clock
        self._settings = settings
        self._hasher = PasswordHasher()
        # why: login for an unknown e-mail still verifies a hash, so timing does not reveal accounts
        self._dummy_hash = self._hasher.hash(new_secret(16))

    async def _issue(self, user: User, kind: str, ttl_ms: int) -> str:
        token = TOKEN_PREFIX + new_secret(32)
        now = self._clock.now_ms()
        await self._store.add_token(hash_secret(token), user.id, kind, now, now + ttl_ms)
        return token

    async def signup(
        self, name: str, email: str, password: str, role: Role = Role.VIEWER
    ) -> Issued:
        if role is Role.ADMIN or (role is Role.SELLER and not self._settings.seller_signup):
            raise PermissionDenied(f"cannot sign up as {role}")
        check_password(password)
        name = self._public_name(name)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        user = User(
            id=new_id("usr"),
            name=name,
            email=normalize_email(email),
            role=role,
            is_guest=False,
            created_at=self._clock.now_ms(),
            password_hash=password_hash,
        )
        await self._store.add_user(user)
        return Issued(user, await self._issue(user, "api", self._settings.token_ttl_days * DAY_MS))

    def _public_name(self, raw: str) -> str:
        """Self-chosen names may not read like staff (seller, host, admin, the shop's name…),
        lookalike letters included; badges are the only way to show a role."""
        name = normalize_name(raw)
        check_display_name(name, self._reserved_names)
        return name

    async def create_user(self, name: str, email: str, password: str, role: Role) -> User:
        """Administrative creation (demo seeding, CLI) that may create any role."""
        check_password(password)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        user = User(
            new_id("usr"),
            normalize_name(name),
            normalize_email(email),
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
        return Issued(user, await self._issue(user, "api", self._settings.token_ttl_days * DAY_MS))

    async def start_session(self, user: User) -> str:
        """A token for the page cookie; shorter-lived than API tokens."""
        return await self._issue(user, "session", self._settings.session_ttl_days * DAY_MS)

    async def issue_api_token(self, user: User) -> str:
        return await self._issue(user, "api", self._settings.token_ttl_days * DAY_MS)

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
        ttl = self._settings.guest_ttl_hours * 3_600_000
        return Issued(user, await self._issue(user, "guest", ttl))

    async def upgrade(self, principal: Principal | None, password: str) -> User:
        """Turn the calling guest into a full viewer account: same id (so its orders stay), its
        guest e-mail becomes the login, with this password (the sign-up rules)."""
        caller = authorize(principal, Action.WATCH)
        user = await self._store.user_by_id(caller.user_id)
        if user is None or not user.is_guest:
            raise Conflict("this is already a full account")
        if user.guest_email is None:
            raise GuestEmailRequired("only a guest who gave an e-mail can become an account")
        check_password(password)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        upgraded = await self._store.upgrade_guest(user.id, user.guest_email, password_hash)
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
        user = await self._store.user_by_token(hash_secret(token), self._clock.now_ms())
        if user is None:
            raise Unauthenticated("invalid or expired token")
        return user

    async def logout(self, token: str) -> None:
        await self._store.delete_token(hash_secret(token))

    async def get_user(self, user_id: str) -> User | None:
        return await self._store.user_by_id(user_id)

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
