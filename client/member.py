"""The reference member client: registration, sessions, sending and receiving, safety numbers.

Everything secret lives in the member's :class:`~client.keystore.Keystore`. A message travels as

    sealed_box(recipient device's DH identity, pad({"v": 1, "from": {...}, "initial": {...} | null,
                                                     "ratchet": b64(Double Ratchet message)}))

and the ratchet plaintext is a typed event, ``{"type": "message", "id", "body", "sent_at"}``. The
``initial`` handshake header rides on every message of a new session until the other side has
answered, so whichever message arrives first can open the session.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import crypto
from client.api import ApiError, NodeApi
from client.keystore import Keystore
from crypto.errors import DecryptionFailed
from crypto.pqxdh import DeviceSecrets, InitialHeader, PreKeyKind, SignedPreKey, initiate, respond
from crypto.ratchet import DuplicateMessage, Session, TooManySkipped
from crypto.safety import safety_number
from crypto.sealed import open_sealed, seal
from protocol.addresses import NotABaseUrl, normalize_base_url
from protocol.devices import BundleWire, PreKeyWire, build_device_list, verify_device_list
from protocol.encoding import b64decode, b64encode
from protocol.errors import ProtocolError

DEVICE = "main"
ONE_TIME_PREKEYS = 50
REFILL_BELOW = 20
MAX_SEEN = 10_000
MAX_PREVIOUS_SESSIONS = 3
MAX_TRIES = 20  # receives that may leave one message for later before it is dropped
SIGNED_PREKEY_DAYS = 7
RETIRED_PREKEY_DAYS = 30
DAY_SECONDS = 86_400
STALE_HANDSHAKE_DAYS = RETIRED_PREKEY_DAYS - 7  # well before the other side may delete its pre-key
MAX_REQUEST_BYTES = 512 * 1024
MAX_TEXT_BYTES = 64 * 1024  # sealed with its envelope, it stays inside the largest padding bucket
MAX_EVENT_BYTES = MAX_TEXT_BYTES + 200  # the text and the event's own fields
PREKEYS_PER_REQUEST = 20  # about 36 kB a request


class ClientError(Exception):
    """Something the member must act on (the message says what)."""

    code = "client_error"


class IdentityChanged(ClientError):
    """A verified contact's identity key changed: sending is blocked until it is verified again."""

    code = "identity_changed"


@dataclass(frozen=True)
class Address:
    """A member somewhere in the federation: ``MEMBER_ID@NODE_URL``."""

    member: str
    node: str

    @classmethod
    def parse(cls, text: str) -> Address:
        """``MEMBER_ID@NODE_URL``, the node URL in its one spelling (lower-case host, no trailing ``/``)."""
        member, at, node = text.partition("@")
        try:
            if not at or not member:
                raise NotABaseUrl(node)
            return cls(member, normalize_base_url(node))
        except NotABaseUrl as exc:
            raise ClientError(f"{text!r} is not an address; expected MEMBER_ID@https://node.example") from exc

    def __str__(self) -> str:
        return f"{self.member}@{self.node}"


@dataclass(frozen=True)
class Sealed:
    """Messages ready for ``POST /client/v1/messages`` (``outgoing``) and the events they carry."""

    outgoing: list[dict[str, Any]]
    events: list[dict[str, Any]]


@dataclass(frozen=True)
class Received:
    sender: Address
    event: dict[str, Any]


