"""The catalog as a spreadsheet: the CSV columns sellers import and export, how a row is read
and checked, and how rows become a plan of products and variants to create or update.

One row is one variant. Its ``sku`` is the key: importing a file whose SKUs already exist in the
seller's catalog updates those variants (and their products) instead of adding new ones, so
importing the same file twice changes nothing the second time. Rows whose SKU is new join the
product named by ``product_id`` or, without one, the product created by an earlier row with the
same ``name``. Prices are written as people write them (``12.50``), never as minor units: a
spreadsheet is edited by hand. Every problem is reported with its line number (the header is
line 1) and nothing is written while any row has one.

Pure: the caller loads the seller's catalog and applies the plan.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from livecommerce.domain.money import ZERO_DECIMAL
from livecommerce.errors import InvalidInput

#: Columns in export order. ``sku``, ``name`` and ``price`` are required on import.
CSV_COLUMNS = (
    "product_id",
    "sku",
    "name",
    "description",
    "option",
    "value",
    "price",
    "currency",
    "stock",
    "requires_shipping",
    "archived",
)
REQUIRED_COLUMNS = ("sku", "name", "price")
#: Required cells (``sku`` may be empty on a row that has a ``product_id``).
REQUIRED_CELLS = ("name", "price")
MAX_ROWS = 5000
SKU_MAX = 64
NAME_MAX = 120
DESCRIPTION_MAX = 4000
OPTION_MAX = 40
LABEL_MAX = 60
PRICE_MAX = 100_000_000
STOCK_MAX = 1_000_000
#: A variant without an option value is the product's only variant.
DEFAULT_LABEL = "default"

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_AMOUNT = re.compile(r"^\d{1,9}(?:\.\d+)?$")
_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n"}
#: A spreadsheet runs a cell starting with these as a formula; exports quote them with "'".
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def currency_digits(currency: str) -> int:
    return 0 if currency in ZERO_DECIMAL else 2


def parse_price(text: str, currency: str) -> int:
    """``"12.50"`` → 1250 minor units (exact: no float); more decimals than the currency has,
    signs, separators and zero are refused."""
    raw = text.strip()
    digits = currency_digits(currency)
    if not _AMOUNT.match(raw):
        raise InvalidInput("write the price like 12.50 (digits and one dot)")
    try:
        amount = Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already guards it
        raise InvalidInput("write the price like 12.50") from exc
    minor = amount.scaleb(digits)
    if minor != minor.to_integral_value():
        raise InvalidInput(f"{currency} prices have {digits} decimals at most")
    value = int(minor)
    if not 0 < value <= PRICE_MAX:
        raise InvalidInput("the price must be more than zero and at most 1,000,000")
    return value


def format_price(minor: int, currency: str) -> str:
    """Minor units as a spreadsheet shows them: ``1250`` → ``"12.50"``."""
    digits = currency_digits(currency)
    if digits == 0:
        return str(minor)
    whole, cents = divmod(minor, 10**digits)
    return f"{whole}.{cents:0{digits}d}"


def check_sku(raw: str) -> str:
    """A SKU is 1..64 visible characters (inner spaces allowed), compared exactly."""
    sku = unicodedata.normalize("NFC", raw).strip()
    if not 1 <= len(sku) <= SKU_MAX:
        raise InvalidInput(f"a SKU has 1 to {SKU_MAX} characters")
    if any(unicodedata.category(ch)[0] == "C" for ch in sku):
        raise InvalidInput("a SKU cannot contain control characters")
    return sku


def csv_text(value: str) -> str:
    """A cell for export: text a spreadsheet would run as a formula is quoted with "'"."""
    return "'" + value if value.startswith(_FORMULA) else value


def _unquote(value: str) -> str:
    """The reverse of ``csv_text``, so an exported file imports back unchanged."""
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA) else value


@dataclass(frozen=True, slots=True)
class RowError:
    """A problem in one line of the file (line 1 is the header)."""

    line: int
    column: str | None
    message: str

    def to_wire(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "message": self.message}


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One checked line; ``None`` means the column is absent or the cell empty (keep as is)."""

    line: int
    #: None only with a ``product_id``: the row names its variant by ``value`` instead.
    sku: str | None
    name: str
    price_minor: int
    currency: str
    product_id: str | None = None
    description: str | None = None
    option: str | None = None
    value: str | None = None
    stock: int | None = None
    requires_shipping: bool | None = None
    archived: bool | None = None


def _bool(text: str) -> bool:
    folded = text.strip().casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise InvalidInput("write true or false")


def _text(cell: str, column: str, low: int, high: int) -> str:
    value = unicodedata.normalize("NFC", cell).strip()
    if not low <= len(value) <= high:
        raise InvalidInput(f"{column} has {low} to {high} characters")
    return value


def _int(cell: str, high: int) -> int:
    raw = cell.strip()
    if not raw.isdigit() or not 0 <= int(raw) <= high:
        raise InvalidInput(f"write a whole number from 0 to {high}")
    return int(raw)


