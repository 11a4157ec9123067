"""HTTP Message Signatures (RFC 9421) with ed25519, and Content-Digest (RFC 9530).

Node-to-node requests cover ``@method``, ``@target-uri``, ``@authority`` and ``content-digest``
with the parameters ``created``, ``keyid``, ``nonce``, ``alg="ed25519"`` and ``tag="mentornet/v1"``.
Responses that carry data cover ``@status`` and ``content-digest`` plus the request's
``@method`` and ``@target-uri`` (the ``;req`` flag), which binds a response to its request.

This module is pure: the caller passes ``now``, the nonce, and a function that resolves a
``keyid`` to a public key. Replay (seen nonces) is the caller's state to keep.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from http_sfv.dictionary import Dictionary
from http_sfv.item import InnerList, Item

import crypto
from protocol.errors import BadDigest, BadSignature, MalformedMessage, StaleMessage

LABEL = "mn"
TAG = "mentornet/v1"
ALG = "ed25519"
REQUEST_COMPONENTS = ("@method", "@target-uri", "@authority", "content-digest")
RESPONSE_COMPONENTS = ("@status", "content-digest", "@method;req", "@target-uri;req")
_DIGESTS: dict[str, Callable[[bytes], bytes]] = {
    "sha-256": lambda body: hashlib.sha256(body).digest(),
    "sha-512": lambda body: hashlib.sha512(body).digest(),
}


@dataclass(frozen=True)
class HttpRequest:
    """What a request signature can cover. ``headers`` keys are lower-case."""

    method: str
    target_uri: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]


@dataclass(frozen=True)
class VerifiedSignature:
    keyid: str
    created: int
    nonce: str | None


KeyResolver = Callable[[str], bytes]


def content_digest(body: bytes) -> str:
    """The ``Content-Digest`` field value for ``body`` (sha-256, RFC 9530)."""
    return _serialize_dictionary({"sha-256": _digest_item(_DIGESTS["sha-256"](body))})


def check_content_digest(field_value: str | None, body: bytes) -> None:
    """Check a ``Content-Digest`` against the body.

    Every supported algorithm present must match, and at least one must be present.

    Raises:
        BadDigest: if the field is missing, malformed, has no supported algorithm, or mismatches.
    """
    if not field_value:
        raise BadDigest("the Content-Digest header is missing")
    try:
        parsed = _parse_dictionary(field_value)
    except MalformedMessage as exc:
        raise BadDigest(f"malformed Content-Digest: {exc}") from exc
    checked = 0
    for algorithm, member in parsed.items():
        compute = _DIGESTS.get(algorithm)
        if compute is None:
            continue
        if not isinstance(member.value, bytes) or member.value != compute(body):
            raise BadDigest(f"the body does not match its {algorithm} Content-Digest")
        checked += 1
    if not checked:
        raise BadDigest("Content-Digest names no supported algorithm (sha-256, sha-512)")


def sign_request(
    request: HttpRequest,
    key: crypto.SigningKey,
    *,
    keyid: str,
    created: int,
    nonce: str,
    components: Sequence[str] = REQUEST_COMPONENTS,
    label: str = LABEL,
    tag: str | None = TAG,
    alg: str | None = ALG,
) -> dict[str, str]:
    """Sign a request; return the ``Signature-Input`` and ``Signature`` headers to add.

    Args:
        request: the request as it will be sent (``content-digest`` must already be in its headers).
        key: the node's current signing key.
        keyid: the ``keyid`` parameter (``<base URL>#<key id>`` for Mentornet nodes).
        created: Unix time in seconds.
        nonce: a fresh random value, unique per request.
        components: the covered components, in order.
        label: the signature label.
        tag: the ``tag`` parameter (application domain), or ``None``.
        alg: the ``alg`` parameter, or ``None``.
    """
    params: dict[str, int | str] = {"created": created, "keyid": keyid}
    if nonce:
        params["nonce"] = nonce
    if alg:
        params["alg"] = alg
    if tag:
        params["tag"] = tag
    return _sign(lambda c: _request_value(request, c), components, params, key, label)


def sign_response(
    response: HttpResponse, request: HttpRequest, key: crypto.SigningKey, *, keyid: str, created: int
) -> dict[str, str]:
    """Sign a response bound to its request (``;req`` components)."""
    params: dict[str, int | str] = {"created": created, "keyid": keyid, "alg": ALG, "tag": TAG}
    return _sign(lambda c: _response_value(response, request, c), RESPONSE_COMPONENTS, params, key, LABEL)


def verify_request(
    request: HttpRequest,
    resolve_key: KeyResolver,
    *,
    now: int,
    max_skew: int,
    required: Sequence[str] = REQUEST_COMPONENTS,
    label: str = LABEL,
    require_tag: str | None = TAG,
    require_nonce: bool = True,
) -> VerifiedSignature:
    """Verify a request's signature; the caller still checks the nonce for replay.

    Raises:
        MalformedMessage: if the signature headers are missing or malformed.
        BadSignature: if a required component is not covered, the key is unknown, or the
            signature does not verify.
        StaleMessage: if ``created`` is more than ``max_skew`` seconds away from ``now``.
    """
    return _verify(
        request.headers,
        lambda c: _request_value(request, c),
        resolve_key,
        now=now,
        max_skew=max_skew,
        required=required,
        label=label,
        require_tag=require_tag,
        require_nonce=require_nonce,
    )


def verify_response(
    response: HttpResponse, request: HttpRequest, resolve_key: KeyResolver, *, now: int, max_skew: int
) -> VerifiedSignature:
    """Verify a response's signature against the request it answers (same errors as requests)."""
    return _verify(
        response.headers,
        lambda c: _response_value(response, request, c),
        resolve_key,
        now=now,
        max_skew=max_skew,
        required=RESPONSE_COMPONENTS,
        label=LABEL,
        require_tag=TAG,
        require_nonce=False,
    )


def signature_base(components: Sequence[str], params: str, value_of: Callable[[str], str]) -> bytes:
    """The RFC 9421 signature base: one line per component, then ``@signature-params``.

    Args:
        components: covered components, as ``name`` or ``name;req``.
        params: the serialized signature parameters (the inner list, as sent).
        value_of: the value of a component in the message.
    """
    lines = [f"{_component_id(component)}: {value_of(component)}" for component in components]
    lines.append(f'"@signature-params": {params}')
    text = "\n".join(lines)
    if any(ord(ch) > 126 or (ord(ch) < 32 and ch != "\n") for ch in text):
        raise MalformedMessage("a covered component holds characters outside printable ASCII")
    return text.encode("ascii")


def _sign(
    value_of: Callable[[str], str],
    components: Sequence[str],
    params: Mapping[str, int | str],
    key: crypto.SigningKey,
    label: str,
) -> dict[str, str]:
    inner = InnerList()
    for component in components:
        name, _, flag = component.partition(";")
        item = Item(name)
        if flag:
            item.params[flag] = True
        inner.append(item)
    for name, value in params.items():
        inner.params[name] = value
    serialized = str(inner)
    signature = crypto.sign_raw(key, signature_base(components, serialized, value_of))
    return {
        "signature-input": f"{label}={serialized}",
        "signature": _serialize_dictionary({label: Item(signature)}),
    }


def _verify(
    headers: Mapping[str, str],
    value_of: Callable[[str], str],
    resolve_key: KeyResolver,
    *,
    now: int,
    max_skew: int,
    required: Sequence[str],
    label: str,
    require_tag: str | None,
    require_nonce: bool,
) -> VerifiedSignature:
    inputs = _parse_dictionary(_header(headers, "signature-input"))
    signatures = _parse_dictionary(_header(headers, "signature"))
    inner = inputs.get(label)
    signature_item = signatures.get(label)
    if not isinstance(inner, InnerList) or signature_item is None:
        raise MalformedMessage(f"no signature labelled {label!r}")
    if not isinstance(signature_item.value, bytes):
        raise MalformedMessage("the Signature value is not a byte sequence")
    components = []
    for item in inner:
        if not isinstance(item.value, str) or set(item.params) - {"req"}:
            raise MalformedMessage("unsupported component identifier in Signature-Input")
        components.append(item.value + (";req" if item.params.get("req") else ""))
    missing = [component for component in required if component not in components]
    if missing:
        raise BadSignature(f"the signature does not cover {', '.join(missing)}")
    params = inner.params
    created, keyid, nonce = params.get("created"), params.get("keyid"), params.get("nonce")
    if not isinstance(created, int) or isinstance(created, bool) or not isinstance(keyid, str):
        raise MalformedMessage("Signature-Input needs integer created and string keyid parameters")
    if require_nonce and not (isinstance(nonce, str) and 16 <= len(nonce) <= 128):
        raise MalformedMessage("Signature-Input needs a nonce of 16 to 128 characters")
    if params.get("alg", ALG) != ALG:
        raise BadSignature(f"unsupported alg {params.get('alg')!r}")
    if require_tag is not None and params.get("tag") != require_tag:
        raise BadSignature(f"the signature's tag is not {require_tag!r}")
    expires = params.get("expires")
    if abs(now - created) > max_skew or (isinstance(expires, int) and expires < now):
        raise StaleMessage(f"signature created {now - created} s from now, outside the allowed {max_skew} s")
    public_key = resolve_key(keyid)
    base = signature_base(components, str(inner), value_of)
    try:
        crypto.verify_raw(public_key, base, signature_item.value)
    except crypto.CryptoError as exc:
        raise BadSignature("the HTTP message signature does not verify") from exc
    return VerifiedSignature(keyid=keyid, created=created, nonce=nonce if isinstance(nonce, str) else None)


def _request_value(request: HttpRequest, component: str) -> str:
    if component.endswith(";req"):
        raise BadSignature(f"{component} is only meaningful in a response")
    url = urlsplit(request.target_uri)
    derived = {
        "@method": request.method.upper(),
        "@target-uri": request.target_uri,
        "@authority": _authority(url.scheme, url.hostname or "", url.port),
        "@path": url.path or "/",
        "@query": "?" + url.query,
        "@scheme": url.scheme,
    }
    if component in derived:
        return derived[component]
    if component.startswith("@"):
        raise BadSignature(f"unsupported derived component {component}")
    return _header(request.headers, component)


def _response_value(response: HttpResponse, request: HttpRequest, component: str) -> str:
    if component.endswith(";req"):
        return _request_value(request, component.removesuffix(";req"))
    if component == "@status":
        return str(response.status)
    if component.startswith("@"):
        raise BadSignature(f"unsupported response component {component}")
    return _header(response.headers, component)


def _component_id(component: str) -> str:
    name, _, flag = component.partition(";")
    return f'"{name}"' + (f";{flag}" if flag else "")


def _authority(scheme: str, host: str, port: int | None) -> str:
    default = {"http": 80, "https": 443}.get(scheme)
    host = host.lower()
    if ":" in host:
        host = f"[{host}]"
    return host if port is None or port == default else f"{host}:{port}"


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        raise MalformedMessage(f"the {name} header is missing")
    return value.strip()


def _parse_dictionary(field_value: str) -> Dictionary:
    parsed = Dictionary()
    try:
        parsed.parse(field_value.encode("ascii"))
    except (ValueError, UnicodeEncodeError, binascii.Error) as exc:
        raise MalformedMessage(f"malformed structured field: {exc}") from exc
    return parsed


def _serialize_dictionary(members: Mapping[str, Item]) -> str:
    dictionary = Dictionary()
    for name, item in members.items():
        dictionary[name] = item
    return str(dictionary)


def _digest_item(digest: bytes) -> Item:
    return Item(digest)


def signature_keyid(headers: Mapping[str, str], label: str = LABEL) -> str:
    """The ``keyid`` a request claims, read before verification so the caller can look the key up.

    Raises:
        MalformedMessage: if the Signature-Input header is missing or has no string keyid.
    """
    inner = _parse_dictionary(_header(headers, "signature-input")).get(label)
    keyid = inner.params.get("keyid") if isinstance(inner, InnerList) else None
    if not isinstance(keyid, str):
        raise MalformedMessage(f"no keyid in the signature labelled {label!r}")
    return keyid
