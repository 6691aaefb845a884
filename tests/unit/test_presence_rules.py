"""Who a viewer is counted as, and the push throttle."""

from __future__ import annotations

from livecommerce.domain.chat import ChatAuthor
from livecommerce.domain.presence import person_key, should_push, valid_visitor_id
from livecommerce.domain.qa import Question, order_questions


def test_account_before_browser_before_session() -> None:
    """A signed-in viewer is their account, else their browser id, else the one session."""
    vid = "b" * 22
    assert "u:user_1" == person_key("user_1", vid, "sid")
    assert f"v:{vid}" == person_key(None, vid, "sid")
    assert "s:sid" == person_key(None, None, "sid")


def test_malformed_browser_ids_fall_back_to_the_session() -> None:
    """A browser id that is short, long or carries other characters is not trusted."""
    for bad in ["short", "x" * 65, "a" * 20 + "/", "a" * 20 + " ", 12345678901234567]:
        assert not valid_visitor_id(bad)
        assert "s:sid" == person_key(None, bad if isinstance(bad, str) else None, "sid")
    assert valid_visitor_id("A-_z" * 4)


def test_push_throttle() -> None:
    """Counts are pushed on change, at most every interval."""
    assert should_push(None, None, 1, 0.0, 2.0)
    assert not should_push(0.0, 1, 1, 5.0, 2.0)
    assert not should_push(0.0, 1, 2, 1.0, 2.0)
    assert should_push(0.0, 1, 2, 2.0, 2.0)


def test_questions_ordered_by_votes() -> None:
    """Open questions by votes then age; answered ones last."""
    a = ChatAuthor("u", "U")
    qs = [
        Question("q1", "s", a, "x", 1, 10),
        Question("q2", "s", a, "x", 5, 20),
        Question("q3", "s", a, "x", 9, 5, answered=True),
        Question("q4", "s", a, "x", 5, 15),
    ]
    assert [q.id for q in order_questions(qs)] == ["q4", "q2", "q1", "q3"]
