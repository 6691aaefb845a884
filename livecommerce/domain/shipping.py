"""Where an order goes and how it went: the shipping address rules and the fulfilment record.

An address is checked field by field so a client can point at the one that is wrong: every
refusal is `invalid_input` with `details: [{field, problem}, ...]` (the same shape the HTTP layer
gives for malformed bodies). Text follows the project's one text rule, chat's `normalize_text`
(NFC, trimmed, no control characters — newlines and tabs included — and no bidi controls, which
break labels or make one line read as another; joiners some scripts need stay), and then runs of
whitespace collapse to one space. `country` is
an ISO 3166-1 alpha-2 code from the generated table in `countries.py`. Postal codes are checked
for shape only (letters, digits, spaces and hyphens, at most 16 characters): no per-country
format library is installed, so a well-shaped but wrong code is not caught here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from livecommerce.domain.chat import normalize_text
from livecommerce.domain.countries import COUNTRIES
from livecommerce.errors import InvalidInput, TextEmpty, TextInvalidCharacters, TextTooLong

#: Field → (required, longest accepted length in characters).
ADDRESS_FIELDS: Mapping[str, tuple[bool, int]] = {
    "name": (True, 100),
    "line1": (True, 200),
    "line2": (False, 200),
    "city": (True, 100),
    "region": (False, 100),
    "postal_code": (True, 16),
    "country": (True, 2),
}
CARRIER_MAX = 60
TRACKING_MAX = 100

_POSTAL = re.compile(r"^[A-Z0-9](?:[A-Z0-9 -]*[A-Z0-9])?$")
_TRACKING = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9 ._/-]*[A-Za-z0-9])?$")


@dataclass(frozen=True, slots=True)
class ShippingAddress:
    """A postal address as the buyer typed it, normalised; optional parts are None when absent."""

    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str | None = None
    region: str | None = None

    def to_wire(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "line1": self.line1,
            "line2": self.line2,
            "city": self.city,
            "region": self.region,
            "postal_code": self.postal_code,
            "country": self.country,
        }


@dataclass(frozen=True, slots=True)
class Fulfilment:
    """How a paid order was handed over; carrier and tracking number are empty when not given."""

    carrier: str
    tracking_number: str
    fulfilled_at_ms: int

    def to_wire(self) -> dict[str, object]:
        return {
            "carrier": self.carrier or None,
            "tracking_number": self.tracking_number or None,
            "fulfilled_at": self.fulfilled_at_ms,
        }


def _clean_text(raw: str, longest: int) -> tuple[str, str | None]:
    """The text as stored ("" when blank), or the problem with it."""
    try:
        text = normalize_text(raw, max_length=longest)
    except TextEmpty:
        return "", None
    except TextTooLong:
        return "", f"must be at most {longest} characters"
    except TextInvalidCharacters:
        return "", "must not contain control or invisible formatting characters"
    return " ".join(text.split()), None


def _check_field(field: str, value: object) -> tuple[str | None, str | None]:
    """(normalised value or None when absent, problem or None)."""
    required, longest = ADDRESS_FIELDS[field]
    if value is None:
        return None, "is required" if required else None
    if not isinstance(value, str):
        return None, "must be a string"
    text, problem = _clean_text(value, longest)
    if problem:
        return None, problem
    if not text:
        return None, "must not be empty" if required else None
    if field == "country":
        code = text.upper()
        if code not in COUNTRIES:
            return None, "must be an ISO 3166-1 alpha-2 country code (like US, DE or JP)"
        return code, None
    if field == "postal_code":
        code = text.upper()
        if not _POSTAL.match(code):
            return None, "may only contain letters, digits, spaces and hyphens"
        return code, None
    return text, None


def parse_address(raw: Mapping[str, object], *, prefix: str = "") -> ShippingAddress:
    """A valid address from client input, or InvalidInput naming every bad field (with
    ``prefix`` before the field names, e.g. ``shipping_address.``)."""
    problems = [
        {"field": f"{prefix}{key}", "problem": "is not an address field"}
        for key in raw
        if key not in ADDRESS_FIELDS
    ]
    values: dict[str, str | None] = {}
    for field in ADDRESS_FIELDS:
        value, problem = _check_field(field, raw.get(field))
        if problem:
            problems.append({"field": f"{prefix}{field}", "problem": problem})
        values[field] = value
    if problems:
        first = problems[0]
        raise InvalidInput(f"{first['field']}: {first['problem']}", details=problems)
    return ShippingAddress(
        name=str(values["name"]),
        line1=str(values["line1"]),
        line2=values["line2"],
        city=str(values["city"]),
        region=values["region"],
        postal_code=str(values["postal_code"]),
        country=str(values["country"]),
    )


def make_fulfilment(carrier: str | None, tracking_number: str | None, at_ms: int) -> Fulfilment:
    """A fulfilment record from the seller's input: short single-line text; tracking numbers
    are letters and digits with the separators couriers print (space . _ / -)."""
    fields = {"carrier": (carrier, CARRIER_MAX), "tracking_number": (tracking_number, TRACKING_MAX)}
    out: dict[str, str] = {}
    for field, (value, longest) in fields.items():
        text, problem = _clean_text(value or "", longest)
        if not problem and field == "tracking_number" and text and not _TRACKING.match(text):
            problem = "may only contain letters, digits, spaces and . _ / -"
        if problem:
            raise InvalidInput(
                f"{field}: {problem}", details=[{"field": field, "problem": problem}]
            )
        out[field] = text
    return Fulfilment(out["carrier"], out["tracking_number"], at_ms)
