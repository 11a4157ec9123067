"""Member administration on an unlocked node: invite, read, export, remove (crypto-shredding).

Every personal field is sealed with the member's own random data key; the associated data binds
``{"table": "members", "row": id, "field": name, "key_version": data key version}``, so a
ciphertext moved to another row or field does not open. The data key is sealed under the
current KEK version, bound to the member id and both versions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import uuid
from dataclasses import asdict, dataclass

from node.announcements import withdraw_if_published
from node.errors import Conflict, InvalidInvite, NotFound, RequestRejected
from node.instance import DAY, Node
from node.keyring import new_data_key, open_value, seal_value
from node.mentorships import check_reason, end_all
from node.storage.audit import AuditStore
from node.storage.blobs import BlobStore
from node.storage.keys import KeyStore
from node.storage.members import PERSONAL_FIELDS, MemberStore, StoredMember
from node.storage.mentorships import MentorshipStore
from node.storage.messaging import BlockStore
from node.storage.tokens import TokenStore
from protocol.canonical import JsonValue
from protocol.member import (
    MemberStatus,
    normalize_email,
    validate_interests,
    validate_languages,
    validate_name,
    validate_profile_text,
    validate_role,
    validate_timezone,
)

log = logging.getLogger("mentornet.members")

EMAIL_INDEX = "email"
INVITE_CODE_BYTES = 16


@dataclass(frozen=True)
class MemberProfile:
    """The personal fields, validated and normalized."""

    name: str
    email: str
    profile: str = ""
    interests: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    timezone: str = "UTC"

    @classmethod
    def validated(
        cls,
        *,
        name: str,
        email: str,
        profile: str = "",
        interests: tuple[str, ...] = (),
        languages: tuple[str, ...] = (),
        timezone: str = "UTC",
    ) -> MemberProfile:
        """Validate every field before anything is stored (raises InvalidField naming the field)."""
        return cls(
            name=validate_name(name),
            email=normalize_email(email),
            profile=validate_profile_text(profile),
            interests=validate_interests(interests),
            languages=validate_languages(languages),
            timezone=validate_timezone(timezone),
        )


@dataclass(frozen=True)
class Member:
    id: str
    role: str
    status: str
    created_at: int
    updated_at: int
    profile: MemberProfile | None

    def as_json(self) -> dict[str, JsonValue]:
        return {
            "id": self.id,
            "role": self.role,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "profile": _profile_json(self.profile) if self.profile else None,
        }


@dataclass(frozen=True)
class Invitation:
    member_id: str
    code: str
    expires_at: int


def data_key_binding(member_id: str, kek_version: int, data_key_version: int) -> dict[str, JsonValue]:
    """What a member's sealed data key is bound to."""
    return {
        "table": "members",
        "row": member_id,
        "field": "data_key",
        "kek_version": kek_version,
        "data_key_version": data_key_version,
    }


def field_binding(member_id: str, field: str, data_key_version: int) -> dict[str, JsonValue]:
    """What a sealed personal field is bound to."""
    return {"table": "members", "row": member_id, "field": field, "key_version": data_key_version}


