"""Group sessions and workshops. A mentor announces one in their availability (title, topic,
time, capacity), so every node's discovery lists it; mentees at any node register with the
host's client, which keeps the roster and its capacity and sends every participant the current
roster; messages go end to end to each participant separately (pairwise), so a member who left
is no longer on anyone's roster and gets nothing sent afterwards. Event types::

    group.join      {"group"}                                  participant -> host
    group.leave     {"group"}                                  participant -> host
    group.roster    {"group", "version", "members", "title", "topic", "starts_at", "minutes"}
                                                               host -> each participant
    group.declined  {"group", "reason"}                        host -> a would-be participant
    group.message   {"group", "body"}                          anyone on the roster -> everyone else on it
"""

from __future__ import annotations

import time
from typing import Any

from client.member import Address, ClientError, MemberClient, new_id
from protocol.announcement import MAX_GROUPS

JOIN = "group.join"
LEAVE = "group.leave"
ROSTER = "group.roster"
DECLINED = "group.declined"
MESSAGE = "group.message"
KINDS = frozenset({JOIN, LEAVE, ROSTER, DECLINED, MESSAGE})
MAX_BODY = 16 * 1024
MAX_KEPT_MESSAGES = 500


class Groups:
    """This member's group sessions (hosted or joined), kept in the keystore under ``groups``."""

    def __init__(self, member: MemberClient) -> None:
        self.member = member
        self.groups: dict[str, dict[str, Any]] = member.state.setdefault("groups", {})

    @property
    def me(self) -> str:
        return str(self.member.address)

    # --- hosting ------------------------------------------------------------------------------

    async def announce(self, title: str, topic: str, starts_at: int, minutes: int, capacity: int) -> str:
        """Add a group session to this mentor's announced availability; return its id."""
        availability = self.member.state.get("availability")
        if not isinstance(availability, dict):
            raise ClientError("announce your availability first ('mentornet client announce'); groups ride on it")
        now = int(time.time())
        if starts_at <= now:
            raise ClientError("a group session must start in the future")
        upcoming = [g for g in availability.get("groups", []) if g["starts_at"] > now]
        if len(upcoming) >= MAX_GROUPS:
            raise ClientError(f"at most {MAX_GROUPS} upcoming group sessions can be announced at once")
        group_id = new_id()
        group = {
            "id": group_id,
            "title": title,
            "topic": topic,
            "starts_at": starts_at,
            "minutes": minutes,
            "capacity": capacity,
        }
        await self.member.announce({**availability, "groups": [*upcoming, group]})
        self.groups[group_id] = {**group, "host": self.me, "role": "host", "version": 0, "members": [], "messages": []}
        self.member.keystore.save()
        return group_id

    # --- taking part --------------------------------------------------------------------------

    async def join(self, host: Address, group: dict[str, Any]) -> None:
        """Ask the host to register this member (``group`` as discovery listed it)."""
        group_id = str(group["group"])
        if str(host) == self.me:
            raise ClientError("you host this group session")
        if self.groups.get(group_id, {}).get("state") == "joined":
            raise ClientError(f"you are already on the roster of {group_id}")
        self.groups[group_id] = {
            "id": group_id,
            "title": group.get("title", ""),
            "topic": group.get("topic", ""),
            "starts_at": int(group.get("starts_at", 0)),
            "minutes": int(group.get("minutes", 0)),
            "host": str(host),
            "role": "participant",
            "state": "pending",
            "version": 0,
            "members": [],
            "messages": [],
        }
        self.member.keystore.save()
        await self.member.send_events(host, [{"type": JOIN, "group": group_id}])

    async def leave(self, group_id: str) -> None:
        record = self._record(group_id)
        if record["role"] == "host":
            raise ClientError("you host this group session; it ends when you withdraw your availability")
        record.update(state="left", members=[])
        self.member.keystore.save()
        await self.member.send_events(Address.parse(record["host"]), [{"type": LEAVE, "group": group_id}])

    async def send(self, group_id: str, body: str) -> int:
        """Send a message to everyone on the group's roster; return how many received it."""
        record = self._record(group_id)
        if record["role"] != "host" and record.get("state") != "joined":
            raise ClientError(f"you are not on the roster of group {group_id} (state: {record.get('state')})")
        if not 0 < len(body.encode()) <= MAX_BODY:
            raise ClientError(f"a group message holds 1 byte to {MAX_BODY // 1024} KiB")
        recipients = sorted(who for who in {record["host"], *record["members"]} if who != self.me)
        await self._send_each(recipients, {"type": MESSAGE, "group": group_id, "body": body})
        _keep(record, {"from": self.me, "body": body, "at": int(time.time())})
        self.member.keystore.save()
        return len(recipients)

    def listing(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in record.items() if k != "messages"} for record in self.groups.values()]

    def show(self, group_id: str) -> dict[str, Any]:
        return dict(self._record(group_id))

    # --- receiving ----------------------------------------------------------------------------

    async def on_event(self, sender: Address, event: dict[str, Any]) -> str:
        """Apply a group event its sender may send; the summary to show.

        Raises:
            ClientError: if the sender may not send it (the caller records the refusal).
        """
        kind, group_id = event.get("type"), str(event.get("group"))
        record = self.groups.get(group_id)
        if record is None:
            raise ClientError(f"no group {group_id} here")
        who = str(sender)
        if kind in (JOIN, LEAVE):
            if record["role"] != "host":
                raise ClientError("only the host keeps the roster")
            return await self._host_change(record, who, joining=kind == JOIN)
        if kind in (ROSTER, DECLINED) and who != record["host"]:
            raise ClientError("only the group's host sends its roster")
        if kind == DECLINED:
            record["state"] = "declined"
            return f"{who} could not register you for {record['title']!r}: {event.get('reason', '')}"
        if kind == ROSTER:
            version = event["version"]
            if not isinstance(version, int) or isinstance(version, bool):
                raise ClientError("the roster version must be an integer")
            if version <= record["version"]:
                raise ClientError(f"roster version {version} is not newer than {record['version']}")
            members = [str(m) for m in event["members"]]
            record.update(version=version, members=members, state="joined" if self.me in members else "left")
            for field in ("title", "topic", "starts_at", "minutes"):
                if field in event:
                    record[field] = event[field]
            place = "you are in" if self.me in members else "you are not"
            return f"group {record['title']!r}: {len(members)} registered ({place})"
        if kind == MESSAGE:
            if record["role"] != "host" and record.get("state") != "joined":
                raise ClientError("a message for a group you are not in")
            if who != record["host"] and who not in record["members"]:
                raise ClientError("a group message from someone not on its roster")
            body = str(event["body"])[:MAX_BODY]
            _keep(record, {"from": who, "body": body, "at": int(time.time())})
            return f"[{record['title']}] {who}: {body}"
        raise ClientError(f"unknown group event {kind!r}")

    async def _host_change(self, record: dict[str, Any], who: str, *, joining: bool) -> str:
        members: list[str] = record["members"]
        if joining:
            if who in members:
                await self._send_roster(record, [who])
                return f"{who} asked again to join {record['title']!r}"
            if record["starts_at"] <= int(time.time()):
                await self._decline(record, who, "it has already started")
                return f"{who} asked to join {record['title']!r} too late"
            if len(members) >= record["capacity"]:
                await self._decline(record, who, "it is full")
                return f"{who} asked to join {record['title']!r}, which is full"
            members.append(who)
        elif who in members:
            members.remove(who)
        else:
            raise ClientError("a leave from someone not on the roster")
        record["version"] += 1
        self.member.keystore.save()
        await self._send_roster(record, members)
        verb = "joined" if joining else "left"
        return f"{who} {verb} {record['title']!r} ({len(members)} of {record['capacity']})"

    async def _send_roster(self, record: dict[str, Any], recipients: list[str]) -> None:
        event = {
            "type": ROSTER,
            "group": record["id"],
            "version": record["version"],
            "members": record["members"],
            "title": record["title"],
            "topic": record["topic"],
            "starts_at": record["starts_at"],
            "minutes": record["minutes"],
        }
        await self._send_each(recipients, event)

    async def _send_each(self, recipients: list[str], event: dict[str, Any]) -> None:
        """Send to each recipient on its own: one that cannot be reached (or is blocked) does not
        keep the others from the roster; a failure is noted in the keystore."""
        for who in recipients:
            try:
                await self.member.send_events(Address.parse(who), [event])
            except Exception as exc:
                self.member.state.setdefault("group_send_failures", []).append(
                    {"to": who, "type": event["type"], "error": str(exc), "at": int(time.time())}
                )

    async def _decline(self, record: dict[str, Any], who: str, reason: str) -> None:
        await self.member.send_events(Address.parse(who), [{"type": DECLINED, "group": record["id"], "reason": reason}])

    def _record(self, group_id: str) -> dict[str, Any]:
        record = self.groups.get(group_id)
        if record is None:
            raise ClientError(f"no group session {group_id}; see 'mentornet client group list'")
        return record


def _keep(record: dict[str, Any], message: dict[str, Any]) -> None:
    record["messages"].append(message)
    del record["messages"][:-MAX_KEPT_MESSAGES]
