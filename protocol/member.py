"""Members: roles, statuses, and validation of the personal fields a node stores (encrypted).

Validation happens here, before anything is encrypted or stored, so a bad value is refused with
a message that names the field and nothing half-written is left behind.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from enum import StrEnum
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from protocol.errors import InvalidField

MAX_NAME = 200
MAX_EMAIL = 254
MAX_PROFILE = 4000
MAX_LIST_ITEMS = 30
MAX_INTEREST = 80
_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class Role(StrEnum):
    MENTOR = "mentor"
    MENTEE = "mentee"
    BOTH = "both"


class MemberStatus(StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    SUSPENDED = "suspended"  # by the operator: no client access, no announcements, requests ended
    REMOVED = "removed"


def normalize_email(email: str) -> str:
    """Validate an e-mail address's syntax (no DNS look-up) and return its normalized form.

    The domain is lower-cased and IDNA-normalized; the local part is lower-cased as well, so that
    the blind index finds ``Ada@Example.org`` and ``ada@example.org`` as one member.

    Raises:
        InvalidField: if the address is not syntactically valid or longer than 254 characters.
    """
    if len(email) > MAX_EMAIL:
        raise InvalidField("email", f"longer than {MAX_EMAIL} characters")
    try:
        result = validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidField("email", str(exc)) from exc
    return result.normalized.lower()


def validate_name(name: str) -> str:
    """A display name: trimmed, 1 to 200 characters, no control characters."""
    return _text("name", name, MAX_NAME, required=True, allowed_controls="")


def validate_profile_text(text: str) -> str:
    """Free profile text: at most 4,000 characters; newlines and tabs are the only control characters allowed."""
    return _text("profile", text, MAX_PROFILE, required=False, allowed_controls="\n\t")


def validate_timezone(name: str) -> str:
    """An IANA time-zone name such as ``Europe/Berlin``.

    Raises:
        InvalidField: if the name is not in the IANA database.
    """
    if name not in _iana_zones():
        raise InvalidField("timezone", f"{name!r} is not an IANA time zone (e.g. Europe/Berlin)")
    return name


def validate_languages(tags: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """BCP 47 language tags (``en``, ``pt-BR``): at most 30, duplicates removed, order kept."""
    cleaned = _unique([tag.strip() for tag in tags])
    if len(cleaned) > MAX_LIST_ITEMS:
        raise InvalidField("languages", f"at most {MAX_LIST_ITEMS} entries")
    for tag in cleaned:
        if not _LANGUAGE_TAG.match(tag):
            raise InvalidField("languages", f"{tag!r} is not a BCP 47 language tag (e.g. en, pt-BR)")
    return cleaned


def validate_interests(interests: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Interests or topics: at most 30, each 1 to 80 characters, duplicates removed."""
    cleaned = _unique(
        [_text("interests", item, MAX_INTEREST, required=True, allowed_controls="") for item in interests]
    )
    if len(cleaned) > MAX_LIST_ITEMS:
        raise InvalidField("interests", f"at most {MAX_LIST_ITEMS} entries")
    return cleaned


def validate_role(role: str) -> Role:
    """One of ``mentor``, ``mentee``, ``both``."""
    try:
        return Role(role)
    except ValueError as exc:
        raise InvalidField("role", f"{role!r} is not one of mentor, mentee, both") from exc


def _text(field: str, value: str, limit: int, *, required: bool, allowed_controls: str) -> str:
    if not isinstance(value, str):
        raise InvalidField(field, "expected text")
    value = value.strip()
    if required and not value:
        raise InvalidField(field, "must not be empty")
    if len(value) > limit:
        raise InvalidField(field, f"longer than {limit} characters")
    # Unicode category Cc covers C0, DEL and C1 (e.g. U+0085 NEL).
    if any(unicodedata.category(ch) == "Cc" and ch not in allowed_controls for ch in value):
        raise InvalidField(field, "contains control characters")
    return value


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@lru_cache(maxsize=1)
def _iana_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())
