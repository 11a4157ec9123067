"""Sharing links and files with another member. A file is encrypted on this client under a fresh
random key (AES-256-GCM), uploaded as a ciphertext blob to the sender's home node, and announced
to the recipient in a ``resource`` event that carries the key end to end; the recipient's client
fetches the blob in chunks through its own node, opens it, and checks its SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import time
from pathlib import Path
from typing import Any

import crypto
from client.member import Address, ClientError, MemberClient, new_id
from crypto.aead import NONCE_BYTES
from protocol.encoding import b64decode, b64encode
from protocol.errors import ProtocolError
from protocol.resources import BLOB_AAD, BLOB_OVERHEAD, MAX_FILE_BYTES, make_resource

RESOURCE = "resource"


class Resources:
    """The resources this member shared and received, kept in the keystore under ``resources``."""

    def __init__(self, member: MemberClient) -> None:
        self.member = member
        self.items: dict[str, dict[str, Any]] = member.state.setdefault("resources", {})

    async def share_link(self, to: Address, url: str, title: str, request_id: str | None = None) -> str:
        return await self._share(to, {"kind": "link", "title": title, "url": url}, request_id)

    async def share_file(self, to: Address, path: Path, title: str | None = None, request_id: str | None = None) -> str:
        """Encrypt ``path`` (at most 10 MiB), upload it, and send the recipient its key."""
        data = await asyncio.to_thread(_read_file, path)
        key = secrets.token_bytes(32)
        sealed = crypto.seal(key, data, aad=BLOB_AAD, nonce=secrets.token_bytes(NONCE_BYTES))
        async with self.member.api() as api:
            blob = await api.upload_blob(sealed)
        content = {
            "kind": "file",
            "title": title or path.name,
            "name": path.name,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "node": self.member.state["node"],
            "blob": blob["id"],
            "key": b64encode(key),
        }
        return await self._share(to, content, request_id)

    def on_event(self, sender: Address, event: dict[str, Any]) -> str:
        """Record a resource someone shared; the summary to show. Raises ``ProtocolError`` if malformed."""
        resource = make_resource(event)
        if resource.kind == "file" and resource.node != sender.node:
            raise ClientError("a shared file must be kept at its sender's home node")
        self.items[resource.id] = {**_content(event), "from": str(sender), "received_at": int(time.time())}
        if resource.kind == "link":
            return f"{sender} shared a link: {resource.title} <{resource.url}> (resource {resource.id})"
        size = f"{(resource.size or 0) / 1024:.0f} KiB"
        fetch = f"'mentornet client fetch {resource.id}'"
        return f"{sender} shared a file: {resource.title} ({resource.name}, {size}) — {fetch}"

    def listing(self) -> list[dict[str, Any]]:
        return [
            {"resource": resource_id, **{k: v for k, v in item.items() if k != "key"}}
            for resource_id, item in sorted(self.items.items(), key=lambda pair: pair[1].get("received_at", 0))
        ]

    async def fetch(self, resource_id: str, destination: Path) -> Path:
        """Download, decrypt and check a shared file; write it to ``destination`` (never over an
        existing file). Returns the path written."""
        item = self.items.get(resource_id)
        if item is None or item.get("kind") != "file":
            raise ClientError(f"no shared file {resource_id}; see 'mentornet client resources'")
        sealed = bytearray()
        expected = int(item["size"]) + BLOB_OVERHEAD  # the node cannot make us read more than that
        async with self.member.api() as api:
            while len(sealed) < expected:
                chunk = await api.blob_chunk(item["node"], item["blob"], len(sealed))
                if chunk.get("offset") != len(sealed) or chunk.get("size") != expected or not chunk.get("data"):
                    raise ClientError("the node answered with something other than the announced file")
                sealed += b64decode(str(chunk["data"]), field="data")
        try:
            data = crypto.open_(b64decode(item["key"], field="key"), bytes(sealed), aad=BLOB_AAD)
        except (crypto.CryptoError, ProtocolError) as exc:
            raise ClientError(f"the shared file does not decrypt: it was altered ({exc})") from exc
        if hashlib.sha256(data).hexdigest() != item["sha256"] or len(data) != item["size"]:
            raise ClientError("the shared file is not the one that was announced (size or SHA-256 differ)")
        await asyncio.to_thread(_write_new, destination, data)
        return destination

    async def _share(self, to: Address, content: dict[str, Any], request_id: str | None) -> str:
        resource_id = new_id()
        event = {"type": RESOURCE, "resource": resource_id, **content}
        if request_id is not None:
            event["request"] = request_id
        try:
            make_resource(event)
        except ProtocolError as exc:
            raise ClientError(str(exc)) from exc
        await self.member.send_events(to, [event])
        self.items[resource_id] = {**_content(event), "to": str(to), "received_at": int(time.time())}
        self.member.keystore.save()
        return resource_id


def _read_file(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ClientError(f"{path} is {size / 2**20:.1f} MiB; a shared file is at most 10 MiB")
        return path.read_bytes()
    except OSError as exc:
        raise ClientError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _write_new(destination: Path, data: bytes) -> None:
    """Write a new file durably, never over an existing one."""
    if destination.exists():
        raise ClientError(f"{destination} exists; choose another --output")
    temporary = destination.with_name(f".{destination.name}.{secrets.token_hex(4)}.part")
    try:
        with temporary.open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, destination)  # fails rather than replace a file created meanwhile
    except FileExistsError as exc:
        raise ClientError(f"{destination} exists; choose another --output") from exc
    except OSError as exc:
        raise ClientError(f"cannot write {destination}: {exc.strerror or exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)


def _content(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in ("type", "resource", "id", "sent_at")}
