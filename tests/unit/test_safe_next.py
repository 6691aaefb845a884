"""The post-login redirect stays on this site whatever a crafted ``next`` holds (issue 12,
finding 2: ``/%09/evil.example`` became ``Location: //evil.example``)."""

from __future__ import annotations

import pytest

from livecommerce.routes.login import safe_next


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "//evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "\t//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "/ /evil.example",
        "/\x00/evil.example",
        "/\x7f/evil.example",
    ],
)
def test_targets_that_leave_the_site_become_home(target: str | None) -> None:
    assert safe_next(target) == "/"


@pytest.mark.parametrize(
    "target", ["/", "/shows/shw_1", "/dashboard?show=a&x=1", "/studio/x#offers"]
)
def test_paths_on_this_site_are_kept(target: str) -> None:
    assert safe_next(target) == target