class MemberClient:
    """A registered member device, with its keystore open."""

    def __init__(self, keystore: Keystore) -> None:
        self.keystore = keystore
        self.state = keystore.state
        self.device = DeviceSecrets.from_json(self.state["device_secrets"])

    # --- set-up -------------------------------------------------------------------------------

    @classmethod
    async def register(
        cls,
        node_url: str,
        invite_code: str,
        keystore_path: Path,
        passphrase: str,
        *,
        argon2: crypto.Argon2Params | None = None,
    ) -> MemberClient:
        """Redeem an invite, create this device's keys, and upload their public halves."""
        Keystore.ensure_absent(keystore_path)  # before the invite is spent
        try:
            node_url = normalize_base_url(node_url)
        except NotABaseUrl as exc:
            raise ClientError(f"{node_url!r} is not a node URL such as https://mentornet.uni.example") from exc
        device = DeviceSecrets.generate(one_time=ONE_TIME_PREKEYS)
        async with NodeApi(node_url) as api:
            registration = await api.register(invite_code)
        state: dict[str, Any] = {
            "node": node_url,
            "member": registration["member_id"],
            "token": registration["access_token"],
            "device": DEVICE,
            "device_secrets": device.to_json(),
            "contacts": {},
            "sessions": {},
            "conversations": {},
            "seen": [],
            "signed_prekeys_at": int(time.time()),
        }
        # The invite is spent: save the token before anything else can fail.
        client = cls(Keystore.create(keystore_path, passphrase, state, argon2))
        await client.upload_keys(one_time=True)
        return client

    @classmethod
    def open(cls, keystore_path: Path, passphrase: str) -> MemberClient:
        return cls(Keystore.open(keystore_path, passphrase))

    @property
    def address(self) -> Address:
        return Address(self.state["member"], self.state["node"])

    def api(self) -> NodeApi:
        return NodeApi(self.state["node"], self.state["token"])

    async def upload_keys(self, *, one_time: bool = False) -> dict[str, int]:
        """Upload the signed device list and the signed pre-keys; with ``one_time`` (only at
        registration) also every unused one-time pre-key. Later uploads never send one-time keys
        again: the node may already have handed some out, and each must go out only once."""
        device_list = build_device_list(
            self.device.signer,
            self.state["member"],
            1,
            {DEVICE: self.device.identity_dh().public_key},
        )
        upload = {
            "device_list": device_list,
            "identity_dh": _wire(self.device.identity_dh()),
            "signed_prekey": _wire(self.device.public_prekey(PreKeyKind.X25519, self.device.signed_prekey_id)),
            "pq_prekey": _wire(self.device.public_prekey(PreKeyKind.MLKEM768, self.device.pq_prekey_id)),
            "one_time_prekeys": [],
        }
        async with self.api() as api:
            answer = await api.put_device(DEVICE, upload)
            if one_time:
                return await _upload_prekeys(api, self.device.one_time_prekeys())
            return dict(answer["one_time_prekeys"])

    async def refill_prekeys(self) -> int:
        """Top up one-time pre-keys when the node has fewer than :data:`REFILL_BELOW` of a kind left."""
        async with self.api() as api:
            counts = await api.prekey_counts(DEVICE)
            low = min(counts.get(kind.value, 0) for kind in PreKeyKind)
            if low >= REFILL_BELOW:
                return 0
            made = self.device.new_one_time_prekeys(ONE_TIME_PREKEYS - low)
            self._save()
            await _upload_prekeys(api, made)
        return len(made)

    async def announce(self, availability: dict[str, Any], lifetime_days: int | None = None) -> dict[str, Any]:
        """Publish this mentor's availability; the client keeps it to check proposed session times."""
        upcoming = [g for g in self.state.get("availability", {}).get("groups", []) if g["starts_at"] > time.time()]
        if "groups" not in availability and upcoming:
            availability = {**availability, "groups": upcoming}  # a new announcement keeps the group sessions
        async with self.api() as api:
            answer = await api.put_availability(availability, lifetime_days)
        # As declared (the announcement carries the places still open, not the capacity).
        self.state["availability"] = availability
        self._save()
        return dict(answer["announcement"])

    async def withdraw(self) -> dict[str, Any]:
        """Withdraw this mentor's availability everywhere (and the group sessions riding on it)."""
        async with self.api() as api:
            answer = await api.delete_availability()
        self.state.pop("availability", None)
        self._save()
        return dict(answer["announcement"])

    # --- sending ------------------------------------------------------------------------------

    async def send(self, to: Address, body: str) -> str:
        """Send a text message; return its id."""
        return (await self.send_many(to, [body]))[0]

    async def send_many(self, to: Address, bodies: list[str]) -> list[str]:
        """Send several text messages to one member (every device), in order; return their ids."""
        return await self.send_events(to, [text_event(body) for body in bodies])

    async def send_events(self, to: Address, events: list[dict[str, Any]], *, durable: bool = False) -> list[str]:
        """Send typed events (``{"type": ...}``) to one member, in order; return their ids.

        With ``durable``, the events are saved in the keystore first and, if the node cannot be
        reached now, sent by a later :meth:`receive` (in order, before anything newer): the member's
        own state has already moved, so the other member must hear of it. A :class:`ClientError`
        then says so.
        """
        if durable:
            # Ids given now: a resend after a lost answer is then a duplicate the nodes drop.
            events = [{**event, "id": event.get("id") or secrets.token_urlsafe(16)} for event in events]
            entry = {"key": secrets.token_hex(8), "to": str(to), "events": events, "tries": 0}
            self.state.setdefault("unsent", []).append(entry)
            self._save()
            try:
                sent = await self.flush_unsent()
            except ApiError as exc:
                raise ClientError(f"saved; it will be sent with your next 'receive' ({exc})") from exc
            dropped = [d for d in self.state.get("dropped", []) if d.get("unsent") == entry["key"]]
            if dropped:
                raise ClientError(str(dropped[-1]["what"]))
            return sent
        sealed = await self.seal_events(to, events)
        async with self.api() as api:
            for request in send_requests(sealed.outgoing):
                results = await api.send(request)
                refused = [r for r in results if r.get("status") == "rejected"]
                if refused:
                    raise ClientError(f"the node refused {len(refused)} message(s): {refused[0].get('message')}")
        for event in sealed.events:
            self._remember(to, "out", event)
        self._save()
        return [str(event["id"]) for event in sealed.events]

    async def flush_unsent(self) -> list[str]:
        """Send the saved events that could not be sent before, oldest first; return their ids.

        An entry the node refuses for good (or that fails :data:`MAX_TRIES` times) is dropped and
        noted, so it cannot hold back the rest; one for a contact whose identity changed waits until
        it is verified again.

        Raises:
            ApiError: if the node cannot be reached, or refuses this member (401/403): the entries
                stay saved.
        """
        sent: list[str] = []
        unsent = self.state.setdefault("unsent", [])
        while unsent:
            entry = unsent[0]
            try:
                sent += await self.send_events(Address.parse(entry["to"]), entry["events"])
            except ApiError as exc:
                entry["tries"] = entry.get("tries", 0) + 1
                if (exc.passing or exc.status in (401, 403)) and entry["tries"] < MAX_TRIES:
                    self._save()
                    raise
                self._note_dropped(f"events for {entry['to']} the node refused: {exc}", unsent=entry.get("key"))
            except IdentityChanged:
                raise
            except Exception as exc:  # anything else about this entry must not hold back the rest
                self._note_dropped(f"events for {entry['to']} could not be sent: {exc}", unsent=entry.get("key"))
            unsent.pop(0)
            self._save()
        return sent

    async def seal_messages(self, to: Address, bodies: list[str]) -> Sealed:
        """Encrypt text messages without sending them (see :meth:`seal_events`)."""
        return await self.seal_events(to, [text_event(body) for body in bodies])

    async def seal_events(self, to: Address, events: list[dict[str, Any]]) -> Sealed:
        """Encrypt events for every device of ``to`` without sending them; each gets an ``id`` and
        ``sent_at``. The advanced ratchets are saved first, so a message key is never used twice
        even if sending fails."""
        if any(_too_large(event) for event in events):
            raise ClientError(f"a message holds at most {MAX_TEXT_BYTES // 1024} KiB of text; split it or share a file")
        async with self.api() as api:
            sessions = await self._sessions_for(api, to)
        outgoing: list[dict[str, Any]] = []
        stamped: list[dict[str, Any]] = []
        for event in events:
            message_id = str(event.get("id") or secrets.token_urlsafe(16))
            event = {**event, "id": message_id, "sent_at": int(time.time())}
            for device_id, record in sessions.items():
                outgoing.append(await self._seal_event(to, device_id, record, event, message_id))
            stamped.append(event)
        self._save()
        return Sealed(outgoing, stamped)

    async def _sessions_for(self, api: NodeApi, to: Address) -> dict[str, dict[str, Any]]:
        """The sessions with each of a contact's devices, starting new ones from fresh bundles."""
        if str(to) in self.state.get("blocked", {}):
            raise ClientError(f"you blocked {to}; unblock them first ('mentornet client unblock {to}')")
        contact = self.state["contacts"].get(str(to))
        if contact and contact.get("verified_key") and contact["verified_key"] != contact["identity_key"]:
            raise IdentityChanged(
                f"{to}'s identity key changed since you verified it; compare safety numbers again "
                f"('mentornet client verify {to}') before sending"
            )
        stale_before = int(time.time()) - STALE_HANDSHAKE_DAYS * DAY_SECONDS
        for key in [k for k in self.state["sessions"] if k.rpartition("#")[0] == str(to)]:
            record = self.state["sessions"][key]
            if record.get("initial") and record.get("started_at", stale_before) < stale_before:
                # Never answered, and the pre-key it was made with may be gone by now: start again.
                del self.state["sessions"][key]
        existing = {
            key.rpartition("#")[2]: record
            for key, record in self.state["sessions"].items()
            if key.rpartition("#")[0] == str(to)
        }
        if existing:
            return existing
        keys = await api.keys(to.node, to.member)
        identity = self._check_identity(to, keys["device_list"])
        made: dict[str, dict[str, Any]] = {}
        for raw in keys["bundles"]:
            try:
                bundle = BundleWire.model_validate_json(json.dumps(raw)).bundle()
            except (ProtocolError, ValueError) as exc:
                raise ClientError(f"{to}'s key bundle does not verify: {exc}") from exc
            if bundle.identity_key != identity:
                raise ClientError(f"{to}'s key bundle is not signed by the identity in its device list")
            agreement, header = initiate(self.device, bundle)
            made[raw["device"]] = {
                "secret": agreement.shared_secret.hex(),
                "ad": agreement.associated_data.hex(),
                "ratchet_key": bundle.signed_prekey.public_key.hex(),
                "device_dh": bundle.identity_dh.public_key.hex(),
                "initial": _header_json(header),
                "session": None,
                "started_at": int(time.time()),
            }
        if not made:
            raise ClientError(f"{to} has no registered device")
        for device_id, record in made.items():
            self.state["sessions"][f"{to}#{device_id}"] = record
        return made

    async def _seal_event(
        self, to: Address, device_id: str, record: dict[str, Any], event: dict[str, Any], message_id: str
    ) -> dict[str, Any]:
        plaintext = _event_bytes(event)
        if record["session"] is None:
            session, ratchet = await Session.initiate(
                bytes.fromhex(record["secret"]),
                bytes.fromhex(record["ad"]),
                bytes.fromhex(record["ratchet_key"]),
                plaintext,
            )
            record["secret"] = None  # the root secret now lives only inside the ratchet
        else:
            session = Session.from_json(record["session"])
            ratchet = await session.encrypt(plaintext)
        record["session"] = session.to_json()
        outer = {
            "v": 1,
            "from": {"node": self.state["node"], "member": self.state["member"], "device": DEVICE},
            "initial": record.get("initial"),
            "ratchet": b64encode(ratchet),
        }
        sealed = seal(bytes.fromhex(record["device_dh"]), json.dumps(outer).encode())
        return {
            "to": {"node": to.node, "member": to.member, "device": device_id},
            "id": f"{message_id}-{device_id}",
            "ciphertext": b64encode(sealed),
        }

    # --- receiving ----------------------------------------------------------------------------

    async def receive(self, *, wait: float = 0) -> list[Received]:
        """Fetch, decrypt and acknowledge waiting messages; return the new events in order.

        A message that can never be read (not for this device, forged, malformed) is noted in
        the keystore's ``dropped`` list and acknowledged, so it cannot block the mailbox; one that
        failed for a passing reason (the sender's node did not answer) stays for the next receive.
        """
        received: list[Received] = []
        async with self.api() as api:
            try:
                messages = await api.receive(DEVICE, wait=wait)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                await self.upload_keys()  # the node lost or never got this device's keys
                await self.refill_prekeys()  # with fresh one-time keys, never the ones sent before
                messages = await api.receive(DEVICE, wait=wait)
            done: list[str] = []
            later = self.state.setdefault("later", {})
            for message in messages:
                message_id = str(message.get("id"))
                try:
                    event = await self._open(api, message)
                except _TryLater:
                    later[message_id] = later.get(message_id, 0) + 1
                    if later[message_id] < MAX_TRIES:
                        continue
                    self._note_dropped(f"a message whose sender could not be checked in {MAX_TRIES} tries")
                    event = None
                except Exception as exc:  # whatever a sender put in it, it must not block the mailbox
                    self._note_dropped(f"a message that could not be read: {type(exc).__name__}: {exc}")
                    event = None
                if event is not None:
                    received.append(event)
                later.pop(message_id, None)
                done.append(message_id)
            # Saved before acknowledging: after a crash in between, the node delivers again and the
            # ratchet recognizes the duplicates.
            self._save()
            if done:
                try:
                    await api.acknowledge(DEVICE, done)
                except ApiError as exc:  # they come again and are recognized as seen: keep what was read
                    self.state.setdefault("upkeep_errors", []).append({"at": int(time.time()), "error": str(exc)})
        try:  # upkeep: a failure here must not hide the messages just received
            async with self.api() as api:
                await self._block_at_node(api)
            await self.flush_unsent()
            if received:
                await self.refill_prekeys()
            await self.rotate_signed_prekeys_if_due()
        except Exception as exc:
            self.state.setdefault("upkeep_errors", []).append({"at": int(time.time()), "error": str(exc)})
            del self.state["upkeep_errors"][:-MAX_TRIES]
            self._save()
        return received

    async def rotate_signed_prekeys_if_due(self, now: int | None = None) -> bool:
        """Every :data:`SIGNED_PREKEY_DAYS` days, replace the signed pre-keys (both kinds) and upload
        them; the old private halves are kept :data:`RETIRED_PREKEY_DAYS` days for handshakes still
        on their way, then deleted. Limits what a stolen device exposes of past first messages.
        Returns whether it rotated."""
        now = int(time.time()) if now is None else now
        forgotten = self.device.forget_retired(now - RETIRED_PREKEY_DAYS * DAY_SECONDS)
        due = now - int(self.state.get("signed_prekeys_at", now)) >= SIGNED_PREKEY_DAYS * DAY_SECONDS
        if due:
            self.device.rotate_signed_prekeys(now)
            self.state["signed_prekeys_at"] = now
            self.state["signed_prekeys_uploaded"] = False
        if due or forgotten:
            self._save()  # before the upload: the new private halves must not be lost
        if not self.state.get("signed_prekeys_uploaded", True):
            await self.upload_keys()  # retried at the next receive if it fails
            self.state["signed_prekeys_uploaded"] = True
            self._save()
        return due

    async def _open(self, api: NodeApi, message: dict[str, Any]) -> Received | None:
        """One message's event, or ``None`` if it is to be dropped (noted). Raises :class:`_TryLater`."""
        if message.get("id") in self.state["seen"]:
            return None
        try:
            outer = _outer(open_sealed(self.device.identity_dh_private, b64decode(str(message.get("ciphertext")))))
        except (crypto.CryptoError, ProtocolError, ClientError) as exc:
            self._note_dropped(f"a message that is not a sealed message for this device: {exc}")
            return None
        sender, device_id, initial, ratchet = outer
        key = f"{sender}#{device_id}"
        record = self.state["sessions"].get(key)
        try:
            if initial is not None and initial["ephemeral_key"] not in self.state.setdefault("accepted_handshakes", []):
                plaintext = await self._accept(api, sender, device_id, initial, ratchet)
            elif record is not None and (record.get("session") or record.get("previous")):
                plaintext = await _decrypt_any(record, ratchet)
            else:
                self._note_dropped(f"a message from {sender} outside any session")
                return None
        except DuplicateMessage:
            return None
        except ApiError as exc:
            if exc.passing:
                raise _TryLater from exc
            self._note_dropped(f"a message from {sender} whose sender cannot be checked: {exc}")
            return None
        except (crypto.CryptoError, ClientError) as exc:
            self._note_dropped(f"a message from {sender} that does not decrypt: {exc}")
            return None
        try:
            event = json.loads(plaintext)
        except ValueError:
            event = None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            self._note_dropped(f"a message from {sender} that is not an event")
            return None
        self._learn_handle(sender, message)
        if str(sender) in self.state.setdefault("blocked", {}):
            self.state["seen"] = (self.state["seen"] + [message.get("id")])[-MAX_SEEN:]
            return None  # blocked: dropped here too, until the node drops them itself
        self._remember(sender, "in", event)
        self.state["seen"] = (self.state["seen"] + [message.get("id")])[-MAX_SEEN:]
        return Received(sender, event)

    async def _accept(
        self, api: NodeApi, sender: Address, device_id: str, initial: dict[str, Any], ratchet: bytes
    ) -> bytes:
        header = _header_from_json(initial)
        listed = await api.keys(sender.node, sender.member, bundles=False)
        identity = self._check_identity(sender, listed.get("device_list"))
        if header.identity_key != identity:
            raise ClientError(f"the sender's identity key is not the one {sender}'s home node lists")
        device_dh = next(
            (b64decode(d["identity_dh"]) for d in listed["device_list"]["devices"] if d["id"] == device_id), None
        )
        if device_dh != header.identity_dh:
            raise ClientError(f"{sender} lists no device {device_id!r} with that key")
        agreement = respond(self.device, header)
        session, plaintext = await Session.accept(
            agreement.shared_secret,
            agreement.associated_data,
            self.device.ratchet_private(header.signed_prekey_id),
            ratchet,
        )
        # The first message authenticated: only now are the one-time pre-keys it used deleted.
        self.device.consume(header)
        self.state["accepted_handshakes"] = (self.state["accepted_handshakes"] + [initial["ephemeral_key"]])[-MAX_SEEN:]
        earlier = self.state["sessions"].get(f"{sender}#{device_id}") or {}
        self.state["sessions"][f"{sender}#{device_id}"] = {
            "secret": None,
            "ad": agreement.associated_data.hex(),
            "ratchet_key": None,
            "device_dh": device_dh.hex(),
            "initial": None,
            "session": session.to_json(),
            # Both sides may have started a session at once: keep ours to read what comes in it.
            "previous": [state for state in [earlier.get("session"), *earlier.get("previous", [])] if state][
                :MAX_PREVIOUS_SESSIONS
            ],
        }
        return plaintext

    # --- safety -------------------------------------------------------------------------------

    async def block(self, who: Address) -> bool:
        """Block a member: their messages are dropped here at once and, as soon as the handle their
        messages carry is known (from any message of theirs), at the home node too. Returns whether
        the node already drops them."""
        self.state.setdefault("blocked", {}).setdefault(str(who), {"at_node": False})
        self._save()
        async with self.api() as api:
            await self._block_at_node(api)
        return bool(self.state["blocked"][str(who)]["at_node"])

    async def unblock(self, who: Address) -> None:
        """Unblock a member: at the node first (the block there stays if this fails, and so does
        this client's, to try again)."""
        entry = self.state.setdefault("blocked", {}).get(str(who))
        if entry and entry.get("at_node"):
            async with self.api() as api:
                await api.unblock(entry["origin"], entry["sender"])
        self.state["blocked"].pop(str(who), None)
        self._save()

    def blocked(self) -> dict[str, bool]:
        return {who: bool(entry.get("at_node")) for who, entry in self.state.setdefault("blocked", {}).items()}

    async def report(self, who: Address, reason: str, evidence_ids: list[str], *, anonymous: bool = False) -> str:
        """Report a member to their home node's operator with the messages chosen as evidence
        (their content is revealed to that operator); return the report's id there."""
        history = {str(item.get("id")): item for item in self.state["conversations"].get(str(who), [])}
        missing = [message_id for message_id in evidence_ids if message_id not in history]
        if missing:
            raise ClientError(f"no message {missing[0]} in your conversation with {who}")
        evidence = [history[message_id] for message_id in evidence_ids]
        body = {
            "node": who.node,
            "member": who.member,
            "reason": reason,
            "evidence": evidence,
            "reporter": None if anonymous else str(self.address),
        }
        async with self.api() as api:
            answer = await api.report(body)
        return str(answer["report_id"])

    def _learn_handle(self, sender: Address, message: dict[str, Any]) -> None:
        """Remember the handle a sender's messages carry (only if they came from the sender's own node)."""
        handle, origin = message.get("sender"), message.get("origin")
        if isinstance(handle, str) and handle and isinstance(origin, str):
            try:
                same_node = normalize_base_url(origin) == sender.node
            except NotABaseUrl:
                same_node = False
            if same_node:
                self.state.setdefault("handles", {})[str(sender)] = {"origin": sender.node, "sender": handle}

    async def _block_at_node(self, api: NodeApi) -> None:
        handles = self.state.setdefault("handles", {})
        for who, entry in self.state.setdefault("blocked", {}).items():
            if not entry.get("at_node") and who in handles and not entry.get("refused"):
                try:
                    await api.block(handles[who]["origin"], handles[who]["sender"])
                except ApiError as exc:
                    if exc.passing:
                        raise
                    entry["refused"] = str(exc)  # the client keeps dropping them; not asked again
                else:
                    entry.update(at_node=True, **handles[who])  # the handle blocked, for unblocking
                self._save()

    # --- contacts -----------------------------------------------------------------------------

    def _check_identity(self, who: Address, raw_list: object) -> bytes:
        """Verify a contact's device list; pin its identity key on first sight, note a change."""
        if not isinstance(raw_list, dict):
            raise ClientError(f"the node served no device list for {who}")
        try:
            device_list = verify_device_list(raw_list)
        except ProtocolError as exc:
            raise ClientError(f"{who}'s device list does not verify: {exc}") from exc
        if device_list.member != who.member:
            raise ClientError(f"the device list served for {who} names another member")
        identity = b64decode(device_list.identity_key)
        contact = self.state["contacts"].setdefault(str(who), {"identity_key": identity.hex(), "verified_key": None})
        if contact["identity_key"] != identity.hex():
            contact["identity_key"] = identity.hex()
            for key in [k for k in self.state["sessions"] if k.rpartition("#")[0] == str(who)]:
                del self.state["sessions"][key]  # sessions with the old identity are void
            if contact["verified_key"]:
                raise IdentityChanged(f"{who}'s identity key changed since you verified it")
        return identity

    def safety_number(self, contact: Address) -> str:
        known = self.state["contacts"].get(str(contact))
        if known is None:
            raise ClientError(f"no session with {contact} yet; send or receive a message first")
        return safety_number(
            self.device.identity_key, str(self.address), bytes.fromhex(known["identity_key"]), str(contact)
        )

    def mark_verified(self, contact: Address) -> None:
        """Record that the member compared the safety number with ``contact`` and it matched."""
        known = self.state["contacts"].get(str(contact))
        if known is None:
            raise ClientError(f"no session with {contact} yet")
        known["verified_key"] = known["identity_key"]
        self._save()

    def is_verified(self, contact: Address) -> bool:
        known = self.state["contacts"].get(str(contact)) or {}
        return bool(known.get("verified_key")) and known.get("verified_key") == known.get("identity_key")

    def conversations(self) -> dict[str, list[dict[str, Any]]]:
        return dict(self.state["conversations"])

    # --- helpers ------------------------------------------------------------------------------

    def _remember(self, who: Address, direction: str, event: dict[str, Any]) -> None:
        self.state["conversations"].setdefault(str(who), []).append({"direction": direction, **event})

    def _note_dropped(self, what: str, *, unsent: str | None = None) -> None:
        note: dict[str, Any] = {"at": int(time.time()), "what": what}
        if unsent is not None:
            note["unsent"] = unsent
        self.state.setdefault("dropped", []).append(note)

    def _save(self) -> None:
        self.state["device_secrets"] = self.device.to_json()
        self.keystore.save()


