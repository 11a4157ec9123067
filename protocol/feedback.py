"""Structured feedback, sent end to end to the other member after a session or at the end of a
mentorship. The institution never sees it; its node counts only that a session was held."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocol.errors import InvalidField

RATINGS = ("overall", "preparation", "communication", "usefulness")
MAX_TEXT = 2000


@dataclass(frozen=True)
class Feedback:
    about: str  # "session:<id>" or "mentorship"
    ratings: dict[str, int]
    text: str


def make_feedback(about: str, ratings: dict[str, Any], text: str) -> Feedback:
    """Validated feedback: one or more of :data:`RATINGS`, each 1 to 5, and up to 2,000 characters.

    Raises:
        InvalidField: naming the rating or field that is wrong.
    """
    if about != "mentorship" and not (about.startswith("session:") and 8 < len(about) <= 80):
        raise InvalidField("about", 'must be "mentorship" or "session:<id>"')
    if not ratings:
        raise InvalidField("ratings", f"give at least one of {', '.join(RATINGS)}")
    for name, value in ratings.items():
        if name not in RATINGS:
            raise InvalidField(f"ratings.{name}", f"unknown; one of {', '.join(RATINGS)}")
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
            raise InvalidField(f"ratings.{name}", "must be 1 to 5")
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise InvalidField("text", f"at most {MAX_TEXT} characters")
    return Feedback(about, dict(ratings), text)
