"""End-to-end messaging on a node: member devices and their public keys, mailboxes, and the outbox.

A node only ever holds public keys and sealed ciphertexts: it checks that every key it stores or
serves is signed by the member's identity key, hands each one-time pre-key out once, keeps a
sealed message until the recipient device acknowledges it, and relays messages for members of
other nodes through a durable per-peer outbox. It cannot read a message or tell who sent it.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

import crypto
from crypto.pqxdh import PreKeyKind
from crypto.sealed import BUCKETS, SEAL_OVERHEAD
from node.errors import Conflict, NotFound
from node.federation.peers import normalize_base_url
from node.instance import DAY, Node
from node.storage.members import MemberStore
from node.storage.messaging import (
    BlockStore,
    DeviceStore,
    Envelope,
    MailboxStore,
    OutboxStore,
    Outcome,
    StoredDevice,
    StoredMessage,
)
from protocol import addresses
from protocol.devices import MAX_PREKEY_UPLOAD, PreKeyWire, verify_device_list
from protocol.encoding import b64decode, b64encode
from protocol.errors import BadSignature, InvalidField, MalformedMessage
from protocol.member import MemberStatus

MAX_CIPHERTEXT = BUCKETS[-1] + SEAL_OVERHEAD
MAX_MESSAGE_BATCH = 100
MAX_HANDLE = 64
MAX_BATCH_BYTES = 1024 * 1024 - 1024  # a delivery request, envelope included, stays under 1 MiB
DEDUP_SECONDS = 2 * DAY  # message and transaction ids are remembered at least 24 h (here 48 h)
DELIVERED = "delivered"
DUPLICATE = "duplicate"
QUEUED = "queued"
REJECTED = "rejected"
_MESSAGE_ID = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


@dataclass(frozen=True)
class Recipient:
    """A member device somewhere in the federation."""

    node: str
    member: str
    device: str


class MailboxWaiters:
    """Wakes long-polling receivers when a message lands in their mailbox."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, str], asyncio.Event] = defaultdict(asyncio.Event)

    def notify(self, member_id: str, device_id: str) -> None:
        self._events[(member_id, device_id)].set()

    async def wait(self, member_id: str, device_id: str, seconds: float) -> None:
        """Return when a message arrives for this device, or after ``seconds``."""
        event = self._events[(member_id, device_id)]
        try:
            async with asyncio.timeout(seconds):
                await event.wait()
        except TimeoutError:
            pass
        finally:
            event.clear()


async def register_device(node: Node, member_id: str, payload: Mapping[str, Any]) -> dict[str, int]:
    """Store a device's public keys: the member's signed device list, the device's signed pre-keys,
    and one-time pre-keys. The first device pins the member's identity key; later uploads must be
    signed by the same key.

    Raises:
        MalformedMessage / InvalidField: if the upload is malformed.
        BadSignature: if the device list or a pre-key is not signed by the identity key.
        Conflict: if the identity key differs from the one pinned for this member.
    """
    device_id = _text(payload.get("device"), "device", 32)
    device_list = payload.get("device_list")
    if not isinstance(device_list, dict):
        raise MalformedMessage("device_list must be the signed device list object")
    async with node.database.transaction() as session:
        devices = DeviceStore(session)
        existing = await devices.devices(member_id)
        pinned = existing[0].identity_key if existing else None
        try:
            parsed = verify_device_list(device_list, pinned)
        except BadSignature as exc:
            if pinned is not None and "another identity key" in str(exc):
                raise Conflict("this member's identity key is already registered; it cannot change") from exc
            raise
        if parsed.member != member_id:
            raise InvalidField("device_list.member", "names another member")
        if device_id not in {entry.id for entry in parsed.devices}:
            raise InvalidField("device", "is not in the device list")
        identity_key = b64decode(parsed.identity_key, field="identity_key")
        identity_dh = _prekey(payload.get("identity_dh"), identity_key, PreKeyKind.X25519, "identity_dh")
        listed = next(entry.identity_dh for entry in parsed.devices if entry.id == device_id)
        if identity_dh.public_key != listed:
            raise InvalidField("identity_dh", "differs from the key the device list names for this device")
        signed = _prekey(payload.get("signed_prekey"), identity_key, PreKeyKind.X25519, "signed_prekey")
        pq = _prekey(payload.get("pq_prekey"), identity_key, PreKeyKind.MLKEM768, "pq_prekey")
        one_time = _prekeys(payload.get("one_time_prekeys", []), identity_key)
        await devices.put(
            StoredDevice(
                member_id,
                device_id,
                identity_key,
                json.dumps(device_list, separators=(",", ":")),
                identity_dh.model_dump_json(),
                signed.model_dump_json(),
                pq.model_dump_json(),
            ),
            node.clock(),
        )
        await devices.add_prekeys(member_id, device_id, one_time)
        return await devices.prekey_counts(member_id, device_id)