async def _upload_prekeys(api: NodeApi, prekeys: list[SignedPreKey]) -> dict[str, int]:
    """Upload one-time pre-keys in requests of :data:`PREKEYS_PER_REQUEST` (an ML-KEM pre-key is
    about 1.7 kB on the wire, so a node with a small ``server.max_body_bytes`` still takes them);
    return the node's counts after the last one."""
    counts: dict[str, int] = {}
    for start in range(0, len(prekeys), PREKEYS_PER_REQUEST):
        answer = await api.add_prekeys(DEVICE, [_wire(key) for key in prekeys[start : start + PREKEYS_PER_REQUEST]])
        counts = dict(answer["one_time_prekeys"])
    return counts


def send_requests(outgoing: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split messages into send requests of at most 100 messages and about 512 KB each."""
    requests: list[list[dict[str, Any]]] = [[]]
    size = 0
    for message in outgoing:
        length = len(message["ciphertext"]) + 300
        if requests[-1] and (len(requests[-1]) == 100 or size + length > MAX_REQUEST_BYTES):
            requests.append([])
            size = 0
        requests[-1].append(message)
        size += length
    return [request for request in requests if request]


def _wire(key: SignedPreKey) -> dict[str, Any]:
    return dict(json.loads(PreKeyWire.of(key).model_dump_json()))


def new_id() -> str:
    """A random id for a mentorship, session, goal, group or resource: 24 hex digits, which a
    command line never mistakes for an option (no leading ``-``)."""
    return secrets.token_hex(12)


def text_event(body: str) -> dict[str, Any]:
    return {"type": "message", "body": body}


def _too_large(event: dict[str, Any]) -> bool:
    if event.get("type") == "message":  # the limit members see is on their text
        return len(_event_bytes({"body": event.get("body")})) > MAX_TEXT_BYTES
    return len(_event_bytes(event)) > MAX_EVENT_BYTES


def _event_bytes(event: dict[str, Any]) -> bytes:
    """An event as the ratchet encrypts it: UTF-8 JSON, text not escaped (its size is its text's)."""
    return json.dumps(event, ensure_ascii=False).encode()


async def _decrypt_any(record: dict[str, Any], ratchet: bytes) -> bytes:
    """Decrypt with the current session, else with a previous one, which then becomes current:
    when both members started a session at once, the two converge on whichever is used.

    Raises:
        DuplicateMessage: if a session already decrypted this message.
        DecryptionFailed: if no session of this contact's device can.
    """
    candidates = [state for state in [record.get("session"), *record.get("previous", [])] if state]
    for index, state in enumerate(candidates):
        session = Session.from_json(state)
        try:
            plaintext = await session.decrypt(ratchet)
        except (DecryptionFailed, TooManySkipped):
            continue
        others = [other for position, other in enumerate(candidates) if position != index]
        record["session"], record["previous"] = session.to_json(), others[:MAX_PREVIOUS_SESSIONS]
        record["initial"] = None  # they wrote in this session: no handshake header is needed any more
        return plaintext
    raise DecryptionFailed("the message does not decrypt in any session with this device")


class _TryLater(Exception):
    """A message could not be read for a passing reason: leave it in the mailbox."""


def _outer(opened: bytes) -> tuple[Address, str, dict[str, Any] | None, bytes]:
    """The checked parts of an opened envelope: sender, device, handshake header, ratchet message.

    Raises:
        ClientError: if any part is missing or of the wrong type.
    """
    try:
        outer = json.loads(opened)
        sender, initial = outer["from"], outer.get("initial")
        node, member, device = sender["node"], sender["member"], sender["device"]
        if not all(isinstance(v, str) for v in (node, member, device)) or not isinstance(outer["ratchet"], str):
            raise ClientError("the envelope's sender or ratchet message is malformed")
        if initial is not None and (not isinstance(initial, dict) or not isinstance(initial.get("ephemeral_key"), str)):
            raise ClientError("the envelope's handshake header is malformed")
        return Address.parse(f"{member}@{node}"), device, initial, b64decode(outer["ratchet"], field="ratchet")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ClientError(f"a malformed envelope: {exc}") from exc


def _header_json(header: InitialHeader) -> dict[str, Any]:
    return {
        "identity_key": b64encode(header.identity_key),
        "identity_dh": b64encode(header.identity_dh),
        "ephemeral_key": b64encode(header.ephemeral_key),
        "signed_prekey_id": header.signed_prekey_id,
        "one_time_prekey_id": header.one_time_prekey_id,
        "pq_prekey_id": header.pq_prekey_id,
        "pq_ciphertext": b64encode(header.pq_ciphertext),
    }


def _header_from_json(data: dict[str, Any]) -> InitialHeader:
    try:
        return InitialHeader(
            identity_key=b64decode(data["identity_key"]),
            identity_dh=b64decode(data["identity_dh"]),
            ephemeral_key=b64decode(data["ephemeral_key"]),
            signed_prekey_id=int(data["signed_prekey_id"]),
            one_time_prekey_id=None if data["one_time_prekey_id"] is None else int(data["one_time_prekey_id"]),
            pq_prekey_id=int(data["pq_prekey_id"]),
            pq_ciphertext=b64decode(data["pq_ciphertext"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ClientError(f"a malformed handshake header: {exc}") from exc
