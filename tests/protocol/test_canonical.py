"""The canonical JSON encoding (protocol.canonical) against the RFC 8785 reference test data.

The vectors in ``tests/vectors/jcs`` come from the RFC 8785 authors' repository (see its SOURCE.md).
Mentornet's encoding is RFC 8785 restricted to integers, so the vectors with floats must be refused
by :func:`canonical_json`, while the underlying RFC 8785 encoder still reproduces their output.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from protocol.canonical import MAX_SAFE_INTEGER, JsonValue, canonical_json, sorted_json
from protocol.errors import MalformedMessage

JCS_DIR = Path(__file__).resolve().parent.parent / "vectors" / "jcs"
JCS_INPUTS = sorted((JCS_DIR / "input").glob("*.json"))


def _contains_float(value: object) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, Mapping):
        return any(_contains_float(item) for item in value.values())
    if isinstance(value, list):
        return any(_contains_float(item) for item in value)
    return False


def _load_pair(input_path: Path) -> tuple[JsonValue, bytes]:
    parsed: JsonValue = json.loads(input_path.read_bytes())
    expected = (JCS_DIR / "output" / input_path.name).read_bytes()
    return parsed, expected


INTEGER_ONLY = [path for path in JCS_INPUTS if not _contains_float(_load_pair(path)[0])]
WITH_FLOATS = [path for path in JCS_INPUTS if _contains_float(_load_pair(path)[0])]


def _nested_arrays(levels: int, leaf: JsonValue) -> JsonValue:
    value: JsonValue = leaf
    for _ in range(levels):
        value = [value]
    return value


def _nested_objects(levels: int, leaf: JsonValue) -> JsonValue:
    value: JsonValue = leaf
    for _ in range(levels):
        value = {"a": value}
    return value


# --- RFC 8785 reference vectors -----------------------------------------------------------------


def test_every_jcs_input_has_a_matching_output_file() -> None:
    assert JCS_INPUTS
    assert all((JCS_DIR / "output" / path.name).is_file() for path in JCS_INPUTS)


def test_jcs_vectors_include_both_integer_only_and_float_inputs() -> None:
    # Guards the parametrized tests below against silently running on an empty list.
    assert INTEGER_ONLY
    assert WITH_FLOATS


@pytest.mark.parametrize("input_path", INTEGER_ONLY, ids=[path.name for path in INTEGER_ONLY])
def test_integer_only_jcs_vector_canonicalizes_to_the_reference_output(input_path: Path) -> None:
    parsed, expected = _load_pair(input_path)

    assert canonical_json(parsed) == expected


@pytest.mark.parametrize("input_path", WITH_FLOATS, ids=[path.name for path in WITH_FLOATS])
def test_jcs_vector_with_floats_is_refused(input_path: Path) -> None:
    parsed, _ = _load_pair(input_path)

    with pytest.raises(MalformedMessage, match="float"):
        canonical_json(parsed)


@pytest.mark.parametrize("input_path", WITH_FLOATS, ids=[path.name for path in WITH_FLOATS])
def test_underlying_encoder_reproduces_the_reference_output_of_float_vectors(input_path: Path) -> None:
    parsed, expected = _load_pair(input_path)

    assert rfc8785.dumps(parsed) == expected


# --- Key ordering (RFC 8785 section 3.2.3) ------------------------------------------------------


def test_keys_are_ordered_by_utf16_code_units_not_code_points() -> None:
    # U+1F600 is the surrogate pair D83D DE00, which sorts before U+FB33 in UTF-16 although
    # its code point is larger.
    encoded = canonical_json({"\ufb33": 1, "\U0001f600": 2})

    assert encoded == '{"\U0001f600":2,"\ufb33":1}'.encode()


def test_rfc8785_section_3_2_3_sorting_example() -> None:
    value: JsonValue = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    ).encode()

    assert canonical_json(value) == expected


def test_nested_object_keys_are_sorted_too() -> None:
    assert canonical_json({"b": {"d": 1, "c": 2}, "a": []}) == b'{"a":[],"b":{"c":2,"d":1}}'


def test_output_has_no_whitespace() -> None:
    assert canonical_json({"a": [1, 2, {"b": None}]}) == b'{"a":[1,2,{"b":null}]}'


def test_non_ascii_text_is_emitted_as_utf8_not_escaped() -> None:
    assert canonical_json("péché") == '"péché"'.encode()


def test_booleans_encode_as_json_literals_not_integers() -> None:
    assert canonical_json([True, False, None]) == b"[true,false,null]"


def test_tuple_encodes_like_a_list() -> None:
    assert canonical_json(("a", 1)) == canonical_json(["a", 1])


# --- Integers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0])
def test_integers_inside_the_ijson_range_are_accepted(number: int) -> None:
    assert canonical_json(number) == str(number).encode()


def test_max_safe_integer_is_2_pow_53_minus_1() -> None:
    assert MAX_SAFE_INTEGER == 2**53 - 1


@pytest.mark.parametrize("number", [2**53, -(2**53), 2**64])
def test_integers_beyond_the_ijson_range_are_refused(number: int) -> None:
    with pytest.raises(MalformedMessage, match="I-JSON"):
        canonical_json(number)


def test_integer_beyond_the_ijson_range_inside_an_object_is_refused() -> None:
    with pytest.raises(MalformedMessage, match="I-JSON"):
        canonical_json({"a": [1, 2**53]})


# --- Floats and non-JSON types -----------------------------------------------------------------


@pytest.mark.parametrize("number", [1.0, 0.5, float("nan"), float("inf")], ids=["1.0", "0.5", "nan", "inf"])
def test_floats_are_refused(number: float) -> None:
    with pytest.raises(MalformedMessage, match="float"):
        canonical_json({"value": number})


@pytest.mark.parametrize(
    "value",
    [{1, 2}, frozenset({"a"}), b"bytes", bytearray(b"x"), object()],
    ids=["set", "frozenset", "bytes", "bytearray", "object"],
)
def test_values_json_does_not_have_are_refused(value: object) -> None:
    with pytest.raises(MalformedMessage, match="not a JSON value"):
        canonical_json({"value": value})  # type: ignore[dict-item]


@pytest.mark.parametrize("key", [1, None, ("a",), b"a"], ids=["int", "none", "tuple", "bytes"])
def test_non_string_keys_are_refused(key: object) -> None:
    with pytest.raises(MalformedMessage, match="keys must be strings"):
        canonical_json({key: "value"})  # type: ignore[dict-item]


@pytest.mark.parametrize("text", ["\ud800", "a\udc00b"], ids=["high", "low"])
def test_lone_surrogates_are_refused(text: str) -> None:
    with pytest.raises(MalformedMessage):
        canonical_json({"value": text})


def test_lone_surrogate_in_a_key_is_refused() -> None:
    with pytest.raises(MalformedMessage):
        canonical_json({"\ud800": 1})


# --- Nesting -----------------------------------------------------------------------------------


def test_nesting_of_32_arrays_is_accepted() -> None:
    encoded = canonical_json(_nested_arrays(32, 1))

    assert encoded == b"[" * 32 + b"1" + b"]" * 32


def test_nesting_deeper_than_32_arrays_is_refused() -> None:
    with pytest.raises(MalformedMessage, match="nesting"):
        canonical_json(_nested_arrays(33, 1))


def test_nesting_deeper_than_32_objects_is_refused() -> None:
    with pytest.raises(MalformedMessage, match="nesting"):
        canonical_json(_nested_objects(33, 1))


def test_very_deep_nesting_is_refused_without_recursion_error() -> None:
    with pytest.raises(MalformedMessage, match="nesting"):
        canonical_json(_nested_arrays(10_000, None))


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    alphabet = ["a", "Z", "é", "\u20ac", "\U0001f600", "\ufb33", "\x00", "\x1f", "\x7f", '"', "\\", "/", "\n", "\u2028"]
    kind = rng.randrange(6 if depth < 4 else 4)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-(2**53) + 1, 2**53 - 1)
    if kind in (2, 3):
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))
    if kind == 4:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 4))): _random_json(rng, depth + 1)
        for _ in range(rng.randrange(4))
    }


def test_canonical_json_agrees_with_an_independent_rfc8785_implementation_on_random_integer_json() -> None:
    rng = random.Random(8785)
    for _ in range(2000):
        value = _random_json(rng)
        assert canonical_json(value) == rfc8785.dumps(value), value


# --- The verifier's fast candidate (sorted_json) ------------------------------------------------


def _keys(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        return [*value, *(k for v in value.values() for k in _keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v)]
    return []


ORDINARY_KEYS = [
    path for path in INTEGER_ONLY if all(ord(ch) <= 0xD7FF for key in _keys(_load_pair(path)[0]) for ch in key)
]


@pytest.mark.parametrize("input_path", ORDINARY_KEYS, ids=[path.name for path in ORDINARY_KEYS])
def test_sorted_json_equals_the_canonical_form_of_jcs_vectors_without_exotic_keys(input_path: Path) -> None:
    value = _load_pair(input_path)[0]
    assert sorted_json(value) == canonical_json(value)


def test_sorted_json_equals_the_canonical_form_of_random_documents() -> None:
    rng = random.Random(7)
    for _ in range(500):
        value = _random_document(rng, depth=0)
        assert sorted_json(value) == canonical_json(value)


def test_sorted_json_differs_only_where_utf16_order_differs() -> None:
    value = {"\ufb33": 1, "\U0001f600": 2}
    assert sorted_json(value) != canonical_json(value)  # the verifier then falls back to the exact form


@pytest.mark.parametrize("value", [{"a": 1.0}, {"a": float("nan")}, {"a": "\udc00"}, {"a": b"x"}])
def test_sorted_json_keeps_what_canonical_json_refuses_distinct_or_declines(value: Any) -> None:
    # A float keeps its ".0", so no signed integer document can share its bytes; the rest decline.
    encoded = sorted_json(value)
    assert encoded is None or encoded == b'{"a":1.0}'


def _random_document(rng: random.Random, depth: int) -> Any:
    kind = rng.choice(["int", "str", "bool", "null", "list", "object"] if depth < 4 else ["int", "str"])
    if kind == "int":
        return rng.randint(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    if kind == "str":
        return "".join(rng.choice('aZ09 \u00e9\u20ac"\\\n\t\u0001') for _ in range(rng.randint(0, 8)))
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [_random_document(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {f"k{rng.randint(0, 99)}\u00e9": _random_document(rng, depth + 1) for _ in range(rng.randint(0, 4))}
