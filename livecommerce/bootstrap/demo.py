"""Demo mode: a seller, a host, products, a live show with two offers, so ``make run`` has
something to show, and the lines ``make run`` prints to say where to look.

Seeding is idempotent: while ``<data_dir>/demo.json`` still names a show whose tokens work, a
restart reuses it; otherwise a fresh set is created and the file rewritten. It runs at start-up
from the composition root (it writes a file, which services never do).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Any

from livecommerce.domain.access import Role
from livecommerce.domain.money import Money
from livecommerce.domain.offers import OfferKind
from livecommerce.domain.shows import ShowStatus
from livecommerce.errors import LiveCommerceError
from livecommerce.ids import new_secret
from livecommerce.services.accounts import AccountService, principal_of
from livecommerce.services.catalog import CatalogService, VariantSpec
from livecommerce.services.container import Services
from livecommerce.services.shows import ShowService

log = logging.getLogger(__name__)

DEMO_FILE = "demo.json"
#: Demo logins for the pages; public knowledge, like the rest of the demo data.
DEMO_PASSWORD = "spring-drop-on-air"  # noqa: S105 why: a documented public demo login
DEMO_ADDRESS: dict[str, object] = {
    "name": "Demo Viewer",
    "line1": "1 Example Street",
    "city": "Springfield",
    "region": "IL",
    "postal_code": "62701",
    "country": "US",
}

PRODUCTS: list[dict[str, Any]] = [
    {
        "name": "Studio mug",
        "price": 1800,
        "image": "mug.svg",
        "description": "Stoneware, 350 ml, dishwasher safe.",
        "variants": [("Rose", 40), ("Slate", 25)],
    },
    {
        "name": "Organic tee",
        "price": 2500,
        "image": "tee.svg",
        "description": "Heavyweight cotton, relaxed fit.",
        "variants": [("S", 20), ("M", 30), ("L", 30), ("XL", 10)],
    },
    {
        "name": "Trail sneaker",
        "price": 8900,
        "image": "sneaker.svg",
        "description": "Light, grippy, made for long days.",
        "variants": [("42", 8), ("43", 8), ("44", 6)],
    },
    {
        "name": "Desk lamp",
        "price": 4900,
        "image": "lamp.svg",
        "description": "Warm dimmable LED with a USB-C port.",
        "variants": [("default", 15)],
    },
]


def _read(path: Path) -> dict[str, Any] | None:
    with contextlib.suppress(ValueError, OSError):
        data = json.loads(path.read_text())
        if isinstance(data, dict):
            return data
    return None


def _write(path: Path, data: dict[str, Any]) -> None:
    """Owner-only: the file holds live tokens and the stream key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    path.chmod(0o600)


async def _still_valid(data: dict[str, Any], accounts: AccountService, shows: ShowService) -> bool:
    try:
        seller = await accounts.authenticate(str(data["seller_token"]))
        show = await shows.verify_stream_key(str(data["show_id"]), str(data["stream_key"]))
        await accounts.authenticate(str(data["host_token"]))
        await accounts.authenticate(str(data["viewer_token"]))
    except (KeyError, LiveCommerceError):
        return False
    return show.seller_id == seller.user_id and show.status is not ShowStatus.ENDED


