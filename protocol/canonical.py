"""The one canonical JSON encoding: RFC 8785 (JCS), restricted to integers.

Signed objects never contain floats: a float's text form is where implementations disagree
most, and nothing Mentornet signs needs one. Integers are kept inside the I-JSON range
(|n| <= 2**53 - 1) so every receiver can represent them exactly.

For that subset RFC 8785 reduces to: members sorted by the UTF-16 code units of their names,
no insignificant whitespace, strings escaped as ECMAScript's JSON.stringify does (``\\b \\f \\n
\\r \\t``, other controls as lower-case ``\\u00xx``, ``"`` and ``\\``; everything else as UTF-8),
and integers in plain decimal. Python's JSON encoder produces exactly that escaping with
``ensure_ascii=False``, so we order the members ourselves and let it write; the tests hold the
result against the official RFC 8785 test data and against an independent implementation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from protocol.errors import MalformedMessage

MAX_SAFE_INTEGER = 2**53 - 1
_MAX_DEPTH = 32
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False)
_SORTED_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=True, sort_keys=True
)

JsonValue = None | bool | int | str | Sequence["JsonValue"] | Mapping[str, "JsonValue"]


def canonical_json(value: JsonValue) -> bytes:
    """Encode ``value`` as RFC 8785 canonical JSON (UTF-8 bytes).

    Raises:
        MalformedMessage: on a float, an integer outside the I-JSON range, a non-string key,
            a lone surrogate, nesting deeper than 32, or a type JSON does not have.
    """
    try:
        return _ENCODER.encode(_ordered(value, 0)).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedMessage("strings must not contain lone surrogates") from exc


def sorted_json(value: object) -> bytes | None:
    """The fast candidate for :func:`canonical_json` when *verifying*: Python's C encoder with
    ``sort_keys``, or ``None`` if it cannot encode ``value``.

    For every value :func:`canonical_json` accepts, the two are byte for byte equal unless an
    object key holds a character above U+D7FF (code-point and UTF-16 order can then differ). And
    the encoding is injective on decoded JSON values (a float keeps its ``.0``, keys are sorted,
    strings escaped), so a signature that verifies over these bytes was made over exactly this
    value. A verifier tries these bytes first and the exact RFC 8785 form only when they fail;
    signers always use :func:`canonical_json`.
    """
    try:
        return _SORTED_ENCODER.encode(value).encode("utf-8")
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError):
        return None


def _ordered(value: object, depth: int) -> object:
    """Check ``value`` and return it with every object's members in RFC 8785 order."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return value
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:  # type: ignore[operator]
            return value
        raise MalformedMessage("integer outside the I-JSON range")
    if depth >= _MAX_DEPTH and (isinstance(value, Mapping | list | tuple)):
        raise MalformedMessage(f"nesting deeper than {_MAX_DEPTH}")
    if isinstance(value, Mapping):
        keys = list(value)
        if not all(type(key) is str for key in keys):
            raise MalformedMessage("object keys must be strings")
        # Code-point order equals UTF-16 order unless a name holds a character above U+FFFF.
        keys.sort(key=None if all(key.isascii() for key in keys) else _utf16_order)
        return {key: _ordered(value[key], depth + 1) for key in keys}
    if isinstance(value, list | tuple):
        return [_ordered(item, depth + 1) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return _ordered(int(value), depth)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        raise MalformedMessage("floats are not allowed in signed objects; use integers")
    raise MalformedMessage(f"{type(value).__name__} is not a JSON value")


def _utf16_order(key: str) -> bytes:
    try:
        return key.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise MalformedMessage("object keys must not contain lone surrogates") from exc
