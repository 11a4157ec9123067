"""Announcements on this node: publishing our mentors' availability, and ingesting peers' ones.

Ingest verifies each announcement over the raw received object against its origin's trusted
keys, keeps only the highest ``seq`` per (origin, mentor), and answers per item, so one bad
announcement never spoils a batch.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from node.errors import Conflict, NotFound, RequestRejected
from node.federation.peers import decoded_keys, normalize_base_url, retirements, usable
from node.instance import DAY, Node
from node.signing_keys import load_key_set
from node.storage.announcements import AnnouncementStore, StoredAnnouncement
from node.storage.audit import AuditStore
from node.storage.members import MemberStore
from node.storage.mentorships import MentorshipStore
from node.storage.peers import PeerStore, StoredPeer
from protocol.announcement import (
    MAX_BATCH,
    MAX_CAPACITY,
    MAX_LIFETIME,
    Announcement,
    build_announcement,
    verify_announcement,
)
from protocol.canonical import JsonValue
from protocol.errors import MalformedMessage, ProtocolError
from protocol.lifecycle import RESPONSIVENESS_DAYS, Actor, State, responsiveness
from protocol.member import MemberStatus, Role
from protocol.signed import signing_key_id

ACCEPTED = "accepted"
STALE = "stale"
REJECTED = "rejected"
IGNORED = "ignored"
VERIFY_PARTS = 2
log = logging.getLogger("mentornet.federation")


@dataclass(frozen=True)
class ItemResult:
    """The outcome for one announcement of a batch."""

    index: int
    status: str
    origin: str | None = None
    mentor: str | None = None
    seq: int | None = None
    error: str | None = None
    message: str | None = None

    def as_json(self) -> dict[str, JsonValue]:
        result: dict[str, JsonValue] = {"index": self.index, "status": self.status}
        for name in ("origin", "mentor", "seq", "error", "message"):
            value = getattr(self, name)
            if value is not None:
                result[name] = value
        return result


async def publish_availability(
    node: Node,
    member_id: str,
    availability: Mapping[str, JsonValue],
    *,
    lifetime_days: int | None = None,
    by_member: bool = False,
) -> dict[str, JsonValue]:
    """Sign and store a new announcement for one of our mentors; peers receive it on the next push.

    Args:
        node: the unlocked node.
        member_id: the mentor.
        availability: what the mentor publishes.
        lifetime_days: days until it expires (default from the config).
        by_member: the mentor publishes through the client API rather than the operator: a
            credential then counts as verified only if the operator had verified the same title.

    Raises:
        NotFound: if there is no such member.
        Conflict: if the member is not a mentor, or was removed.
        InvalidField / MalformedMessage: if the availability is invalid.
    """
    raw = await _publish(node, member_id, availability, lifetime_days, by_member=by_member)
    assert raw is not None  # only a refresh publishes nothing
    return raw


async def withdraw_availability(node: Node, member_id: str, *, by_member: bool = False) -> dict[str, JsonValue]:
    """Publish a tombstone with a higher ``seq``: the mentor disappears from every node's search."""
    raw = await _publish(node, member_id, None, None, by_member=by_member)
    assert raw is not None
    return raw


async def withdraw_if_published(node: Node, member_id: str) -> bool:
    """Withdraw a member's availability if it is published; ``True`` if a tombstone went out."""
    async with node.database.transaction() as session:
        current = await AnnouncementStore(session).get(normalize_base_url(node.config.base_url), member_id)
    if current is None or current.withdrawn:
        return False
    await withdraw_availability(node, member_id)
    return True


async def refresh_announcement(node: Node, member_id: str) -> bool:
    """Re-sign a mentor's live announcement with the places open now and the latest measure of how
    they answer, keeping its lifetime; ``False`` (nothing published) when it is withdrawn, lapsed,
    or the mentor is no longer active. Runs under the same member lock as every publish, so it never
    brings back availability the mentor withdrew meanwhile."""
    return await _publish(node, member_id, None, None, refresh=True) is not None


