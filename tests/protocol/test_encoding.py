"""Unpadded base64url on the wire (protocol.encoding)."""

from __future__ import annotations

import pytest

from protocol.encoding import b64decode, b64encode
from protocol.errors import MalformedMessage


@pytest.mark.parametrize("length", range(7))
def test_b64_round_trips_every_length_modulo_3(length: int) -> None:
    data = bytes(range(250, 250 - length, -1))

    assert b64decode(b64encode(data)) == data


def test_b64_round_trips_every_byte_value() -> None:
    data = bytes(range(256))

    assert b64decode(b64encode(data)) == data


def test_b64encode_uses_the_url_safe_alphabet() -> None:
    assert b64encode(b"\xfb\xff\xbf") == "-_-_"


def test_b64encode_omits_padding() -> None:
    assert b64encode(b"\x00") == "AA"


def test_b64encode_of_empty_bytes_is_empty_text() -> None:
    assert b64encode(b"") == ""


@pytest.mark.parametrize("text", ["AA==", "AAA=", "AA=", "=", "AAAA===="])
def test_padding_is_refused(text: str) -> None:
    with pytest.raises(MalformedMessage, match="unpadded"):
        b64decode(text)


@pytest.mark.parametrize(
    "text",
    ["AB", "AAB", "AP", "AAAB_"],
    ids=["1-byte-trailing-bits", "2-byte-trailing-bits", "1-byte-high-trailing-bits", "length-1-mod-4"],
)
def test_non_canonical_encodings_are_refused(text: str) -> None:
    with pytest.raises(MalformedMessage):
        b64decode(text)


def test_canonical_form_of_a_refused_non_canonical_encoding_is_accepted() -> None:
    assert b64decode("AA") == b"\x00"


@pytest.mark.parametrize(
    "text",
    ["+_-_", "-/-_", "AA AA", "AA\nAA", "A*AA", "AAÀA"],
    ids=["plus", "slash", "space", "newline", "asterisk", "non-ascii"],
)
def test_characters_outside_the_base64url_alphabet_are_refused(text: str) -> None:
    with pytest.raises(MalformedMessage):
        b64decode(text)


@pytest.mark.parametrize("value", [b"AA", None, 12], ids=["bytes", "none", "int"])
def test_non_text_input_is_refused(value: object) -> None:
    with pytest.raises(MalformedMessage):
        b64decode(value)  # type: ignore[arg-type]


def test_error_names_the_field() -> None:
    with pytest.raises(MalformedMessage, match=r"^signature\.value:"):
        b64decode("AA==", field="signature.value")
