"""Repositories for end-to-end messaging: devices and pre-keys, mailboxes, the outbox, and
de-duplication records. Ciphertexts are opaque bytes here; nothing in this module can read them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, func, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from node.storage.sql import insert
from node.storage.tables import (
    BlockRow,
    DeviceRow,
    InboundTransactionRow,
    MailboxRow,
    OneTimePreKeyRow,
    OutboxRow,
    SeenMessageRow,
)


@dataclass(frozen=True)
class StoredDevice:
    member_id: str
    device_id: str
    identity_key: bytes
    device_list: str
    identity_dh: str
    signed_prekey: str
    pq_prekey: str


@dataclass(frozen=True)
class StoredMessage:
    """A sealed message in a mailbox or the outbox (``peer`` empty in a mailbox)."""

    id: int
    message_id: str
    member_id: str
    device_id: str
    ciphertext: bytes
    at: int
    peer: str = ""
    sender: str = ""
    origin: str = ""


@dataclass(frozen=True)
class Envelope:
    """A sealed message for one device, with all a node may know of its sender: an opaque handle
    that the sender's home node (``origin``) gives the sender for this recipient."""

    member: str
    device: str
    message_id: str
    ciphertext: bytes
    sender: str = ""
    origin: str = ""


class Outcome(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    BLOCKED = "blocked"  # the recipient blocked the sender: dropped, and never said so to the sender


class DeviceStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def devices(self, member_id: str) -> list[StoredDevice]:
        rows = (
            await self._session.execute(
                select(DeviceRow).where(col(DeviceRow.member_id) == member_id).order_by(col(DeviceRow.device_id))
            )
        ).scalars()
        return [
            StoredDevice(
                r.member_id, r.device_id, r.identity_key, r.device_list, r.identity_dh, r.signed_prekey, r.pq_prekey
            )
            for r in rows
        ]

    async def put(self, device: StoredDevice, now: int) -> None:
        """Add or replace a device's keys, and store the device list on every device of the member."""
        for other in (
            await self._session.execute(select(DeviceRow).where(col(DeviceRow.member_id) == device.member_id))
        ).scalars():
            other.device_list = device.device_list
        row = await self._session.get(DeviceRow, (device.member_id, device.device_id))
        if row is None:
            self._session.add(
                DeviceRow(
                    member_id=device.member_id,
                    device_id=device.device_id,
                    identity_key=device.identity_key,
                    device_list=device.device_list,
                    identity_dh=device.identity_dh,
                    signed_prekey=device.signed_prekey,
                    pq_prekey=device.pq_prekey,
                    updated_at=now,
                )
            )
        else:
            row.identity_dh = device.identity_dh
            row.signed_prekey = device.signed_prekey
            row.pq_prekey = device.pq_prekey
            row.updated_at = now
        await self._session.flush()

    async def add_prekeys(self, member_id: str, device_id: str, prekeys: list[tuple[str, int, str]]) -> None:
        """Store one-time pre-keys (kind, key id, wire JSON), ignoring ids already stored."""
        if not prekeys:
            return
        connection = await self._session.connection()
        statement = insert(connection.dialect, OneTimePreKeyRow.__table__).on_conflict_do_nothing(  # type: ignore[attr-defined]
            index_elements=["member_id", "device_id", "kind", "key_id"]
        )
        await connection.execute(
            statement,
            [
                {"member_id": member_id, "device_id": device_id, "kind": kind, "key_id": key_id, "prekey": prekey}
                for kind, key_id, prekey in prekeys
            ],
        )

    async def prekey_counts(self, member_id: str, device_id: str) -> dict[str, int]:
        rows = await self._session.execute(
            select(col(OneTimePreKeyRow.kind), func.count())
            .where(col(OneTimePreKeyRow.member_id) == member_id, col(OneTimePreKeyRow.device_id) == device_id)
            .group_by(col(OneTimePreKeyRow.kind))
        )
        return {kind: int(count) for kind, count in rows.all()}

    async def take_prekey(self, member_id: str, device_id: str, kind: str) -> str | None:
        """Hand out the oldest one-time pre-key of a kind and delete it: each is given once."""
        row = (
            await self._session.execute(
                select(OneTimePreKeyRow)
                .where(
                    col(OneTimePreKeyRow.member_id) == member_id,
                    col(OneTimePreKeyRow.device_id) == device_id,
                    col(OneTimePreKeyRow.kind) == kind,
                )
                .order_by(col(OneTimePreKeyRow.id))
                .limit(1)
                .with_for_update(skip_locked=True)
            )
        ).scalar_one_or_none()
        if row is None:
            return None
        await self._session.delete(row)
        await self._session.flush()
        return row.prekey


class MailboxStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def deliver(self, entries: list[Envelope], now: int) -> list[Outcome]:
        """Put messages in mailboxes, in order. A message id delivered to that device before is a
        duplicate (not stored again); one from a sender the recipient blocked is dropped.

        A few statements for the batch: which ids were seen, which senders are blocked, then the
        new rows. A concurrent writer of the same id (only a misbehaving peer would be one) makes
        the transaction fail on the primary key instead of storing the message twice.
        """
        if not entries:
            return []
        connection = await self._session.connection()
        seen_table = SeenMessageRow.__table__  # type: ignore[attr-defined]
        known = {
            (member, device, message)
            for member, device, message in await connection.execute(
                select(seen_table.c.member_id, seen_table.c.device_id, seen_table.c.message_id).where(
                    tuple_(seen_table.c.member_id, seen_table.c.device_id, seen_table.c.message_id).in_(
                        {(e.member, e.device, e.message_id) for e in entries}
                    )
                )
            )
        }
        blocked = await BlockStore(self._session).blocked({(e.member, e.origin, e.sender) for e in entries if e.sender})
        outcomes: list[Outcome] = []
        for e in entries:
            key = (e.member, e.device, e.message_id)
            if key in known:
                outcomes.append(Outcome.DUPLICATE)
            else:
                outcomes.append(Outcome.BLOCKED if (e.member, e.origin, e.sender) in blocked else Outcome.NEW)
            known.add(key)
        seen = [e for e, outcome in zip(entries, outcomes, strict=True) if outcome is not Outcome.DUPLICATE]
        stored = [e for e, outcome in zip(entries, outcomes, strict=True) if outcome is Outcome.NEW]
        if seen:
            await connection.execute(
                insert(connection.dialect, seen_table),
                [
                    {"member_id": e.member, "device_id": e.device, "message_id": e.message_id, "seen_at": now}
                    for e in seen
                ],
            )
        if stored:
            await connection.execute(
                insert(connection.dialect, MailboxRow.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "member_id": e.member,
                        "device_id": e.device,
                        "message_id": e.message_id,
                        "ciphertext": e.ciphertext,
                        "received_at": now,
                        "sender": e.sender,
                        "origin": e.origin,
                    }
                    for e in stored
                ],
            )
        return outcomes

    async def pending(self, member_id: str, device_id: str, limit: int) -> list[StoredMessage]:
        rows = (
            await self._session.execute(
                select(MailboxRow)
                .where(col(MailboxRow.member_id) == member_id, col(MailboxRow.device_id) == device_id)
                .order_by(col(MailboxRow.id))
                .limit(limit)
            )
        ).scalars()
        return [_message(row.id, row, row.received_at) for row in rows]

    async def acknowledge(self, member_id: str, device_id: str, message_ids: list[str]) -> int:
        """Delete acknowledged messages of this device; return how many were deleted."""
        result = await self._session.execute(
            delete(MailboxRow).where(
                col(MailboxRow.member_id) == member_id,
                col(MailboxRow.device_id) == device_id,
                col(MailboxRow.message_id).in_(message_ids),
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def forget_seen(self, before: int) -> int:
        result = await self._session.execute(delete(SeenMessageRow).where(col(SeenMessageRow.seen_at) < before))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def recorded_transaction(self, peer: str, txn_id: str) -> str | None:
        row = await self._session.get(InboundTransactionRow, (peer, txn_id))
        return None if row is None else row.results

    async def record_transaction(self, peer: str, txn_id: str, results: str, now: int) -> None:
        self._session.add(InboundTransactionRow(peer=peer, txn_id=txn_id, results=results, received_at=now))
        await self._session.flush()

    async def forget_transactions(self, before: int) -> int:
        result = await self._session.execute(
            delete(InboundTransactionRow).where(col(InboundTransactionRow.received_at) < before)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


class OutboxStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, entries: list[tuple[str, Envelope]], now: int) -> None:
        """Queue messages for their peers (peer, envelope), in order, in one statement."""
        if entries:
            connection = await self._session.connection()
            await connection.execute(
                insert(connection.dialect, OutboxRow.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "peer": peer,
                        "member_id": e.member,
                        "device_id": e.device,
                        "message_id": e.message_id,
                        "ciphertext": e.ciphertext,
                        "created_at": now,
                        "sender": e.sender,
                    }
                    for peer, e in entries
                ],
            )

    async def batch(self, peer: str, max_items: int, max_bytes: int) -> list[StoredMessage]:
        """The oldest messages for ``peer``: at most ``max_items``, whose request stays within
        ``max_bytes`` (ciphertext in base64 plus the envelope: see :func:`envelope_size`)."""
        rows = (
            await self._session.execute(
                select(OutboxRow).where(col(OutboxRow.peer) == peer).order_by(col(OutboxRow.id)).limit(max_items)
            )
        ).scalars()
        batch: list[StoredMessage] = []
        size = 0
        for row in rows:
            size += envelope_size(len(row.ciphertext))
            if batch and size > max_bytes:
                break
            batch.append(_message(row.id, row, row.created_at, peer=row.peer))
        return batch

    async def remove(self, ids: list[int]) -> None:
        if ids:
            await self._session.execute(delete(OutboxRow).where(col(OutboxRow.id).in_(ids)))

    async def counts(self) -> dict[str, int]:
        rows = await self._session.execute(select(col(OutboxRow.peer), func.count()).group_by(col(OutboxRow.peer)))
        return {peer: int(count) for peer, count in rows.all()}


def envelope_size(ciphertext_bytes: int) -> int:
    """An upper bound of one message's share of a delivery request: base64url of the ciphertext
    plus the JSON of its ids and sender handle (at most 64 + 36 + 32 + 64 characters) and punctuation."""
    return (ciphertext_bytes * 4 + 2) // 3 + 300


def _message(row_id: int | None, row: MailboxRow | OutboxRow, at: int, *, peer: str = "") -> StoredMessage:
    assert row_id is not None
    origin = row.origin if isinstance(row, MailboxRow) else ""
    return StoredMessage(
        row_id, row.message_id, row.member_id, row.device_id, row.ciphertext, at, peer, row.sender, origin
    )


class BlockStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def blocked(self, candidates: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        """Which (member, origin, sender handle) triples are blocked."""
        if not candidates:
            return set()
        rows = await self._session.execute(
            select(col(BlockRow.member_id), col(BlockRow.origin), col(BlockRow.sender)).where(
                tuple_(col(BlockRow.member_id), col(BlockRow.origin), col(BlockRow.sender)).in_(candidates)
            )
        )
        return {(m, o, s) for m, o, s in rows.all()}

    async def add(self, member_id: str, origin: str, sender: str, now: int) -> int:
        """Block a sender, and drop what the member has not fetched from them yet; return how many."""
        connection = await self._session.connection()
        await connection.execute(
            insert(connection.dialect, BlockRow.__table__)  # type: ignore[attr-defined]
            .values(member_id=member_id, origin=origin, sender=sender, created_at=now)
            .on_conflict_do_nothing(index_elements=["member_id", "origin", "sender"])
        )
        result = await self._session.execute(
            delete(MailboxRow).where(
                col(MailboxRow.member_id) == member_id,
                col(MailboxRow.origin) == origin,
                col(MailboxRow.sender) == sender,
            )
        )
        await self._session.flush()
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def remove(self, member_id: str, origin: str, sender: str) -> bool:
        result = await self._session.execute(
            delete(BlockRow).where(
                col(BlockRow.member_id) == member_id, col(BlockRow.origin) == origin, col(BlockRow.sender) == sender
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete_member(self, member_id: str) -> None:
        await self._session.execute(delete(BlockRow).where(col(BlockRow.member_id) == member_id))

    async def of_member(self, member_id: str) -> list[tuple[str, str, int]]:
        rows = await self._session.execute(
            select(col(BlockRow.origin), col(BlockRow.sender), col(BlockRow.created_at))
            .where(col(BlockRow.member_id) == member_id)
            .order_by(col(BlockRow.created_at))
        )
        return [(o, s, int(t)) for o, s, t in rows.all()]