async def _publish(
    node: Node,
    member_id: str,
    availability: Mapping[str, JsonValue] | None,
    lifetime_days: int | None,
    *,
    by_member: bool = False,
    refresh: bool = False,
) -> dict[str, JsonValue] | None:
    origin = normalize_base_url(node.config.base_url)
    signer = (await load_key_set(node)).signer
    # A tombstone outlives any announcement it replaces, so a node that was away still learns of it.
    lifetime = (
        MAX_LIFETIME
        if availability is None
        else (lifetime_days or node.config.federation.announcement_lifetime_days) * DAY
    )
    async with node.database.transaction() as session:
        # Locking the member row serializes publishes (and removal) of one mentor on PostgreSQL,
        # so two writers never sign the same seq; SQLite's BEGIN IMMEDIATE already serializes.
        member = await MemberStore(session).get(member_id, for_update=True)
        if member is None:
            raise NotFound(f"no member with id {member_id}")
        store = AnnouncementStore(session)
        previous = await store.get(origin, member_id)
        if refresh:
            if member.status != MemberStatus.ACTIVE or previous is None or previous.withdrawn:
                return None
            if previous.expires_at <= node.clock():
                return None
            availability = json.loads(previous.raw)["availability"]
            assert availability is not None
            declared = await MentorshipStore(session).declared_places(member_id)
            availability = {**availability, "capacity": availability["capacity"] if declared is None else declared}
            lifetime = previous.expires_at - previous.issued_at
        if availability is not None and member.status in (MemberStatus.REMOVED, MemberStatus.SUSPENDED):
            raise Conflict(f"member {member_id} is {member.status}")
        if availability is not None and member.role not in (Role.MENTOR, Role.BOTH):
            raise Conflict(f"member {member_id} is a {member.role}, not a mentor")
        if availability is None and (previous is None or previous.withdrawn):
            raise NotFound(f"member {member_id} has no published availability to withdraw")
        if availability is not None and by_member:
            availability = _operator_attested(availability, previous)
        responsiveness = None
        if availability is not None:
            availability = await _open_places(MentorshipStore(session), member_id, availability)
            responsiveness = await _responsiveness(MentorshipStore(session), member_id, node.clock())
        raw = build_announcement(
            origin=origin,
            mentor=member_id,
            seq=(previous.seq if previous else 0) + 1,
            issued_at=node.clock(),
            lifetime=lifetime,
            availability=availability,
            signer=signer,
            responsiveness=responsiveness,
        )
        announcement = Announcement.model_validate({k: v for k, v in raw.items() if k != "signature"})
        await store.upsert([_stored(announcement, json.dumps(raw, separators=(",", ":")))], node.clock())
        if not refresh:  # a refresh follows from a member's move, not an administrative action
            action = "member.withdraw" if availability is None else "member.announce"
            actor = f"member:{member_id}" if by_member else None
            await node.audit(AuditStore(session), action, member_id, {"seq": announcement.seq}, actor=actor)
    return raw


async def _open_places(
    store: MentorshipStore, member_id: str, availability: Mapping[str, JsonValue]
) -> dict[str, JsonValue]:
    """Keep the capacity the mentor declared; announce the places still open (declared minus the
    mentorships running now)."""
    declared = availability.get("capacity")
    if not isinstance(declared, int) or isinstance(declared, bool) or not 0 <= declared <= MAX_CAPACITY:
        return dict(availability)  # the announcement's validation names the field
    await store.declare_places(member_id, declared)
    running = await store.count(member_id, "mentor", ("active",))
    return {**availability, "capacity": max(0, declared - running)}


async def _responsiveness(store: MentorshipStore, member_id: str, now: int) -> dict[str, JsonValue] | None:
    """How the mentor answered the requests decided in the last 90 days (see :func:`responsiveness`)."""
    since = now - RESPONSIVENESS_DAYS * DAY
    delays = [
        None if record.answered_at is None else record.answered_at - record.created_at
        for record in await store.of_member(member_id)
        if record.role == Actor.MENTOR
        and record.created_at >= since
        and (record.answered_at is not None or record.state == State.EXPIRED)
    ]
    measured = responsiveness(delays)
    return None if measured is None else dict(measured)