async def add_prekeys(node: Node, member_id: str, device_id: str, prekeys: object) -> dict[str, int]:
    """Add one-time pre-keys for a registered device; return the unused count per kind."""
    async with node.database.transaction() as session:
        devices = DeviceStore(session)
        device = _device(await devices.devices(member_id), device_id)
        await devices.add_prekeys(member_id, device_id, _prekeys(prekeys, device.identity_key))
        return await devices.prekey_counts(member_id, device_id)


async def prekey_counts(node: Node, member_id: str, device_id: str) -> dict[str, int]:
    async with node.database.transaction() as session:
        devices = DeviceStore(session)
        _device(await devices.devices(member_id), device_id)
        return await devices.prekey_counts(member_id, device_id)


async def key_bundles(node: Node, member_id: str, *, bundles: bool = True) -> dict[str, Any]:
    """A member's device list and one key bundle per device, each with one-time pre-keys taken
    (and deleted) from the store, so that none is ever handed out twice. With ``bundles=False``,
    only the device list (to check who a sender is, without using up pre-keys).

    Raises:
        NotFound: if the member has no registered device.
    """
    origin = normalize_base_url(node.config.base_url)
    async with node.database.transaction() as session:
        member = await MemberStore(session).get(member_id)
        devices = DeviceStore(session)
        registered = await devices.devices(member_id) if member is not None else []
        if member is None or member.status == MemberStatus.REMOVED or not registered:
            raise NotFound(f"no member {member_id} with a registered device at {origin}")
        made: list[dict[str, Any]] = []
        for device in registered if bundles else []:
            bundle: dict[str, Any] = {
                "member": member_id,
                "device": device.device_id,
                "identity_key": b64encode(device.identity_key),
                "identity_dh": json.loads(device.identity_dh),
                "signed_prekey": json.loads(device.signed_prekey),
                "pq_prekey": json.loads(device.pq_prekey),
            }
            for field, kind in (("one_time_prekey", PreKeyKind.X25519), ("pq_one_time_prekey", PreKeyKind.MLKEM768)):
                taken = await devices.take_prekey(member_id, device.device_id, kind.value)
                if taken is not None:
                    bundle[field] = json.loads(taken)
            made.append(bundle)
        return {
            "node": origin,
            "member": member_id,
            "device_list": json.loads(registered[0].device_list),
            "bundles": made,
        }


@dataclass(frozen=True)
class Outgoing:
    """A sealed message a local client sends."""

    recipient: Recipient
    message_id: str
    ciphertext: bytes


def outgoing(recipient: Recipient, message_id: object, ciphertext: bytes) -> Outgoing:
    """Check a message's id and size.

    Raises:
        InvalidField: if the id is not 1 to 64 of ``A-Z a-z 0-9 - _`` or the ciphertext is empty or too big.
    """
    _check_message(message_id, ciphertext)
    assert isinstance(message_id, str)
    return Outgoing(recipient, message_id, ciphertext)


