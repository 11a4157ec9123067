"""Announcements: signed by their origin, replaceable, expiring, and withdrawable (protocol.announcement)."""

from __future__ import annotations

from typing import Any

import pytest

import crypto
from protocol.announcement import ANNOUNCEMENT_CONTEXT, MAX_LIFETIME, build_announcement, verify_announcement
from protocol.errors import BadSignature, InvalidField, MalformedMessage, StaleMessage
from protocol.signed import sign_object

KEY = crypto.SigningKey(bytes(range(32)))
KEYS = {KEY.key_id: KEY.public_key}
NOW = 1_800_000_000
AVAILABILITY: dict[str, Any] = {
    "topics": ["robotics"],
    "languages": ["en"],
    "timezone": "Europe/Rome",
    "capacity": 2,
    "windows": [{"day": 2, "start_minute": 600, "end_minute": 720}],
}


def _announce(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "origin": "https://c.example",
        "mentor": "m1",
        "seq": 1,
        "issued_at": NOW,
        "availability": AVAILABILITY,
        "signer": KEY,
    }
    values.update(changes)
    return build_announcement(**values)


def test_an_announcement_verifies_against_its_origins_key() -> None:
    announcement = verify_announcement(_announce(), KEYS, now=NOW + 60)
    assert announcement.availability is not None and announcement.availability.capacity == 2
    assert announcement.expires_at == NOW + 14 * 86_400


def test_a_withdrawal_carries_no_availability() -> None:
    withdrawal = verify_announcement(_announce(seq=2, availability=None), KEYS, now=NOW)
    assert withdrawal.withdrawn and withdrawal.availability is None


def test_a_signature_by_another_key_is_refused() -> None:
    with pytest.raises(BadSignature):
        verify_announcement(_announce(signer=crypto.SigningKey(bytes(32))), KEYS, now=NOW)


def test_an_altered_field_is_refused() -> None:
    raw = _announce()
    raw["availability"]["capacity"] = 50
    with pytest.raises(BadSignature):
        verify_announcement(raw, KEYS, now=NOW)


def test_an_expired_announcement_is_refused() -> None:
    with pytest.raises(StaleMessage, match="expired"):
        verify_announcement(_announce(lifetime=3600), KEYS, now=NOW + 3600)


def test_an_announcement_from_the_future_is_refused() -> None:
    with pytest.raises(StaleMessage, match="future"):
        verify_announcement(_announce(issued_at=NOW + 3600), KEYS, now=NOW)


def test_a_lifetime_over_thirty_days_is_refused() -> None:
    with pytest.raises(MalformedMessage, match="30 days"):
        _announce(lifetime=MAX_LIFETIME + 1)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"languages": ["klingon!"]}, "languages"),
        ({"topics": []}, "topics"),
        ({"capacity": -1}, "capacity"),
        ({"windows": [{"day": 8, "start_minute": 0, "end_minute": 60}]}, "windows"),
        ({"windows": [{"day": 1, "start_minute": 600, "end_minute": 500}]}, "windows"),
    ],
)
def test_invalid_availability_is_refused_with_the_field_named(change: dict[str, Any], field: str) -> None:
    with pytest.raises((InvalidField, MalformedMessage), match=field):
        _announce(availability={**AVAILABILITY, **change})


def test_unknown_members_are_ignored_once_the_signature_verifies() -> None:
    body = {k: v for k, v in _announce().items() if k != "signature"}
    extended = sign_object({**body, "added_in_a_later_v1": True}, KEY, ANNOUNCEMENT_CONTEXT)
    assert verify_announcement(extended, KEYS, now=NOW).mentor == "m1"
