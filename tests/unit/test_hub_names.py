"""Reserved display names and their Unicode lookalikes."""

from __future__ import annotations

import pytest

from livecommerce.domain.names import check_display_name, reserved_match, skeleton
from livecommerce.errors import ReservedName


@pytest.mark.parametrize(
    "name",
    [
        "Seller",
        "ADMIN",
        "Ꮪeller",  # Cherokee S
        "Sеller",  # Cyrillic е
        "Аdmin",  # Cyrillic А
        "ΗΟSΤ",  # Greek capitals
        "𝐒𝐞𝐥𝐥𝐞𝐫",  # mathematical bold
        "Ｍｏｄｅｒａｔｏｒ",  # fullwidth
        "adm1n",
        "h0st",
        "host1",
        "a d m i n",
        "Official_Seller",
        "S.Y.S.T.E.M",
        "sèllér",  # accents dropped
    ],
)
def test_lookalikes_refused(name: str) -> None:
    """Staff words and their confusables are refused with reserved_name."""
    with pytest.raises(ReservedName) as info:
        check_display_name(name)
    assert info.value.code == "reserved_name"


@pytest.mark.parametrize(
    "name", ["Anna", "Hostess Helen", "Modest Mouse", "Bob92", "Zoë", "李小龙"]
)
def test_ordinary_names_pass(name: str) -> None:
    """Names that merely contain a reserved word inside a longer word are fine."""
    assert reserved_match(name) is None


def test_shop_name_reserved_per_deployment() -> None:
    """The deployment adds its shop name to the reserved words."""
    with pytest.raises(ReservedName):
        check_display_name("Acme Shop", ["acme shop"])
    assert reserved_match("Acme Shop") is None


def test_skeleton_keeps_word_boundaries() -> None:
    """Separators become single spaces in the skeleton."""
    assert skeleton("Hello,   WORLD!!") == "hello world"