async def seed_demo(
    data_dir: Path,
    base_url: str,
    accounts: AccountService,
    shows: ShowService,
    catalog: CatalogService,
) -> dict[str, Any]:
    """Create (or reuse) the demo and write demo.json; returns its content."""
    path = data_dir / DEMO_FILE
    existing = await asyncio.to_thread(_read, path)
    if existing is not None and await _still_valid(existing, accounts, shows):
        existing["base_url"] = base_url
        await asyncio.to_thread(_write, path, existing)
        return existing
    suffix = new_secret(4).lower().replace("-", "").replace("_", "")
    seller = await accounts.create_user(
        "Demo Seller", f"seller-{suffix}@demo.invalid", DEMO_PASSWORD, Role.SELLER
    )
    host = await accounts.create_user(
        "Demo Host", f"host-{suffix}@demo.invalid", DEMO_PASSWORD, Role.VIEWER
    )
    viewer = await accounts.create_user(
        "Demo Viewer", f"viewer-{suffix}@demo.invalid", DEMO_PASSWORD, Role.VIEWER
    )
    # the demo viewer buys in one tap: an address is saved (a made-up one, like the e-mails)
    await accounts.save_shipping_address(principal_of(viewer), DEMO_ADDRESS)
    seller_p = principal_of(seller)
    product_ids = []
    for spec in PRODUCTS:
        product = await catalog.create_product(
            seller_p,
            name=spec["name"],
            description=spec["description"],
            price=Money(spec["price"], "USD"),
            image_url=f"/static/demo/{spec['image']}",
            variants=[VariantSpec(label, stock) for label, stock in spec["variants"]],
        )
        product_ids.append(product.id)
    show, stream_key = await shows.create(
        seller_p, "Demo: spring drop, live", "A synthetic broadcast with real offers and chat."
    )
    await shows.grant_host(seller_p, show.id, host.id)
    await shows.move(show.id, ShowStatus.LIVE)
    data = {
        "base_url": base_url,
        "show_id": show.id,
        "stream_key": stream_key,
        "seller_token": await accounts.issue_api_token(seller),
        "host_token": await accounts.issue_api_token(host),
        "viewer_token": await accounts.issue_api_token(viewer),
        "seller_email": seller.email,
        "host_email": host.email,
        "viewer_email": viewer.email,
        "password": DEMO_PASSWORD,
        "product_ids": product_ids,
    }
    await asyncio.to_thread(_write, path, data)
    log.info("demo seeded", extra={"show_id": show.id, "file": str(path)})
    return data


async def seed_demo_offers(services: Services, data: dict[str, Any]) -> None:
    """Give the demo show something to buy: a fixed-price offer, pinned, and a flash sale with
    a per-buyer limit. Only when the show has no offers yet (so restarts add nothing)."""
    show_id = str(data["show_id"])
    product_ids = [str(p) for p in data.get("product_ids", [])]
    if not product_ids or await services.offers.list(show_id):
        return
    seller = await services.accounts.authenticate(str(data["seller_token"]))
    # the last product (the lamp) and the third (the sneaker): the first ones stay free for
    # the seller's own offers in the studio
    fixed = await services.offers.create(
        seller, show_id, product_id=product_ids[-1], kind=OfferKind.FIXED
    )
    await services.offers.start(seller, show_id, fixed.id)
    await services.offers.pin(seller, show_id, fixed.id)
    flash_product = await services.catalog.get(product_ids[min(2, len(product_ids) - 1)])
    flash = await services.offers.create(
        seller,
        show_id,
        product_id=flash_product.id,
        kind=OfferKind.FLASH,
        price_minor=flash_product.price_minor * 3 // 4,
        cap=10,
        per_buyer_limit=2,
        duration_ms=24 * 3_600_000,
    )
    await services.offers.start(seller, show_id, flash.id)


def demo_welcome(data_dir: Path) -> str:
    """What ``make run`` prints once the demo is up: the pages to open and who to log in as."""
    data = _read(data_dir / DEMO_FILE)
    if data is None:
        return "demo.json is missing or unreadable: no demo to show"
    base, show = str(data["base_url"]).rstrip("/"), data["show_id"]
    return "\n".join(
        [
            "",
            f"LiveCommerce demo is live at {base}/",
            f"  watch and buy (viewer):   {base}/shows/{show}",
            f"  go live (seller studio):  {base}/studio/{show}",
            f"  moderate (host console):  {base}/console/{show}",
            f"  seller dashboard:         {base}/dashboard",
            f"  log in at {base}/login, password {data.get('password', DEMO_PASSWORD)}:",
            f"    seller  {data.get('seller_email', '')}",
            f"    host    {data.get('host_email', '')}",
            f"    viewer  {data.get('viewer_email', '')}",
            f"  API tokens and the stream key: {data_dir / DEMO_FILE}",
            "",
        ]
    )
