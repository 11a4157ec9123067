"""Database tables. They never leave :mod:`node.storage`: repositories return plain values.

Personal fields are stored only as AEAD ciphertext (``bytes``); the clear columns hold what the
node must read without unlocking a member (ids, role, status, timestamps, key versions).
Every schema change goes through a migration in ``node/storage/migrations``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


def _blob(*, nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(LargeBinary, nullable=nullable)


def _time(*, nullable: bool = False) -> Column:  # type: ignore[type-arg]
    # Unix seconds; 64-bit so that no backend overflows in 2038.
    return Column(BigInteger, nullable=nullable)


class UnlockParams(SQLModel, table=True):
    """How the node's root key is unlocked, and a check value that detects a wrong secret."""

    __tablename__ = "unlock_params"

    id: int = Field(default=1, primary_key=True)
    method: str
    argon_salt: bytes | None = Field(default=None, sa_column=_blob(nullable=True))
    argon_memory_kib: int | None = None
    argon_iterations: int | None = None
    argon_lanes: int | None = None
    hkdf_salt: bytes = Field(sa_column=_blob())
    check_value: bytes = Field(sa_column=_blob())
    created_at: int = Field(sa_column=_time())


class KekVersion(SQLModel, table=True):
    """A version of the key-encryption key: KEK_v = HKDF(root, salt_v, "mentornet/v1/kek")."""

    __tablename__ = "kek_versions"

    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    salt: bytes = Field(sa_column=_blob())
    created_at: int = Field(sa_column=_time())
    retired_at: int | None = Field(default=None, sa_column=_time(nullable=True))


class NodeSigningKey(SQLModel, table=True):
    """A node signing key; the private seed is sealed under a KEK version."""

    __tablename__ = "node_signing_keys"

    key_id: str = Field(primary_key=True, max_length=16)
    public_key: bytes = Field(sa_column=_blob())
    sealed_seed: bytes = Field(sa_column=_blob())
    kek_version: int = Field(foreign_key="kek_versions.version", index=True)
    created_at: int = Field(sa_column=_time())
    valid_until: int = Field(sa_column=_time())
    expired_at: int | None = Field(default=None, sa_column=_time(nullable=True))
    endorsed_by: str | None = Field(default=None, max_length=16)
    endorsement: bytes | None = Field(default=None, sa_column=_blob(nullable=True))


class MemberRow(SQLModel, table=True):
    """A member. Personal fields are ciphertext under the member's data key."""

    __tablename__ = "members"

    id: str = Field(primary_key=True, max_length=36)
    role: str = Field(max_length=16)
    status: str = Field(max_length=16, index=True)
    kek_version: int | None = Field(default=None, foreign_key="kek_versions.version", index=True)
    sealed_data_key: bytes | None = Field(default=None, sa_column=_blob(nullable=True))
    data_key_version: int = 1
    created_at: int = Field(sa_column=_time())
    updated_at: int = Field(sa_column=_time())
    removed_at: int | None = Field(default=None, sa_column=_time(nullable=True))
    name: bytes | None = Field(default=None, sa_column=_blob(nullable=True))
    email: bytes | None = Field(default=None, sa_column=_blob(nullable=True))
    profile: bytes | None = Field(default=None, sa_column=_blob(nullable=True))
    interests: bytes | None = Field(default=None, sa_column=_blob(nullable=True))
    languages: bytes | None = Field(default=None, sa_column=_blob(nullable=True))
    timezone: bytes | None = Field(default=None, sa_column=_blob(nullable=True))


