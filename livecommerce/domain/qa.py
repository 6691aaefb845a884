"""Questions to the seller during a show: asked by viewers, upvoted once per user, answered by
staff (optionally "on air" with the media timestamp, so the replay can jump to the answer).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from livecommerce.domain.chat import ChatAuthor, normalize_text

#: Longest question and longest written answer.
MAX_QUESTION_LENGTH = 300
MAX_ANSWER_LENGTH = 1000


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    show_id: str
    author: ChatAuthor
    text: str
    votes: int
    at_ms: int
    answered: bool = False
    answer: str = ""
    answered_by: str | None = None
    answered_at_ms: int | None = None
    #: Media timestamp (seconds into the show's broadcast) when it was answered on air.
    on_air_media_ts: float | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "show_id": self.show_id,
            "user": self.author.to_wire(),
            "text": self.text,
            "votes": self.votes,
            "at": self.at_ms,
            "answered": self.answered,
            "answer": self.answer,
            "answered_at": self.answered_at_ms,
            "on_air": self.on_air_media_ts is not None,
            "media_ts": self.on_air_media_ts,
        }


def normalize_question(raw: str) -> str:
    return normalize_text(raw, max_length=MAX_QUESTION_LENGTH)


def normalize_answer(raw: str | None) -> str:
    """An answer may be empty (answered on air, nothing written)."""
    if raw is None or not raw.strip():
        return ""
    return normalize_text(raw, max_length=MAX_ANSWER_LENGTH)


def order_questions(questions: Iterable[Question]) -> list[Question]:
    """Open questions first, most votes first, oldest first among equals; answered ones after."""
    return sorted(questions, key=lambda q: (q.answered, -q.votes, q.at_ms, q.id))
