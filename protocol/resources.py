"""Resources shared between members: links, and files of up to 10 MiB encrypted on the sender's
client and stored as ciphertext blobs on the sender's home node, fetched across nodes in chunks.

A ``resource`` event (inside the end-to-end channel) carries what the recipient needs to fetch
and open a file: where the blob is, its key, and the plaintext's SHA-256 to check it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from protocol.encoding import b64decode
from protocol.errors import InvalidField

MAX_FILE_BYTES = 10 * 1024 * 1024
BLOB_OVERHEAD = 29  # the sealed format's version byte, 12-byte nonce and 16-byte tag
MAX_BLOB_BYTES = MAX_FILE_BYTES + BLOB_OVERHEAD
CHUNK_BYTES = 2 * 1024 * 1024  # per fetch: base64 in JSON stays well under a peer's 8 MiB answer cap
BLOB_AAD = b"mentornet/v1/resource"
BLOB_ID = re.compile(r"[0-9a-f]{32}")
MAX_TITLE = 200


@dataclass(frozen=True)
class Resource:
    id: str
    kind: str  # "link" or "file"
    title: str
    url: str | None = None
    name: str | None = None
    size: int | None = None
    sha256: str | None = None
    node: str | None = None
    blob: str | None = None
    key: str | None = None


def make_resource(raw: dict[str, Any]) -> Resource:
    """A resource event's content, checked.

    Raises:
        InvalidField: naming what is wrong.
    """
    kind, title = raw.get("kind"), raw.get("title")
    if not isinstance(title, str) or not 0 < len(title) <= MAX_TITLE:
        raise InvalidField("title", f"1 to {MAX_TITLE} characters")
    resource_id = str(raw.get("resource", ""))
    if not re.fullmatch(r"[0-9a-f]{24}", resource_id):
        raise InvalidField("resource", "a resource id is 24 hex digits")
    if kind == "link":
        url = raw.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 2000:
            raise InvalidField("url", "an http(s) link of at most 2,000 characters")
        return Resource(resource_id, "link", title, url=url)
    if kind != "file":
        raise InvalidField("kind", "link or file")
    name, size, digest, node, blob, key = (raw.get(k) for k in ("name", "size", "sha256", "node", "blob", "key"))
    if not isinstance(name, str) or not 0 < len(name) <= 255 or "/" in name or name in (".", ".."):
        raise InvalidField("name", "a file name without '/'")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_FILE_BYTES:
        raise InvalidField("size", f"0 to {MAX_FILE_BYTES} bytes")
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise InvalidField("sha256", "64 hex digits")
    if not isinstance(node, str) or not isinstance(blob, str) or not BLOB_ID.fullmatch(blob):
        raise InvalidField("blob", "the home node and a blob id of 32 hex digits")
    if not isinstance(key, str) or len(b64decode(key, field="key")) != 32:
        raise InvalidField("key", "a 32-byte key in base64url")
    return Resource(resource_id, "file", title, name=name, size=size, sha256=digest, node=node, blob=blob, key=key)
