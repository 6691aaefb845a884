"""Viewer counting from node heartbeats and the push throttle."""

from __future__ import annotations

from livecommerce.domain.chat import ChatAuthor
from livecommerce.domain.presence import NodeReport, should_push, total_viewers
from livecommerce.domain.qa import Question, order_questions


def test_stale_nodes_drop_out() -> None:
    """A node that stopped heartbeating no longer counts."""
    reports = {"a": NodeReport(3, 110.0), "b": NodeReport(5, 99.0)}
    assert total_viewers(reports, 100.0) == 3


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