async def send(
    node: Node, sender: str, messages: Sequence[Outgoing], usable_peers: Sequence[str]
) -> tuple[list[dict[str, Any]], int]:
    """Accept sealed messages from a local member's client, in one transaction: each is delivered
    to a local mailbox, or queued in the outbox of the recipient's node, with the sender's handle
    for that recipient. Answers per message: ``delivered``, ``duplicate``, ``queued``, or
    ``rejected`` with ``not_found`` (no such local device) or ``conflict`` (the recipient's node is
    not a peer). A message to a local member who blocked the sender is answered ``delivered`` and
    dropped. Returns the answers and how many were dropped so."""
    origin = normalize_base_url(node.config.base_url)
    now = node.clock()
    results: list[dict[str, Any]] = [{}] * len(messages)
    local: list[tuple[int, Envelope]] = []
    queued: list[tuple[str, Envelope]] = []
    async with node.database.transaction() as session:
        devices = _DeviceCheck(session)
        for index, message in enumerate(messages):
            to = message.recipient
            envelope = Envelope(
                to.member, to.device, message.message_id, message.ciphertext, sender_handle(node, sender, to), origin
            )
            if to.node == origin:
                error = await devices.missing(to.member, to.device)
                if error is None:
                    local.append((index, envelope))
                    continue
                results[index] = _rejected(message.message_id, error)
            elif to.node not in usable_peers:
                results[index] = _rejected(
                    message.message_id, Conflict(f"{to.node} is not a peer of this node; messages cannot reach it")
                )
            else:
                queued.append((to.node, envelope))
                results[index] = {"id": message.message_id, "status": QUEUED}
        outcomes = await MailboxStore(session).deliver([envelope for _, envelope in local], now)
        await OutboxStore(session).add(queued, now)
    for (index, envelope), outcome in zip(local, outcomes, strict=True):
        results[index] = {"id": envelope.message_id, "status": DUPLICATE if outcome is Outcome.DUPLICATE else DELIVERED}
    return results, sum(1 for outcome in outcomes if outcome is Outcome.BLOCKED)


def sender_handle(node: Node, sender: str, recipient: Recipient) -> str:
    """The opaque name a sender carries towards one recipient: the same for every message of that
    pair, unlinkable across recipients, and meaningless without this node's key. The recipient's
    node can drop a blocked sender's messages by it without learning who the sender is."""
    digest = node.keyring.blind_index("sender-handle", f"{sender}\n{recipient.node}\n{recipient.member}")
    return b64encode(digest[:18])


async def block_sender(node: Node, member_id: str, origin: object, sender: object) -> int:
    """Block a sender's handle (as it came with their messages); drop what is waiting from them.

    Raises:
        MalformedMessage: if the origin or handle is not one a message could carry.
    """
    origin_url, handle = _block_key(origin, sender)
    async with node.database.transaction() as session:
        return await BlockStore(session).add(member_id, origin_url, handle, node.clock())


async def unblock_sender(node: Node, member_id: str, origin: object, sender: object) -> bool:
    origin_url, handle = _block_key(origin, sender)
    async with node.database.transaction() as session:
        return await BlockStore(session).remove(member_id, origin_url, handle)


async def blocks_of(node: Node, member_id: str) -> list[dict[str, Any]]:
    async with node.database.transaction() as session:
        blocks = await BlockStore(session).of_member(member_id)
    return [{"origin": origin, "sender": sender, "created_at": at} for origin, sender, at in blocks]


def _block_key(origin: object, sender: object) -> tuple[str, str]:
    if not isinstance(sender, str) or not 1 <= len(sender) <= MAX_HANDLE or not set(sender) <= _MESSAGE_ID:
        raise MalformedMessage("sender must be the handle a message came with")
    try:
        return addresses.normalize_base_url(_text(origin, "origin", 300)), sender
    except addresses.NotABaseUrl as exc:
        raise InvalidField("origin", exc.problem) from exc