class BlindIndexRow(SQLModel, table=True):
    """A keyed blind index for exact-match look-ups (e.g. e-mail); unique per kind."""

    __tablename__ = "blind_indexes"
    __table_args__ = (UniqueConstraint("kind", "digest", name="uq_blind_indexes_kind_digest"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    digest: bytes = Field(sa_column=_blob())
    member_id: str = Field(foreign_key="members.id", index=True, max_length=36)


class InviteRow(SQLModel, table=True):
    """A one-time invite; only the SHA-256 of the code is stored."""

    __tablename__ = "invites"

    code_hash: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    member_id: str = Field(foreign_key="members.id", index=True, max_length=36)
    created_at: int = Field(sa_column=_time())
    expires_at: int = Field(sa_column=_time())
    used_at: int | None = Field(default=None, sa_column=_time(nullable=True))


class AuditLogRow(SQLModel, table=True):
    """One entry of the append-only, hash-chained audit log. Holds no personal data."""

    __tablename__ = "audit_log"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: int = Field(sa_column=_time())
    actor: str = Field(max_length=200)
    action: str = Field(max_length=64)
    target: str = Field(max_length=200)
    details: str
    digest: bytes = Field(sa_column=_blob())


class AuditHeadRow(SQLModel, table=True):
    """The newest audit entry's sequence number and digest (detects removal of the newest entries)."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int
    digest: bytes = Field(sa_column=_blob())


class PeerRow(SQLModel, table=True):
    """A federation peer, pinned by the operator.

    ``keys`` is JSON: key id -> ``{"public_key": base64url, "expired_at": Unix time or null}``.
    """

    __tablename__ = "peers"

    id: int | None = Field(default=None, primary_key=True)
    base_url: str = Field(max_length=300, unique=True)
    host: str = Field(max_length=300, index=True)
    name: str = Field(max_length=200)
    pinned_fingerprint: str = Field(max_length=80)
    keys: str
    state: str = Field(max_length=16)
    added_at: int = Field(sa_column=_time())
    last_contact_at: int | None = Field(default=None, sa_column=_time(nullable=True))
    last_error: str | None = Field(default=None, max_length=500)
    clock_offset: int | None = None
    feed_cursor: int = 0
    push_cursor: int = 0
    failures: int = 0
    retry_at: int | None = Field(default=None, sa_column=_time(nullable=True))


class BlockedHostRow(SQLModel, table=True):
    """A host whose requests get 403 on everything, peer or not."""

    __tablename__ = "blocked_hosts"

    host: str = Field(primary_key=True, max_length=300)
    blocked_at: int = Field(sa_column=_time())


class AnnouncementRow(SQLModel, table=True):
    """The newest verified announcement per (origin, mentor), as received (``raw``: signed JSON).

    ``feed_seq`` orders every stored change for the pull feed; the other columns are copies of
    verified fields, kept for filtering and expiry.
    """

    __tablename__ = "announcements"
    __table_args__ = (
        UniqueConstraint("origin", "mentor", name="uq_announcements_origin_mentor"),
        Index("ix_announcements_origin_feed_seq", "origin", "feed_seq"),
    )

    id: int | None = Field(default=None, primary_key=True)
    origin: str = Field(max_length=300)
    mentor: str = Field(max_length=64)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    issued_at: int = Field(sa_column=_time())
    expires_at: int = Field(sa_column=_time())
    withdrawn: bool
    raw: str
    feed_seq: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    received_at: int = Field(sa_column=_time())


class FeedCounterRow(SQLModel, table=True):
    """The last ``feed_seq`` handed out (one row; writers lock it, so the feed never skips)."""

    __tablename__ = "feed_counter"

    id: int = Field(default=1, primary_key=True)
    value: int = Field(sa_column=Column(BigInteger, nullable=False))


class SeenNonceRow(SQLModel, table=True):
    """Nonces of accepted federation requests, kept for the replay window."""

    __tablename__ = "seen_nonces"

    keyid: str = Field(primary_key=True, max_length=400)
    nonce: str = Field(primary_key=True, max_length=128)
    expires_at: int = Field(sa_column=_time())


class AccessTokenRow(SQLModel, table=True):
    """A member's client access token; only its SHA-256 is stored."""

    __tablename__ = "access_tokens"

    token_hash: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    member_id: str = Field(foreign_key="members.id", index=True, max_length=36)
    created_at: int = Field(sa_column=_time())
    revoked_at: int | None = Field(default=None, sa_column=_time(nullable=True))


class DeviceRow(SQLModel, table=True):
    """A member device's public keys for end-to-end messaging (no private key ever reaches a node).

    ``device_list`` is the member's device list as signed by the identity key; ``identity_dh``,
    ``signed_prekey`` and ``pq_prekey`` are wire pre-keys (JSON) signed by the same key.
    """

    __tablename__ = "devices"

    member_id: str = Field(foreign_key="members.id", primary_key=True, max_length=36)
    device_id: str = Field(primary_key=True, max_length=32)
    identity_key: bytes = Field(sa_column=_blob())
    device_list: str
    identity_dh: str
    signed_prekey: str
    pq_prekey: str
    updated_at: int = Field(sa_column=_time())


class OneTimePreKeyRow(SQLModel, table=True):
    """An unused one-time pre-key; deleted in the transaction that hands it out."""

    __tablename__ = "one_time_prekeys"
    __table_args__ = (UniqueConstraint("member_id", "device_id", "kind", "key_id", name="uq_one_time_prekeys_key"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(foreign_key="members.id", max_length=36)
    device_id: str = Field(max_length=32)
    kind: str = Field(max_length=16)
    key_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    prekey: str


class MailboxRow(SQLModel, table=True):
    """A sealed message waiting for the recipient device to fetch and acknowledge it."""

    __tablename__ = "mailbox"
    __table_args__ = (Index("ix_mailbox_recipient", "member_id", "device_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(foreign_key="members.id", max_length=36)
    device_id: str = Field(max_length=32)
    message_id: str = Field(max_length=64)
    ciphertext: bytes = Field(sa_column=_blob())
    received_at: int = Field(sa_column=_time())
    sender: str = Field(default="", max_length=64)  # the sender's handle, from their home node
    origin: str = Field(default="", max_length=300)  # the sender's home node


class SeenMessageRow(SQLModel, table=True):
    """Message ids delivered to a device, kept after the message is acknowledged so that a
    re-delivery within the de-duplication window is recognized."""

    __tablename__ = "seen_messages"

    member_id: str = Field(primary_key=True, max_length=36)
    device_id: str = Field(primary_key=True, max_length=32)
    message_id: str = Field(primary_key=True, max_length=64)
    seen_at: int = Field(sa_column=_time())


class OutboxRow(SQLModel, table=True):
    """A sealed message waiting to be delivered to a peer node, in the order it was sent."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_peer", "peer", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    peer: str = Field(max_length=300)
    message_id: str = Field(max_length=64)
    member_id: str = Field(max_length=36)
    device_id: str = Field(max_length=32)
    ciphertext: bytes = Field(sa_column=_blob())
    created_at: int = Field(sa_column=_time())
    sender: str = Field(default="", max_length=64)


class InboundTransactionRow(SQLModel, table=True):
    """A delivery transaction received from a peer and the answer it got, to answer a retry alike."""

    __tablename__ = "inbound_transactions"

    peer: str = Field(primary_key=True, max_length=300)
    txn_id: str = Field(primary_key=True, max_length=64)
    results: str
    received_at: int = Field(sa_column=_time())


class MentorshipRow(SQLModel, table=True):
    """One member's side of a mentorship request: only what the node enforces (open requests,
    places, expiry) and counts (answers, sessions). Neither the other member nor any content."""

    __tablename__ = "mentorships"
    __table_args__ = (Index("ix_mentorships_state", "state", "expires_at"),)

    member_id: str = Field(foreign_key="members.id", primary_key=True, max_length=36)
    request_id: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=16)
    state: str = Field(max_length=16)
    duration_weeks: int
    created_at: int = Field(sa_column=_time())
    expires_at: int = Field(sa_column=_time())
    updated_at: int = Field(sa_column=_time())
    answered_at: int | None = Field(default=None, sa_column=_time(nullable=True))
    sessions_held: int = 0


class MentorPlacesRow(SQLModel, table=True):
    """How many mentees a mentor takes at once, as they declared it; the announcement carries the
    places still open."""

    __tablename__ = "mentor_places"

    member_id: str = Field(foreign_key="members.id", primary_key=True, max_length=36)
    capacity: int


class BlockRow(SQLModel, table=True):
    """A member blocks a sender: messages with this handle from this node are dropped."""

    __tablename__ = "blocks"

    member_id: str = Field(foreign_key="members.id", primary_key=True, max_length=36)
    origin: str = Field(primary_key=True, max_length=300)
    sender: str = Field(primary_key=True, max_length=64)
    created_at: int = Field(sa_column=_time())


class AbuseReportRow(SQLModel, table=True):
    """A report about one of our members, with the evidence the reporter chose to reveal (sealed)."""

    __tablename__ = "abuse_reports"
    __table_args__ = (Index("ix_abuse_reports_status", "status", "created_at"),)

    id: str = Field(primary_key=True, max_length=32)
    reported_member: str = Field(max_length=36)
    origin: str = Field(max_length=300)
    sealed: bytes = Field(sa_column=_blob())
    status: str = Field(max_length=16)
    created_at: int = Field(sa_column=_time())
    resolved_at: int | None = Field(default=None, sa_column=_time(nullable=True))


class BlobRow(SQLModel, table=True):
    """A file a member shares, as the ciphertext their client made (the node has no key to it)."""

    __tablename__ = "blobs"
    __table_args__ = (Index("ix_blobs_owner", "owner"),)

    id: str = Field(primary_key=True, max_length=32)
    owner: str = Field(foreign_key="members.id", max_length=36)
    size: int
    ciphertext: bytes = Field(sa_column=_blob())
    created_at: int = Field(sa_column=_time())