def _operator_attested(
    availability: Mapping[str, JsonValue], previous: StoredAnnouncement | None
) -> dict[str, JsonValue]:
    """Keep ``verified`` only on credentials the operator verified before (same title)."""
    attested: set[str] = set()
    if previous is not None and not previous.withdrawn:
        earlier = json.loads(previous.raw).get("availability", {})
        attested = {c["title"] for c in earlier.get("credentials", []) if c.get("verified")}
    credentials = availability.get("credentials", [])
    if not isinstance(credentials, list):
        return dict(availability)
    checked: list[JsonValue] = [
        {**c, "verified": isinstance(c.get("title"), str) and c["title"] in attested and c.get("verified") is True}
        if isinstance(c, dict)
        else c
        for c in credentials
    ]
    return {**availability, "credentials": checked}


async def ingest(
    node: Node,
    items: Sequence[object] | bytes,
    peers: Mapping[str, StoredPeer] | None = None,
    *,
    executor: Executor | None = None,
) -> list[ItemResult]:
    """Verify and store announcements received from a peer (pushed or pulled).

    An announcement is accepted only when its origin is a peer whose trusted key made the
    signature, whichever node relayed it. Our own announcements coming back are ignored.
    ``peers`` are the usable peers by base URL (active, host not blocked); read from the database
    when not given. The checks run in ``executor`` (worker processes, so that canonicalization and
    validation use every core), else on two threads. ``items`` may be the raw body of a push
    (``{"announcements": [...]}``): a worker then parses it too, which keeps that work off the
    serving process.

    Raises:
        MalformedMessage: if a raw body is not JSON of that shape.
        RequestRejected: (413) if it holds more than ``MAX_BATCH`` announcements.
    """
    own = normalize_base_url(node.config.base_url)
    now = node.clock()
    if peers is None:
        async with node.database.transaction() as session:
            peer_store = PeerStore(session)
            peers = usable({peer.base_url: peer for peer in await peer_store.all()}, await peer_store.blocked_hosts())
    keys = {origin: (decoded_keys(peer), retirements(peer)) for origin, peer in peers.items()}
    # Signature checks release the GIL, so even threads keep both cores busy and the event loop free.
    # A raw body goes whole to one worker (it is parsed once); parsed items are split in parts.
    parts = 1 if isinstance(items, bytes) else VERIFY_PARTS
    source = items if isinstance(items, bytes) else list(items)
    loop = asyncio.get_running_loop()
    try:
        outcomes = await asyncio.gather(
            *(loop.run_in_executor(executor, _check_part, source, part, parts, own, keys, now) for part in range(parts))
        )
    except BrokenProcessPool:
        # A worker died (killed, out of memory): check on threads rather than refuse everything.
        log.error("announcement worker processes are broken; checking on threads until restart")
        outcomes = await asyncio.gather(
            *(loop.run_in_executor(None, _check_part, source, part, parts, own, keys, now) for part in range(parts))
        )
    checked: list[list[tuple[int, ItemResult | StoredAnnouncement]]] = []
    for part_outcome in outcomes:
        if isinstance(part_outcome, BatchError):
            if part_outcome.status == 413:
                raise RequestRejected(413, part_outcome.code, part_outcome.message)
            raise MalformedMessage(part_outcome.message)
        checked.append(part_outcome)
    results: list[ItemResult] = []
    verified: dict[tuple[str, str], tuple[int, StoredAnnouncement]] = {}
    for index, outcome in sorted((item for part in checked for item in part), key=lambda item: item[0]):
        if isinstance(outcome, ItemResult):
            results.append(outcome)
            continue
        key = (outcome.origin, outcome.mentor)
        earlier = verified.get(key)
        if earlier is not None and earlier[1].seq >= outcome.seq:
            results.append(ItemResult(index, STALE, origin=key[0], mentor=key[1], seq=outcome.seq))
            continue
        if earlier is not None:
            results.append(ItemResult(earlier[0], STALE, origin=key[0], mentor=key[1], seq=earlier[1].seq))
        verified[key] = (index, outcome)
    async with node.database.transaction() as session:
        stored = await AnnouncementStore(session).upsert([outcome for _, outcome in verified.values()], now)
    for key, (index, announcement) in verified.items():
        if key in stored:
            results.append(ItemResult(index, ACCEPTED, origin=key[0], mentor=key[1], seq=announcement.seq))
        else:
            results.append(
                ItemResult(
                    index,
                    STALE,
                    origin=key[0],
                    mentor=key[1],
                    seq=announcement.seq,
                    message="the same or a higher seq is already stored",
                )
            )
    return sorted(results, key=lambda result: result.index)