async def receive(node: Node, member_id: str, device_id: str, limit: int) -> list[StoredMessage]:
    async with node.database.transaction() as session:
        await _local_device(session, member_id, device_id)
        return await MailboxStore(session).pending(member_id, device_id, limit)


async def acknowledge(node: Node, member_id: str, device_id: str, message_ids: list[str]) -> int:
    """Delete received messages; their ids stay remembered so a re-delivery is dropped."""
    async with node.database.transaction() as session:
        return await MailboxStore(session).acknowledge(member_id, device_id, message_ids)


async def accept_delivery(
    node: Node, peer: str, txn_id: object, items: object
) -> tuple[list[dict[str, Any]], set[tuple[str, str]], int]:
    """Store a batch of sealed messages a peer delivers, answering per item. A transaction id seen
    before gets the answer it got then; a message id seen before is a duplicate, not stored again.

    Returns the per-item results, the (member, device) mailboxes that received something, and how
    many messages were dropped because their recipient blocked the sender.
    """
    if not isinstance(txn_id, str) or not 1 <= len(txn_id) <= 64:
        raise MalformedMessage("txn must be a string of 1 to 64 characters")
    if not isinstance(items, list) or len(items) > MAX_MESSAGE_BATCH:
        raise MalformedMessage(f"messages must be a list of at most {MAX_MESSAGE_BATCH}")
    now = node.clock()
    async with node.database.transaction() as session:
        mailbox = MailboxStore(session)
        recorded = await mailbox.recorded_transaction(peer, txn_id)
        if recorded is not None:
            return json.loads(recorded), set(), 0
        devices = _DeviceCheck(session)
        results: list[dict[str, Any]] = [{}] * len(items)
        entries: list[tuple[int, Envelope]] = []
        for index, item in enumerate(items):
            try:
                entry = _delivered_item(item, peer)
            except (MalformedMessage, InvalidField) as exc:
                results[index] = _rejected(item.get("id") if isinstance(item, dict) else None, exc)
                continue
            error = await devices.missing(entry.member, entry.device)
            if error is not None:
                results[index] = _rejected(entry.message_id, error)
                continue
            entries.append((index, entry))
        outcomes = await mailbox.deliver([entry for _, entry in entries], now)
        touched: set[tuple[str, str]] = set()
        for (index, entry), outcome in zip(entries, outcomes, strict=True):
            # A blocked sender is told "delivered": a block is never revealed to the one blocked.
            results[index] = {
                "id": entry.message_id,
                "status": DUPLICATE if outcome is Outcome.DUPLICATE else DELIVERED,
            }
            if outcome is Outcome.NEW:
                touched.add((entry.member, entry.device))
        await mailbox.record_transaction(peer, txn_id, json.dumps(results), now)
    return results, touched, sum(1 for outcome in outcomes if outcome is Outcome.BLOCKED)


def _delivered_item(item: object, peer: str) -> Envelope:
    if not isinstance(item, dict):
        raise MalformedMessage("each message is an object")
    member, device, message_id, sender = item.get("member"), item.get("device"), item.get("id"), item.get("sender", "")
    if not isinstance(member, str) or not isinstance(device, str) or not isinstance(item.get("ciphertext"), str):
        raise MalformedMessage("a message has member, device and ciphertext")
    if not isinstance(sender, str) or len(sender) > MAX_HANDLE or not set(sender) <= _MESSAGE_ID:
        raise MalformedMessage(f"sender is a handle of at most {MAX_HANDLE} characters of A-Z a-z 0-9 - _")
    ciphertext = b64decode(item["ciphertext"], field="ciphertext")
    _check_message(message_id, ciphertext)
    assert isinstance(message_id, str)
    return Envelope(member, device, message_id, ciphertext, sender, peer)


