"""The one canonical JSON encoding: RFC 8785 (JCS), restricted to integers.

Signed objects never contain floats: a float's text form is where implementations disagree
most, and nothing Mentornet signs needs one. Integers are kept inside the I-JSON range
(|n| <= 2**53 - 1) so every receiver can represent them exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import rfc8785

from protocol.errors import MalformedMessage

MAX_SAFE_INTEGER = 2**53 - 1
_MAX_DEPTH = 32

JsonValue = None | bool | int | str | Sequence["JsonValue"] | Mapping[str, "JsonValue"]


def canonical_json(value: JsonValue) -> bytes:
    """Encode ``value`` as RFC 8785 canonical JSON (UTF-8 bytes).

    Raises:
        MalformedMessage: on a float, an integer outside the I-JSON range, a non-string key,
            a lone surrogate, nesting deeper than 32, or a type JSON does not have.
    """
    _check(value, depth=0)
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeError) as exc:
        raise MalformedMessage(f"cannot canonicalize: {exc}") from exc


def _check(value: object, *, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise MalformedMessage(f"nesting deeper than {_MAX_DEPTH}")
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise MalformedMessage("integer outside the I-JSON range")
        return
    if isinstance(value, float):
        raise MalformedMessage("floats are not allowed in signed objects; use integers")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise MalformedMessage("object keys must be strings")
            _check(item, depth=depth + 1)
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check(item, depth=depth + 1)
        return
    raise MalformedMessage(f"{type(value).__name__} is not a JSON value")
