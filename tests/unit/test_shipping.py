"""Shipping address and fulfilment rules (domain/shipping.py) and the vendored country table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from livecommerce.domain.countries import COUNTRIES
from livecommerce.domain.shipping import ShippingAddress, make_fulfilment, parse_address
from livecommerce.errors import InvalidInput

GOOD = {
    "name": "  Ada   Lovelace ",
    "line1": "12 St James's Square",
    "line2": "",
    "city": "London",
    "region": None,
    "postal_code": "sw1y 4jh",
    "country": "gb",
}


def test_a_good_address_is_normalised() -> None:
    """Whitespace collapses, country and postal code are upper-cased, empty optionals are None."""
    assert ShippingAddress(
        name="Ada Lovelace",
        line1="12 St James's Square",
        city="London",
        postal_code="SW1Y 4JH",
        country="GB",
    ) == parse_address(GOOD)


def test_scripts_that_need_joiners_are_kept() -> None:
    """A zero-width non-joiner (Persian) and accented letters are ordinary text, NFC-composed."""
    address = parse_address({**GOOD, "name": "مهر\u200cناز", "city": "Zu\u0308rich"})
    assert ("مهر\u200cناز", "Zürich") == (address.name, address.city)


BAD = [
    ("name", "", "must not be empty"),
    ("name", "   ", "must not be empty"),
    ("name", None, "is required"),
    ("name", 7, "must be a string"),
    ("line1", "1 Main St\x00", "control"),
    ("line1", "x" * 201, "at most 200"),
    ("line2", "Flat 2\u202e", "control"),
    ("city", "Ber\nlin", "control"),
    ("city", "Berlin\u200e", "control"),
    ("region", "Bay\tArea", "control"),
    ("region", "r" * 101, "at most 100"),
    ("postal_code", "12#45", "letters, digits"),
    ("postal_code", "-1234", "letters, digits"),
    ("postal_code", "1" * 17, "at most 16"),
    ("country", "XX", "ISO 3166-1"),
    ("country", "UK", "ISO 3166-1"),
    ("country", "USA", "at most 2"),
    ("country", "", "must not be empty"),
]


@pytest.mark.parametrize(("field", "value", "problem"), BAD)
def test_each_bad_field_is_named(field: str, value: object, problem: str) -> None:
    """A bad field is refused with `invalid_input` whose details name that field."""
    with pytest.raises(InvalidInput) as caught:
        parse_address({**GOOD, field: value}, prefix="shipping_address.")
    details = caught.value.details
    assert [f"shipping_address.{field}"] == [d["field"] for d in details]
    assert problem in details[0]["problem"]
    assert caught.value.message.startswith(f"shipping_address.{field}: ")


def test_every_problem_is_reported_at_once() -> None:
    """Several bad fields and an unknown one are all listed, so a form can mark each."""
    with pytest.raises(InvalidInput) as caught:
        parse_address({"name": "A", "line1": "", "city": "C", "country": "ZZ", "phone": "1"})
    assert ["phone", "line1", "postal_code", "country"] == [
        d["field"] for d in caught.value.details
    ]


def test_fulfilment_input_is_bounded_single_line_text() -> None:
    """Carrier and tracking are trimmed; newlines, odd characters and long values are refused."""
    done = make_fulfilment("  DHL  Express ", " JD0146 0000 1234/5 ", 7)
    assert ("DHL Express", "JD0146 0000 1234/5", 7) == (
        done.carrier,
        done.tracking_number,
        done.fulfilled_at_ms,
    )
    assert {"carrier": None, "tracking_number": None, "fulfilled_at": 7} == make_fulfilment(
        None, "", 7
    ).to_wire()
    for carrier, tracking in [("UPS\x07", None), (None, "1Z<script>"), ("c" * 61, None),
                              (None, "9" * 101), (None, "12\u202e34")]:  # fmt: skip
        with pytest.raises(InvalidInput):
            make_fulfilment(carrier, tracking, 7)


def test_country_table_is_complete_iso_3166_alpha_2() -> None:
    """249 upper-case two-letter codes: the ones people use, not the ones they guess."""
    assert 249 == len(COUNTRIES)
    assert all(len(code) == 2 and code.isascii() and code.isupper() for code in COUNTRIES)
    assert {"US", "DE", "JP", "GB", "BR", "IN", "CI", "AX"} <= set(COUNTRIES)
    assert not {"UK", "EU", "XK"} & set(COUNTRIES)


def test_country_table_matches_the_installed_iso_codes() -> None:
    """The vendored table equals Debian's iso-codes list (regenerate with scripts/gen-iso-codes)."""
    source = Path("/usr/share/iso-codes/json/iso_3166-1.json")
    if not source.exists():
        pytest.skip("iso-codes is not installed")
    codes = {e["alpha_2"] for e in json.loads(source.read_text(encoding="utf-8"))["3166-1"]}
    assert codes == set(COUNTRIES)