def _rejected(message_id: object, error: Exception) -> dict[str, Any]:
    codes: dict[type[Exception], str] = {NotFound: "unknown_recipient", Conflict: "not_a_peer"}
    code = codes.get(type(error), "malformed")
    return {
        "id": message_id if isinstance(message_id, str) else None,
        "status": REJECTED,
        "error": code,
        "message": str(error),
    }


class _DeviceCheck:
    """Whether local recipients exist, looked up once per (member, device) in a batch."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._known: dict[tuple[str, str], NotFound | None] = {}

    async def missing(self, member_id: str, device_id: str) -> NotFound | None:
        key = (member_id, device_id)
        if key not in self._known:
            try:
                await _local_device(self._session, member_id, device_id)
                self._known[key] = None
            except NotFound as exc:
                self._known[key] = exc
        return self._known[key]


async def forget_old(node: Node) -> None:
    """Drop de-duplication records older than the window."""
    async with node.database.transaction() as session:
        mailbox = MailboxStore(session)
        before = node.clock() - DEDUP_SECONDS
        await mailbox.forget_seen(before)
        await mailbox.forget_transactions(before)


def parse_recipient(value: object) -> Recipient:
    if not isinstance(value, dict):
        raise MalformedMessage('"to" must be {"node": URL, "member": ID, "device": ID}')
    try:
        node_url = addresses.normalize_base_url(_text(value.get("node"), "to.node", 300))
    except addresses.NotABaseUrl as exc:
        raise InvalidField("to.node", exc.problem) from exc
    return Recipient(node_url, _text(value.get("member"), "to.member", 36), _text(value.get("device"), "to.device", 32))


def _check_message(message_id: object, ciphertext: bytes) -> None:
    if not isinstance(message_id, str) or not 1 <= len(message_id) <= 64 or not set(message_id) <= _MESSAGE_ID:
        raise InvalidField("id", "a message id is 1 to 64 characters of A-Z a-z 0-9 - _")
    if not 0 < len(ciphertext) <= MAX_CIPHERTEXT:
        raise InvalidField("ciphertext", f"a sealed message is 1 to {MAX_CIPHERTEXT} bytes")


async def _local_device(session: Any, member_id: str, device_id: str) -> StoredDevice:
    member = await MemberStore(session).get(member_id)
    if member is None or member.status == MemberStatus.REMOVED:
        raise NotFound(f"no member {member_id} here")
    return _device(await DeviceStore(session).devices(member_id), device_id)


def _device(devices: list[StoredDevice], device_id: str) -> StoredDevice:
    for device in devices:
        if device.device_id == device_id:
            return device
    raise NotFound(f"no registered device {device_id!r}")


def _prekey(value: object, identity_key: bytes, kind: PreKeyKind, field: str) -> PreKeyWire:
    try:
        wire = PreKeyWire.model_validate_json(json.dumps(value))
    except ValidationError as exc:
        raise MalformedMessage(f"{field}: {exc.errors()[0]['msg']}") from exc
    try:
        wire.key().verify(identity_key, kind)
    except crypto.CryptoError as exc:
        raise BadSignature(f"{field} is not a {kind} pre-key signed by the identity key: {exc}") from exc
    return wire


def _prekeys(value: object, identity_key: bytes) -> list[tuple[str, int, str]]:
    if not isinstance(value, list) or len(value) > MAX_PREKEY_UPLOAD:
        raise MalformedMessage(f"one_time_prekeys must be a list of at most {MAX_PREKEY_UPLOAD}")
    checked = []
    for index, item in enumerate(value):
        kind = item.get("kind") if isinstance(item, dict) else None
        if kind not in {k.value for k in PreKeyKind}:
            raise MalformedMessage(f"one_time_prekeys[{index}]: unknown kind {kind!r}")
        wire = _prekey(item, identity_key, PreKeyKind(kind), f"one_time_prekeys[{index}]")
        checked.append((wire.kind.value, wire.id, wire.model_dump_json()))
    return checked


def _text(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise InvalidField(field, f"expected text of 1 to {limit} characters")
    return value
