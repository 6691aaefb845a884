"""Catalog CSV rules: prices as people write them, formula-safe cells, grouping rows by SKU."""

from __future__ import annotations

import pytest

from livecommerce.domain.catalog_csv import (
    KnownProduct,
    KnownVariant,
    export_rows,
    format_price,
    parse_price,
    plan_import,
    read_catalog_csv,
)
from livecommerce.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("12.50", "USD", 1250), ("12.5", "EUR", 1250), ("7", "USD", 700), ("1500", "JPY", 1500)],
)
def test_prices_are_exact(text: str, currency: str, minor: int) -> None:
    """Major units become minor units without floats, and back."""
    assert minor == parse_price(text, currency)
    assert parse_price(format_price(minor, currency), currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [("12.505", "USD"), ("1.5", "JPY"), ("0", "USD"), ("-3", "USD"), ("1,50", "EUR"), ("", "USD")],
)
def test_bad_prices_are_refused(text: str, currency: str) -> None:
    """Too many decimals, zero, signs and commas are refused with a message."""
    with pytest.raises(InvalidInput):
        parse_price(text, currency)


def test_formula_cells_round_trip() -> None:
    """A name a spreadsheet would run as a formula is exported quoted and imported back as it
    was."""
    text = export_rows(
        [
            {
                "id": "p1",
                "name": "=HYPERLINK(1)",
                "description": "",
                "option_name": "",
                "price_minor": 500,
                "currency": "USD",
                "requires_shipping": True,
                "archived": False,
                "variants": [{"sku": "-X", "label": "default", "price_minor": None, "stock": 1}],
            }
        ]
    )
    assert "'=HYPERLINK(1)" in text and ",'-X," in text
    rows, errors = read_catalog_csv(text, "USD")
    assert ([], "=HYPERLINK(1)", "-X") == (errors, rows[0].name, rows[0].sku)


def test_header_problems_stop_the_file() -> None:
    """Unknown and missing columns are reported on line 1 before any row is read."""
    _, errors = read_catalog_csv("sku,title,price\nA,B,1\n", "USD")
    assert [(1, "title"), (1, "name")] == [(e.line, e.column) for e in errors]


def test_plan_groups_rows_and_matches_skus() -> None:
    """Known SKUs update their product, new SKUs with the same name form one new product, and
    a product's rows must agree on shared columns."""
    text = (
        "sku,name,price,value,option\n"
        "OLD-1,Cap,10,Blue,Colour\n"
        "NEW-1,Bag,20,Small,Size\n"
        "NEW-2,Bag,25,Large,Size\n"
        "NEW-3,Belt,5,,Size\n"
        "NEW-4,Belt,5,Long,Length\n"
    )
    rows, errors = read_catalog_csv(text, "USD")
    assert [] == errors
    known = {"p1": KnownProduct("p1", "USD", {"Red": ("v1", "OLD-1")})}
    plan, problems = plan_import(rows, known, {"OLD-1": KnownVariant("p1", "v1")})
    assert [(6, "option")] == [(e.line, e.column) for e in problems]
    assert [("p1", ["v1"]), (None, [None, None])] == [
        (p.product_id, [v.variant_id for v in p.variants]) for p in plan.products
    ]
    bag = plan.products[1]
    assert (2000, [None, 2500]) == (bag.price_minor, [v.price_minor for v in bag.variants])