OriginKeys = Mapping[str, tuple[Mapping[str, bytes], Mapping[str, int]]]


def worker_ready() -> bool:
    """A no-op run once in each check worker at start-up, so that it is spawned and has imported
    this module (and so the protocol code) before the first batch arrives."""
    return True


@dataclass(frozen=True)
class BatchError:
    """A pushed body that is not a batch at all (sent back from a worker instead of raised)."""

    status: int
    code: str
    message: str


def _check_part(
    source: bytes | list[object], part: int, parts: int, own: str, keys: OriginKeys, now: int
) -> list[tuple[int, ItemResult | StoredAnnouncement]] | BatchError:
    """Check every ``parts``-th item from ``part`` on; ``source`` is a raw pushed body or the items."""
    items = _batch_items(source) if isinstance(source, bytes) else source
    if isinstance(items, BatchError):
        return items
    return [(index, _check(index, raw, own, keys, now)) for index, raw in list(enumerate(items))[part::parts]]


def _batch_items(body: bytes) -> list[object] | BatchError:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        return BatchError(400, "malformed", f"the body is not JSON: {exc}")
    items = payload.get("announcements") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return BatchError(400, "malformed", 'expected {"announcements": [...]}')
    if len(items) > MAX_BATCH:
        return BatchError(413, "batch_too_large", f"at most {MAX_BATCH} announcements a batch")
    return items


def _check(index: int, raw: object, own: str, keys: OriginKeys, now: int) -> ItemResult | StoredAnnouncement:
    """Verify one received announcement: what to store (plain values, cheap to send back from a
    worker process), or an :class:`ItemResult` when it is not to be stored."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("origin"), str):
        return ItemResult(index, REJECTED, error="malformed", message="not an announcement object")
    origin = str(raw["origin"])
    if origin == own:
        return ItemResult(index, IGNORED, origin=origin, message="our own announcement")
    known = keys.get(origin)
    if known is None:
        return ItemResult(
            index, REJECTED, origin=origin, error="unknown_origin", message="the origin is not a peer with trusted keys"
        )
    origin_keys, retired_at = known
    try:
        announcement = verify_announcement(raw, origin_keys, now=now)
    except ProtocolError as exc:
        return ItemResult(index, REJECTED, origin=origin, error=str(exc.code), message=str(exc))
    retired = retired_at.get(signing_key_id(raw))
    if retired is not None and announcement.issued_at > retired:
        return ItemResult(
            index,
            REJECTED,
            origin=origin,
            error="bad_signature",
            message="signed by a key that was retired before the announcement was issued",
        )
    return _stored(announcement, json.dumps(raw, separators=(",", ":")))


def _stored(announcement: Announcement, raw: str) -> StoredAnnouncement:
    return StoredAnnouncement(
        origin=announcement.origin,
        mentor=announcement.mentor,
        seq=announcement.seq,
        issued_at=announcement.issued_at,
        expires_at=announcement.expires_at,
        withdrawn=announcement.withdrawn,
        raw=raw,
        feed_seq=0,
    )
