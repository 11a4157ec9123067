"""Feedback is a few 1-to-5 ratings and a short text, about a session or the whole mentorship."""

from __future__ import annotations

import pytest

from protocol.errors import InvalidField
from protocol.feedback import make_feedback


def test_valid_feedback() -> None:
    feedback = make_feedback("session:abc123", {"overall": 5, "preparation": 4}, "Very helpful")
    assert feedback.ratings == {"overall": 5, "preparation": 4}


@pytest.mark.parametrize(
    ("about", "ratings", "text", "message"),
    [
        ("session:abc123", {"overall": 6}, "", "ratings.overall: must be 1 to 5"),
        ("session:abc123", {"overall": True}, "", "ratings.overall"),
        ("session:abc123", {"kindness": 3}, "", "ratings.kindness: unknown"),
        ("session:abc123", {}, "", "at least one"),
        ("the weather", {"overall": 3}, "", "about"),
        ("mentorship", {"overall": 3}, "x" * 2001, "text"),
    ],
)
def test_bad_feedback_is_refused_naming_the_field(
    about: str, ratings: dict[str, object], text: str, message: str
) -> None:
    with pytest.raises(InvalidField, match=message):
        make_feedback(about, ratings, text)
