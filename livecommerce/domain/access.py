"""Who may do what: the one place where authorization is decided.

Routes and hub handlers never compare roles themselves; they call :func:`authorize` with the
acting :class:`Principal` and, for show-scoped actions, a :class:`ShowRef`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from livecommerce.errors import GuestEmailRequired, PermissionDenied, Unauthenticated


class Role(StrEnum):
    """An account's role; ``host`` is not here because it is granted per show by its seller."""

    VIEWER = "viewer"  # watches, chats, buys
    SELLER = "seller"  # owns a shop: products, shows, offers, orders
    ADMIN = "admin"  # runs the server: may act on every show


class Action(StrEnum):
    """Everything that needs permission; one name per capability."""

    WATCH = "watch"  # open a show, read chat
    CHAT = "chat"  # write chat, react, ask questions (needs an account or guest token)
    CHECKOUT = "checkout"  # buy (needs an account, or a guest who gave an e-mail)
    CREATE_SHOW = "create_show"
    CREATE_PRODUCT = "create_product"
    MANAGE_SHOW = "manage_show"  # edit the show, rotate its stream key, grant hosts
    PUBLISH = "publish"  # go live from the studio
    MANAGE_OFFERS = "manage_offers"  # pin, unpin, start and end the offers the seller prepared
    PREPARE_OFFERS = "prepare_offers"  # create offers: their price, cap and sale length
    ANSWER_QUESTIONS = "answer_questions"
    MODERATE = "moderate"  # delete, timeout, ban, slow mode, filters
    VIEW_SHOP_ORDERS = "view_shop_orders"  # a seller's order book, refunds, fulfilment
    ADMINISTER = "administer"
    FOLLOW = "follow"  # follow sellers, set reminders for shows, choose a handle (accounts only)


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, as resolved from a bearer token or a session cookie."""

    user_id: str
    name: str
    role: Role
    is_guest: bool = False
    #: Whether the account has an e-mail to reach the buyer at (full accounts always do; a
    #: guest only if they gave one): receipts and shipping questions need it, so guests buy
    #: only with one.
    has_email: bool = False


@dataclass(frozen=True, slots=True)
class ShowRef:
    """The part of a show that authorization needs: whose it is and who hosts it."""

    id: str
    seller_id: str
    host_ids: frozenset[str] = field(default_factory=frozenset)


#: Actions any signed-in principal (guests included) may take.
_EVERYONE = frozenset({Action.WATCH, Action.CHAT})
#: Actions the show's staff (its seller, its hosts, admins) may take.
_STAFF = frozenset({Action.MANAGE_OFFERS, Action.ANSWER_QUESTIONS, Action.MODERATE})
#: Actions only the show's owner (or an admin) may take.
#: Prices, caps and sale lengths are the seller's decision: a host runs the show with what the
#: seller prepared (a host once sold the seller's goods for 0 beyond stock).
_OWNER = frozenset({Action.MANAGE_SHOW, Action.PUBLISH, Action.PREPARE_OFFERS})


def is_staff(principal: Principal | None, show: ShowRef) -> bool:
    """Seller of the show, one of its hosts, or an admin."""
    if principal is None or principal.is_guest:
        return False
    return (
        principal.role is Role.ADMIN
        or principal.user_id == show.seller_id
        or principal.user_id in show.host_ids
    )


def badges(principal: Principal, show: ShowRef) -> list[str]:
    """Badges shown next to a name, computed here so a client can never claim one."""
    out: list[str] = []
    if principal.user_id == show.seller_id:
        out.append("seller")
    elif principal.user_id in show.host_ids:
        out.append("host")
    if principal.role is Role.ADMIN:
        out.append("admin")
    if principal.is_guest:
        out.append("guest")
    return out


def authorize(
    principal: Principal | None, action: Action, show: ShowRef | None = None
) -> Principal:
    """Return the principal if it may take ``action`` (on ``show``), else raise.

    Raises Unauthenticated when nobody is signed in and PermissionDenied when someone is but may
    not; show-scoped actions without a show are refused rather than guessed.
    """
    if action is Action.WATCH:
        if principal is None:
            raise Unauthenticated("sign in or get a guest token")
        return principal
    if principal is None:
        raise Unauthenticated("this needs a signed-in user")
    if action in _EVERYONE:
        return principal
    if action is Action.CHECKOUT:
        if principal.is_guest and not principal.has_email:
            raise GuestEmailRequired("guests need an e-mail to buy")
        return principal
    if principal.is_guest:
        raise PermissionDenied("guests cannot do this; create an account")
    if principal.role is Role.ADMIN or action is Action.FOLLOW:
        return principal
    if action in (Action.CREATE_SHOW, Action.CREATE_PRODUCT, Action.VIEW_SHOP_ORDERS):
        if principal.role is Role.SELLER:
            return principal
        raise PermissionDenied("only sellers can do this")
    if action is Action.ADMINISTER:
        raise PermissionDenied("only admins can do this")
    if show is None:
        raise PermissionDenied("this action needs a show")
    if action in _OWNER and principal.user_id == show.seller_id:
        return principal
    if action in _STAFF and is_staff(principal, show):
        return principal
    raise PermissionDenied("you are not staff of this show")
