"""RFC 9421 HTTP message signatures and RFC 9530 Content-Digest, driven by the RFC's own example."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

import crypto
from protocol.errors import BadDigest, BadSignature, MalformedMessage, StaleMessage
from protocol.http_signatures import (
    HttpRequest,
    HttpResponse,
    check_content_digest,
    content_digest,
    sign_request,
    sign_response,
    signature_base,
    verify_request,
    verify_response,
)

VECTOR = json.loads((Path(__file__).parents[1] / "vectors" / "rfc9421_b26.json").read_text())
NOW = 1_800_000_000
KEY = crypto.SigningKey(bytes(range(32)))
KEYID = "https://a.example#" + KEY.key_id


def _rfc_request() -> HttpRequest:
    headers = {name.lower(): value for name, value in VECTOR["test_request"]["headers"]}
    return HttpRequest(method="POST", target_uri="http://example.com/foo?param=Value&Pet=dog", headers=headers)


def _rfc_key() -> crypto.SigningKey:
    return crypto.SigningKey(base64.urlsafe_b64decode(VECTOR["key"]["jwk"]["d"] + "=="))


def _request(body: bytes = b'{"announcements": []}', **changes: Any) -> HttpRequest:
    request = HttpRequest(
        method="POST",
        target_uri="https://b.example/federation/v1/announcements",
        headers={"content-digest": content_digest(body), "content-type": "application/json"},
    )
    return dataclasses.replace(request, **changes)


def _signed(request: HttpRequest, *, created: int = NOW, nonce: str = "n" * 22) -> HttpRequest:
    headers = sign_request(request, KEY, keyid=KEYID, created=created, nonce=nonce)
    return dataclasses.replace(request, headers={**request.headers, **headers})


def _resolve(keyid: str) -> bytes:
    if keyid != KEYID:
        raise BadSignature(f"unknown key {keyid}")
    return KEY.public_key


def test_rfc9421_b26_signature_base_is_reproduced_byte_for_byte() -> None:
    b26 = VECTOR["b26"]
    request = _rfc_request()
    base = signature_base(
        b26["covered_components"],
        b26["signature_params"],
        lambda component: {
            "date": request.headers["date"],
            "@method": "POST",
            "@path": "/foo",
            "@authority": "example.com",
            "content-type": request.headers["content-type"],
            "content-length": request.headers["content-length"],
        }[component],
    )
    assert base == b26["signature_base"].encode()


def test_rfc9421_b26_signature_headers_are_reproduced_byte_for_byte() -> None:
    b26 = VECTOR["b26"]
    headers = sign_request(
        _rfc_request(),
        _rfc_key(),
        keyid=b26["keyid"],
        created=b26["created"],
        nonce="",
        components=b26["covered_components"],
        label=b26["label"],
        tag=None,
        alg=None,
    )
    assert headers == {"signature-input": b26["signature_input_header"], "signature": b26["signature_header"]}


def test_rfc9421_b26_signature_verifies_with_the_rfc_public_key() -> None:
    b26 = VECTOR["b26"]
    request = _rfc_request()
    signed = dataclasses.replace(
        request,
        headers={
            **request.headers,
            "signature-input": b26["signature_input_header"],
            "signature": b26["signature_header"],
        },
    )
    verified = verify_request(
        signed,
        lambda _keyid: _rfc_key().public_key,
        now=b26["created"],
        max_skew=60,
        required=b26["covered_components"],
        label=b26["label"],
        require_tag=None,
        require_nonce=False,
    )
    assert (verified.keyid, verified.created) == ("test-key-ed25519", 1618884473)


def test_rfc9530_content_digest_of_the_rfc_body() -> None:
    examples = VECTOR["content_digest_examples"]
    body = examples["body"].encode()
    assert content_digest(body) == examples["sha-256_field_value"]
    check_content_digest(examples["sha-512_field_value"], body)


def test_a_signed_request_verifies_and_reports_its_key_created_and_nonce() -> None:
    verified = verify_request(_signed(_request()), _resolve, now=NOW + 5, max_skew=60)
    assert (verified.keyid, verified.created, verified.nonce) == (KEYID, NOW, "n" * 22)


@pytest.mark.parametrize(
    "change",
    [
        {"method": "PUT"},
        {"target_uri": "https://b.example/federation/v1/announcements?x=1"},
        {"target_uri": "https://c.example/federation/v1/announcements"},
    ],
)
def test_a_request_changed_after_signing_does_not_verify(change: dict[str, str]) -> None:
    tampered = dataclasses.replace(_signed(_request()), **change)
    with pytest.raises(BadSignature):
        verify_request(tampered, _resolve, now=NOW, max_skew=60)


def test_a_swapped_content_digest_does_not_verify() -> None:
    signed = _signed(_request())
    tampered = dataclasses.replace(signed, headers={**signed.headers, "content-digest": content_digest(b"{}")})
    with pytest.raises(BadSignature):
        verify_request(tampered, _resolve, now=NOW, max_skew=60)


def test_a_body_that_does_not_match_its_digest_is_refused() -> None:
    with pytest.raises(BadDigest, match="does not match"):
        check_content_digest(content_digest(b"original"), b"altered")


@pytest.mark.parametrize("value", [None, "", "sha-256=abc", "md5=:AAAA:"])
def test_a_missing_malformed_or_unsupported_digest_is_refused(value: str | None) -> None:
    with pytest.raises(BadDigest):
        check_content_digest(value, b"body")


@pytest.mark.parametrize("created", [NOW - 61, NOW + 61])
def test_a_request_created_outside_the_skew_window_is_stale(created: int) -> None:
    with pytest.raises(StaleMessage):
        verify_request(_signed(_request(), created=created), _resolve, now=NOW, max_skew=60)


def test_a_request_without_a_nonce_is_malformed() -> None:
    with pytest.raises(MalformedMessage, match="nonce"):
        verify_request(_signed(_request(), nonce=""), _resolve, now=NOW, max_skew=60)


def test_a_signature_that_leaves_out_a_required_component_is_refused() -> None:
    request = _request()
    headers = sign_request(
        request, KEY, keyid=KEYID, created=NOW, nonce="n" * 22, components=("@method", "@target-uri", "content-digest")
    )
    with pytest.raises(BadSignature, match="@authority"):
        verify_request(
            dataclasses.replace(request, headers={**request.headers, **headers}), _resolve, now=NOW, max_skew=60
        )


def test_a_signature_by_an_unknown_key_is_refused() -> None:
    request = _request()
    other = crypto.SigningKey(bytes(32))
    headers = sign_request(request, other, keyid="https://z.example#" + other.key_id, created=NOW, nonce="n" * 22)
    with pytest.raises(BadSignature, match="unknown key"):
        verify_request(
            dataclasses.replace(request, headers={**request.headers, **headers}), _resolve, now=NOW, max_skew=60
        )


def test_a_signature_made_under_another_tag_is_refused() -> None:
    request = _request()
    headers = sign_request(request, KEY, keyid=KEYID, created=NOW, nonce="n" * 22, tag="someone-else")
    with pytest.raises(BadSignature, match="tag"):
        verify_request(
            dataclasses.replace(request, headers={**request.headers, **headers}), _resolve, now=NOW, max_skew=60
        )


def test_missing_signature_headers_are_malformed() -> None:
    with pytest.raises(MalformedMessage, match="signature-input"):
        verify_request(_request(), _resolve, now=NOW, max_skew=60)


def test_a_response_is_bound_to_the_request_it_answers() -> None:
    request = HttpRequest(method="GET", target_uri="https://c.example/federation/v1/announcements?since=5", headers={})
    body = b'{"announcements": []}'
    response = HttpResponse(status=200, headers={"content-digest": content_digest(body)})
    signed = dataclasses.replace(
        response, headers={**response.headers, **sign_response(response, request, KEY, keyid=KEYID, created=NOW)}
    )
    assert verify_response(signed, request, _resolve, now=NOW, max_skew=60).keyid == KEYID
    other_request = dataclasses.replace(request, target_uri="https://c.example/federation/v1/announcements?since=0")
    with pytest.raises(BadSignature):
        verify_response(signed, other_request, _resolve, now=NOW, max_skew=60)
    with pytest.raises(BadSignature):
        verify_response(dataclasses.replace(signed, status=404), request, _resolve, now=NOW, max_skew=60)