def hash_invite_code(code: str) -> bytes:
    """Invite codes carry 128 random bits, so a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(code.encode()).digest()


async def invite_member(node: Node, profile: MemberProfile, role: str) -> Invitation:
    """Create an invited member with sealed fields and a one-time invite code.

    Raises:
        InvalidField: if the role is not mentor, mentee or both.
        Conflict: if a member with this e-mail address already exists.
    """
    checked_role = validate_role(role)
    now = node.clock()
    member_id = str(uuid.uuid4())
    data_key = new_data_key()
    code = secrets.token_urlsafe(INVITE_CODE_BYTES)
    expires_at = now + node.config.invite_ttl_days * DAY
    async with node.database.transaction() as session:
        kek = await KeyStore(session).current_kek()
        members = MemberStore(session)
        await members.insert(
            StoredMember(
                id=member_id,
                role=str(checked_role),
                status=str(MemberStatus.INVITED),
                kek_version=kek.version,
                sealed_data_key=seal_value(
                    node.keyring.kek(kek.version, kek.salt), data_key, **data_key_binding(member_id, kek.version, 1)
                ),
                data_key_version=1,
                created_at=now,
                updated_at=now,
                removed_at=None,
                sealed_fields=_seal_profile(data_key, member_id, 1, profile),
            )
        )
        await members.add_blind_index(EMAIL_INDEX, node.keyring.blind_index(EMAIL_INDEX, profile.email), member_id)
        await members.add_invite(hash_invite_code(code), member_id, now, expires_at)
        await node.audit(
            AuditStore(session),
            "member.invite",
            member_id,
            {"role": str(checked_role), "invite_expires_at": expires_at},
        )
    return Invitation(member_id, code, expires_at)


@dataclass(frozen=True)
class Registration:
    member_id: str
    access_token: str


async def redeem_invite(node: Node, code: str) -> Registration:
    """Consume a one-time invite code and issue the member's client access token (stored hashed).

    Raises:
        InvalidInvite: if the code is unknown, used or expired (which of these is not said).
    """
    if not code.isascii() or not 8 <= len(code) <= 128:
        raise InvalidInvite("this invite code is not valid: unknown, already used, or expired")
    token = secrets.token_urlsafe(32)
    now = node.clock()
    async with node.database.transaction() as session:
        member_id = await MemberStore(session).redeem_invite(hash_invite_code(code), now)
        if member_id is None:
            raise InvalidInvite("this invite code is not valid: unknown, already used, or expired")
        await TokenStore(session).add(hash_token(token), member_id, now)
        await node.audit(AuditStore(session), "member.register", member_id, actor=f"member:{member_id}")
    return Registration(member_id, token)


async def member_for_token(node: Node, token: str) -> str | None:
    """The member an access token belongs to, or ``None``.

    Raises:
        RequestRejected: (403 ``suspended``) if the operator suspended the member.
    """
    async with node.database.transaction() as session:
        found = await TokenStore(session).member_of(hash_token(token))
    if found is None:
        return None
    member_id, status = found
    if status == MemberStatus.SUSPENDED:
        raise RequestRejected(403, "suspended", "your institution suspended your account; contact its operator")
    return member_id


def hash_token(token: str) -> bytes:
    """Access tokens carry 256 random bits; a SHA-256 of them is safe to store."""
    return hashlib.sha256(b"mentornet/v1/access-token\x00" + token.encode()).digest()


async def list_members(node: Node) -> list[Member]:
    async with node.database.transaction() as session:
        stored = await MemberStore(session).all()
        salts = {kek.version: kek.salt for kek in await KeyStore(session).kek_versions()}
    return [_open_member(node, member, salts) for member in stored]


async def get_member(node: Node, member_id: str) -> Member:
    """Raises :class:`NotFound` if there is no such member."""
    async with node.database.transaction() as session:
        stored = await MemberStore(session).get(member_id)
        if stored is None:
            raise NotFound(f"no member with id {member_id}")
        salts = {kek.version: kek.salt for kek in await KeyStore(session).kek_versions()}
    return _open_member(node, stored, salts)


async def find_member_by_email(node: Node, email: str) -> Member | None:
    """Exact-match look-up through the keyed blind index (the address is never stored in clear)."""
    digest = node.keyring.blind_index(EMAIL_INDEX, normalize_email(email))
    async with node.database.transaction() as session:
        member_id = await MemberStore(session).find_by_blind_index(EMAIL_INDEX, digest)
    return None if member_id is None else await get_member(node, member_id)


async def export_member(node: Node, member_id: str) -> dict[str, JsonValue]:
    """Everything the node holds on a member, decrypted: the GDPR access and portability copy."""
    member = await get_member(node, member_id)
    async with node.database.transaction() as session:
        invites = await MemberStore(session).invites_of(member_id)
        await node.audit(AuditStore(session), "member.export", member_id)
    return {
        "format": "mentornet/v1/member-export",
        "exported_at": node.clock(),
        "node": {"name": node.config.name, "base_url": node.config.base_url},
        "member": member.as_json(),
        "invites": [dict(asdict(invite)) for invite in invites],
    }


async def remove_member(node: Node, member_id: str) -> None:
    """Crypto-shred a member: destroy the data key, blind indexes and invites.

    Raises:
        NotFound: if there is no such member, or it was already removed.
    """
    async with node.database.transaction() as session:
        members = MemberStore(session)
        stored = await members.get(member_id, for_update=True)
        if stored is None or stored.status == MemberStatus.REMOVED:
            problem = f"no member with id {member_id}" if stored is None else f"member {member_id} was already removed"
            raise NotFound(problem)
        await members.shred(member_id, node.clock(), str(MemberStatus.REMOVED))
        await end_all(MentorshipStore(session), member_id, node.clock())
        await BlobStore(session).delete_owned(member_id)
        await BlockStore(session).delete_member(member_id)
        await node.audit(AuditStore(session), "member.remove", member_id)
    await withdraw_if_published(node, member_id)
    if not await node.database.purge_old_pages():
        log.warning(
            "the WAL could not be truncated after an erasure; it is on the next checkpoint",
            extra={"member_id": member_id},
        )


async def suspend_member(node: Node, member_id: str, reason: str) -> int:
    """Suspend a member: no client access, every open request and running mentorship ended (in
    the same transaction), availability withdrawn everywhere; written to the audit log. Running it
    again on a suspended member finishes what an interrupted run left undone. Returns how many
    requests were ended.

    Raises:
        NotFound: if there is no such member.
        Conflict: if the member is neither active nor suspended, or the reason is empty or too long.
    """
    check_reason(reason)
    now = node.clock()
    async with node.database.transaction() as session:
        members = MemberStore(session)
        stored = await members.get(member_id, for_update=True)
        if stored is None:
            raise NotFound(f"no member with id {member_id}")
        if stored.status not in (MemberStatus.ACTIVE, MemberStatus.SUSPENDED):
            raise Conflict(f"member {member_id} is {stored.status}; only an active member can be suspended")
        if stored.status == MemberStatus.ACTIVE:
            await members.set_status(member_id, str(MemberStatus.SUSPENDED), now)
            await node.audit(AuditStore(session), "member.suspend", member_id, {"reason": reason})
        ended = await end_all(MentorshipStore(session), member_id, now)
    await withdraw_if_published(node, member_id)
    return ended


async def reinstate_member(node: Node, member_id: str, reason: str) -> None:
    """Lift a suspension (the member publishes availability again themselves); audit-logged.

    Raises:
        NotFound: if there is no such member.
        Conflict: if the member is not suspended.
    """
    async with node.database.transaction() as session:
        members = MemberStore(session)
        stored = await members.get(member_id, for_update=True)
        if stored is None:
            raise NotFound(f"no member with id {member_id}")
        if stored.status != MemberStatus.SUSPENDED:
            raise Conflict(f"member {member_id} is {stored.status}, not suspended")
        await members.set_status(member_id, str(MemberStatus.ACTIVE), node.clock())
        await node.audit(AuditStore(session), "member.reinstate", member_id, {"reason": reason})


def _seal_profile(data_key: bytes, member_id: str, key_version: int, profile: MemberProfile) -> dict[str, bytes | None]:
    values = _profile_json(profile)
    return {
        name: seal_value(data_key, json.dumps(values[name]).encode(), **field_binding(member_id, name, key_version))
        for name in PERSONAL_FIELDS
    }


def _open_member(node: Node, stored: StoredMember, salts: dict[int, bytes]) -> Member:
    profile = None
    if stored.sealed_data_key is not None and stored.kek_version is not None:
        data_key = open_value(
            node.keyring.kek(stored.kek_version, salts[stored.kek_version]),
            stored.sealed_data_key,
            **data_key_binding(stored.id, stored.kek_version, stored.data_key_version),
        )
        values = {}
        for name in PERSONAL_FIELDS:
            sealed = stored.sealed_fields[name]
            assert sealed is not None
            values[name] = json.loads(
                open_value(data_key, sealed, **field_binding(stored.id, name, stored.data_key_version))
            )
        profile = MemberProfile(
            name=values["name"],
            email=values["email"],
            profile=values["profile"],
            interests=tuple(values["interests"]),
            languages=tuple(values["languages"]),
            timezone=values["timezone"],
        )
    return Member(stored.id, stored.role, stored.status, stored.created_at, stored.updated_at, profile)


def _profile_json(profile: MemberProfile) -> dict[str, JsonValue]:
    return {
        "name": profile.name,
        "email": profile.email,
        "profile": profile.profile,
        "interests": list(profile.interests),
        "languages": list(profile.languages),
        "timezone": profile.timezone,
    }
