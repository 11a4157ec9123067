"""Mentor-availability announcements: signed, replaceable records keyed by (origin, mentor).

An announcement carries only what the mentor chose to publish. It is signed by the origin
node (context ``mentornet/v1/announcement``), so any node may relay it and every receiver can
verify it against the origin's pinned keys. A higher ``seq`` replaces a lower one; a
withdrawal is a tombstone (``withdrawn: true``, no ``availability``) with a higher ``seq``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

import crypto
from protocol.canonical import JsonValue
from protocol.errors import InvalidField, MalformedMessage, StaleMessage
from protocol.member import validate_interests, validate_languages, validate_timezone
from protocol.models import SignedWireModel
from protocol.signed import sign_object, verify_object

ANNOUNCEMENT_CONTEXT = "mentornet/v1/announcement"
ANNOUNCEMENT_TYPE = "mentornet/v1/announcement"
DAY = 86_400
MAX_LIFETIME = 30 * DAY
DEFAULT_LIFETIME = 14 * DAY
MAX_FUTURE_SKEW = 300
MAX_BIO = 1000
MAX_WINDOWS = 28
MAX_CREDENTIALS = 10
MAX_CAPACITY = 1000
MINUTES_PER_DAY = 1440
# Announcements per push batch and per feed page: fixed by the protocol, so that every node
# accepts what every other node sends.
MAX_BATCH = 100


class Window(SignedWireModel):
    """A weekly availability window in the mentor's own time zone: ISO weekday (1 = Monday) and minutes."""

    day: int = Field(ge=1, le=7)
    start_minute: int = Field(ge=0, lt=MINUTES_PER_DAY)
    end_minute: int = Field(gt=0, le=MINUTES_PER_DAY)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end_minute <= self.start_minute:
            raise ValueError("a window must end after it starts")
        return self


class Credential(SignedWireModel):
    """A qualification; ``verified`` means the home institution's operator checked it."""

    title: str = Field(min_length=1, max_length=200)
    verified: bool


MAX_GROUPS = 5


class GroupSession(SignedWireModel):
    """A group session or workshop the mentor hosts: mentees at any node may register with the
    mentor's client (end to end), which keeps the roster and the capacity."""

    id: str = Field(pattern=r"^[0-9a-f]{24}$")
    title: str = Field(min_length=1, max_length=200)
    topic: str = Field(min_length=1, max_length=80)
    starts_at: int = Field(ge=0)
    minutes: int = Field(ge=15, le=480)
    capacity: int = Field(ge=2, le=100)


class Availability(SignedWireModel):
    """What a mentor publishes."""

    display_name: str = Field(default="", max_length=200)
    bio: str = Field(default="", max_length=MAX_BIO)
    topics: list[str] = Field(min_length=1)
    languages: list[str] = Field(min_length=1)
    timezone: str
    windows: list[Window] = Field(default_factory=list, max_length=MAX_WINDOWS)
    capacity: int = Field(ge=0, le=MAX_CAPACITY)
    credentials: list[Credential] = Field(default_factory=list, max_length=MAX_CREDENTIALS)
    groups: list[GroupSession] = Field(default_factory=list, max_length=MAX_GROUPS)

    @field_validator("topics")
    @classmethod
    def _topics(cls, value: list[str]) -> list[str]:
        return list(validate_interests(value))

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        return list(validate_languages(value))

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return validate_timezone(value)


class Responsiveness(SignedWireModel):
    """How a mentor answered requests over the last 90 days, as their home node counted (and
    signs): requests decided (answered, or expired unanswered), answered, median time to answer."""

    decided: int = Field(ge=0)
    answered: int = Field(ge=0)
    median_answer_minutes: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> Responsiveness:
        if self.answered > self.decided or (self.answered > 0) != (self.median_answer_minutes is not None):
            raise ValueError("answered must be at most decided, with a median time exactly when some were answered")
        return self


class Announcement(SignedWireModel):
    """A verified announcement (built only from a raw object whose signature verified)."""

    type: Literal["mentornet/v1/announcement"]
    origin: str = Field(min_length=1, max_length=300)
    mentor: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=1)
    issued_at: int
    expires_at: int
    withdrawn: bool
    availability: Availability | None = None
    responsiveness: Responsiveness | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Announcement:
        if not 0 < self.expires_at - self.issued_at <= MAX_LIFETIME:
            raise ValueError("expires_at must be after issued_at and at most 30 days later")
        if self.withdrawn != (self.availability is None):
            raise ValueError("a withdrawal carries no availability, and an announcement must carry one")
        if self.withdrawn and self.responsiveness is not None:
            raise ValueError("a withdrawal carries no responsiveness")
        return self


@dataclass(frozen=True)
class AnnouncementKey:
    origin: str
    mentor: str


def build_announcement(
    *,
    origin: str,
    mentor: str,
    seq: int,
    issued_at: int,
    lifetime: int = DEFAULT_LIFETIME,
    availability: Mapping[str, JsonValue] | None,
    signer: crypto.SigningKey,
    responsiveness: Mapping[str, JsonValue] | None = None,
) -> dict[str, JsonValue]:
    """Validate and sign an announcement, or a withdrawal when ``availability`` is ``None``.

    Raises:
        InvalidField: if a field is invalid (the message names it).
    """
    body: dict[str, JsonValue] = {
        "type": ANNOUNCEMENT_TYPE,
        "origin": origin,
        "mentor": mentor,
        "seq": seq,
        "issued_at": issued_at,
        "expires_at": issued_at + lifetime,
        "withdrawn": availability is None,
    }
    if availability is not None:
        body["availability"] = dict(availability)
    if responsiveness is not None and availability is not None:
        body["responsiveness"] = dict(responsiveness)
    parsed = _parse(body)
    body = parsed.model_dump(mode="json", exclude_none=True)
    return sign_object(body, signer, ANNOUNCEMENT_CONTEXT)


def verify_announcement(raw: Mapping[str, object], origin_keys: Mapping[str, bytes], *, now: int) -> Announcement:
    """Verify an announcement's signature against its origin's keys, then parse and check it.

    Raises:
        BadSignature: if the signature does not verify under one of ``origin_keys``.
        MalformedMessage: if the verified object is not a valid announcement.
        StaleMessage: if it has expired or claims to be issued in the future.
    """
    verify_object(raw, ANNOUNCEMENT_CONTEXT, origin_keys)
    announcement = _parse(raw)
    if announcement.expires_at <= now:
        raise StaleMessage(f"announcement for {announcement.mentor} expired")
    if announcement.issued_at > now + MAX_FUTURE_SKEW:
        raise StaleMessage("announcement issued in the future; check the clocks")
    return announcement


def _parse(raw: Mapping[str, object]) -> Announcement:
    try:
        return Announcement.model_validate({k: v for k, v in raw.items() if k != "signature"})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "announcement"
        cause = first.get("ctx", {}).get("error")
        if isinstance(cause, InvalidField):
            raise InvalidField(field, str(cause).split(": ", 1)[-1]) from exc
        raise MalformedMessage(f"{field}: {first['msg']}") from exc