def read_catalog_csv(
    text: str, default_currency: str, max_rows: int = MAX_ROWS
) -> tuple[list[CsvRow], list[RowError]]:
    """Checked rows and the problems found, line by line (the file is read whole)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = [h.strip().casefold() for h in next(reader)]
    except StopIteration:
        return [], [RowError(1, None, "the file is empty: the first line names the columns")]
    except csv.Error as exc:
        return [], [RowError(1, None, f"not a CSV file ({exc})")]
    errors = [
        RowError(1, name, f"unknown column {name!r}; the columns are {', '.join(CSV_COLUMNS)}")
        for name in header
        if name not in CSV_COLUMNS
    ]
    errors += [
        RowError(1, name, f"the column {name!r} is missing")
        for name in REQUIRED_COLUMNS
        if name not in header
    ]
    if len(set(header)) != len(header):
        errors.append(RowError(1, None, "a column appears twice"))
    if errors:
        return [], errors
    rows: list[CsvRow] = []
    seen: dict[str, int] = {}
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(rows) + len(errors) >= max_rows:
                errors.append(RowError(line, None, f"at most {max_rows} rows per file"))
                break
            if len(cells) > len(header):
                errors.append(RowError(line, None, "more cells than columns"))
                continue
            values = {name: _unquote(cell) for name, cell in zip(header, cells, strict=False)}
            sku = unicodedata.normalize("NFC", values.get("sku", "")).strip()
            if sku and sku in seen:
                errors.append(RowError(line, "sku", f"SKU {sku!r} is also on line {seen[sku]}"))
                continue
            seen.setdefault(sku, line)
            row = _row(line, values, default_currency, errors)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, None, f"the file cannot be read here ({exc})"))
    return rows, errors


def _row(
    line: int, values: Mapping[str, str], default_currency: str, errors: list[RowError]
) -> CsvRow | None:
    """One line checked cell by cell; every bad cell is reported, not only the first."""
    found: dict[str, Any] = {}
    before = len(errors)

    def cell(column: str, read: Any) -> None:
        raw = values.get(column, "")
        if not raw.strip():
            if column in REQUIRED_CELLS or (column == "sku" and not values.get("product_id")):
                errors.append(RowError(line, column, f"{column} is required"))
            return
        try:
            found[column] = read(raw)
        except InvalidInput as exc:
            errors.append(RowError(line, column, exc.message))

    currency = values.get("currency", "").strip().upper() or default_currency
    if not _CURRENCY.match(currency):
        errors.append(RowError(line, "currency", "write a three-letter ISO 4217 code like EUR"))
        currency = default_currency
    cell("sku", check_sku)
    cell("name", lambda v: _text(v, "name", 1, NAME_MAX))
    cell("price", lambda v: parse_price(v, currency))
    cell("product_id", lambda v: _text(v, "product_id", 1, 100))
    cell("description", lambda v: _text(v, "description", 0, DESCRIPTION_MAX))
    cell("option", lambda v: _text(v, "option", 1, OPTION_MAX))
    cell("value", lambda v: _text(v, "value", 1, LABEL_MAX))
    cell("stock", lambda v: _int(v, STOCK_MAX))
    cell("requires_shipping", _bool)
    cell("archived", _bool)
    if len(errors) > before:
        return None
    return CsvRow(
        line=line,
        sku=found.get("sku"),
        name=found["name"],
        price_minor=found["price"],
        currency=currency,
        product_id=found.get("product_id"),
        description=found.get("description"),
        option=found.get("option"),
        value=found.get("value"),
        stock=found.get("stock"),
        requires_shipping=found.get("requires_shipping"),
        archived=found.get("archived"),
    )


# --- from rows to a plan ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KnownProduct:
    """What the planner must know of a product the seller already has."""

    id: str
    currency: str
    #: variant label → (variant id, its SKU or None)
    labels: Mapping[str, tuple[str, str | None]]


@dataclass(frozen=True, slots=True)
class KnownVariant:
    product_id: str
    variant_id: str


@dataclass(frozen=True, slots=True)
class VariantPlan:
    line: int
    #: None: keep the variant's SKU (a row that named its variant by value).
    sku: str | None
    label: str
    #: None when it is the product's price (the first row's).
    price_minor: int | None
    stock: int | None
    #: None: a new variant.
    variant_id: str | None = None


@dataclass(frozen=True, slots=True)
class ProductPlan:
    """One product to create (``product_id`` None) or update, from its rows in file order."""

    product_id: str | None
    name: str
    price_minor: int
    currency: str
    description: str | None
    option: str | None
    requires_shipping: bool | None
    archived: bool | None
    variants: tuple[VariantPlan, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class ImportPlan:
    products: tuple[ProductPlan, ...]

    def counts(self) -> dict[str, dict[str, int]]:
        """How many products and variants the plan creates and updates (the import report)."""
        variants = [v for p in self.products for v in p.variants]
        return {
            "products": {
                "create": sum(p.product_id is None for p in self.products),
                "update": sum(p.product_id is not None for p in self.products),
            },
            "variants": {
                "create": sum(v.variant_id is None for v in variants),
                "update": sum(v.variant_id is not None for v in variants),
            },
        }


_SHARED = ("name", "description", "option", "currency", "requires_shipping", "archived")


def plan_import(
    rows: Iterable[CsvRow],
    products: Mapping[str, KnownProduct],
    skus: Mapping[str, KnownVariant],
) -> tuple[ImportPlan, list[RowError]]:
    """Group rows into products: a known SKU updates its variant's product; a new SKU joins the
    row's ``product_id`` or the new product of an earlier row with the same name; a row with a
    ``product_id`` and no SKU updates that product's variant with its ``value``. The rows of one
    product must agree on name, description, option, currency, requires_shipping and archived."""
    groups: dict[tuple[str, str], list[CsvRow]] = {}
    errors: list[RowError] = []
    for row in rows:
        known = skus.get(row.sku) if row.sku else None
        if known is not None:
            if row.product_id is not None and row.product_id != known.product_id:
                errors.append(
                    RowError(row.line, "product_id", "this SKU belongs to another product")
                )
                continue
            key = ("id", known.product_id)
        elif row.product_id is not None:
            if row.product_id not in products:
                errors.append(RowError(row.line, "product_id", "no product of yours has this id"))
                continue
            key = ("id", row.product_id)
        else:
            key = ("new", row.name)
        groups.setdefault(key, []).append(row)
    plans: list[ProductPlan] = []
    for (kind, ref), group in groups.items():
        plan = _product_plan(ref if kind == "id" else None, group, products, skus, errors)
        if plan is not None:
            plans.append(plan)
    return ImportPlan(tuple(plans)), errors


def _product_plan(
    product_id: str | None,
    group: list[CsvRow],
    products: Mapping[str, KnownProduct],
    skus: Mapping[str, KnownVariant],
    errors: list[RowError],
) -> ProductPlan | None:
    first = group[0]
    before = len(errors)
    for row in group[1:]:
        for column in _SHARED:
            mine, theirs = getattr(row, column), getattr(first, column)
            if mine is not None and theirs is not None and mine != theirs:
                errors.append(
                    RowError(
                        row.line, column, f"the rows of one product must agree on {column} "
                        f"(line {first.line} says {theirs!r})",
                    )
                )  # fmt: skip
    known = products.get(product_id) if product_id else None
    if known is not None and first.currency != known.currency:
        errors.append(
            RowError(first.line, "currency", f"this product is priced in {known.currency}")
        )
    labels = known.labels if known else {}
    used: dict[str, int] = {}
    variants: list[VariantPlan] = []
    for row in group:
        label = row.value or DEFAULT_LABEL
        if label in used:
            errors.append(RowError(row.line, "value", f"line {used[label]} is also {label!r}"))
            continue
        used[label] = row.line
        existing = skus.get(row.sku) if row.sku else None
        variant_id = existing.variant_id if existing else None
        holder = labels.get(label)
        if row.sku is None:
            if holder is None:
                errors.append(RowError(row.line, "sku", f"a new variant ({label!r}) needs a SKU"))
                continue
            variant_id = holder[0]
        elif holder is not None and holder[0] != variant_id:
            if existing is None and holder[1] is None:
                variant_id = holder[0]  # a variant made without a SKU gets this one
            else:
                errors.append(RowError(row.line, "value", f"the product already has {label!r}"))
                continue
        variants.append(
            VariantPlan(
                line=row.line,
                sku=row.sku,
                label=label,
                price_minor=None if row.price_minor == first.price_minor else row.price_minor,
                stock=row.stock,
                variant_id=variant_id,
            )
        )
    if len(errors) > before:
        return None

    def shared(column: str) -> Any:
        return next((getattr(r, column) for r in group if getattr(r, column) is not None), None)

    return ProductPlan(
        product_id=product_id,
        name=first.name,
        price_minor=first.price_minor,
        currency=first.currency,
        description=shared("description"),
        option=shared("option"),
        requires_shipping=shared("requires_shipping"),
        archived=shared("archived"),
        variants=tuple(variants),
    )


def export_rows(products: Iterable[Mapping[str, Any]]) -> str:
    """The CSV text of products given as plain mappings (id, name, description, option_name,
    price_minor, currency, requires_shipping, archived, variants: [{sku, label, price_minor,
    stock}])."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for p in products:
        for v in p["variants"]:
            price = v["price_minor"] if v["price_minor"] is not None else p["price_minor"]
            writer.writerow(
                [
                    p["id"],
                    csv_text(v["sku"] or ""),
                    csv_text(p["name"]),
                    csv_text(p["description"]),
                    csv_text(p["option_name"]),
                    csv_text(v["label"]),
                    format_price(price, p["currency"]),
                    p["currency"],
                    v["stock"],
                    "true" if p["requires_shipping"] else "false",
                    "true" if p["archived"] else "false",
                ]
            )
    return out.getvalue()
