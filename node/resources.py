"""Shared files on the sender's home node: ciphertext blobs, each at most 10 MiB plus the sealed
format's overhead, counted against the member's quota and deleted after the retention period.
Any member of this node or of a peer may fetch a blob whose (random, 128-bit) id they were given;
without the key, which travels only end to end, it is noise."""

from __future__ import annotations

import secrets

from node.errors import NotFound, RequestRejected
from node.instance import DAY, Node
from node.storage.blobs import BlobStore
from node.storage.members import MemberStore
from protocol.encoding import b64encode
from protocol.errors import MalformedMessage
from protocol.resources import BLOB_ID, CHUNK_BYTES, MAX_BLOB_BYTES

MIB = 1024 * 1024


async def store_blob(node: Node, owner: str, ciphertext: bytes) -> str:
    """Keep a member's encrypted file; return its id.

    Raises:
        RequestRejected: 413 ``too_large`` over the size limit, 507 ``quota_exceeded`` over the quota.
    """
    if not 0 < len(ciphertext) <= MAX_BLOB_BYTES:
        raise RequestRejected(413, "too_large", f"a shared file is at most {MAX_BLOB_BYTES} bytes of ciphertext")
    blob_id = secrets.token_hex(16)
    async with node.database.transaction() as session:
        await MemberStore(session).get(owner, for_update=True)  # uploads of one member one at a time
        store = BlobStore(session)
        used = await store.used_by(owner)
        quota = node.config.blob_quota_mib * MIB
        if used + len(ciphertext) > quota:
            raise RequestRejected(
                507,
                "quota_exceeded",
                f"your shared files would use {(used + len(ciphertext)) / MIB:.1f} MiB of the "
                f"{node.config.blob_quota_mib} MiB your institution allows; delete some first",
            )
        await store.add(blob_id, owner, ciphertext, node.clock())
    return blob_id


async def read_chunk(node: Node, blob_id: str, offset: int) -> dict[str, object]:
    """Up to :data:`CHUNK_BYTES` of a blob from ``offset``: ``{"id", "size", "offset", "data"}``.

    Raises:
        MalformedMessage: a bad id or offset. NotFound: no such blob.
    """
    if not BLOB_ID.fullmatch(blob_id) or offset < 0:
        raise MalformedMessage("a blob id is 32 hex digits, and the offset is not negative")
    if offset > MAX_BLOB_BYTES:
        raise MalformedMessage(f"offset {offset} is past the end of any shared file")
    async with node.database.transaction() as session:
        found = await BlobStore(session).chunk(blob_id, offset, CHUNK_BYTES)
    if found is None:
        raise NotFound(f"no shared file {blob_id} (it may have expired or been deleted)")
    size, chunk = found
    if offset > size:
        raise MalformedMessage(f"offset {offset} is past the end ({size} bytes)")
    return {"id": blob_id, "size": size, "offset": offset, "data": b64encode(chunk)}


async def delete_blob(node: Node, owner: str, blob_id: str) -> bool:
    async with node.database.transaction() as session:
        return await BlobStore(session).delete(blob_id, owner)


async def purge_old_blobs(node: Node) -> int:
    async with node.database.transaction() as session:
        return await BlobStore(session).purge_before(node.clock() - node.config.blob_retention_days * DAY)
