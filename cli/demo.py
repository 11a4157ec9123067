"""``mentornet demo``: three institutions' nodes on 127.0.0.1, one mentorship end to end, and a
workshop with a shared file.

Everything is real: three nodes (embedded SQLite, temporary data directories) peered with pinned
keys, members registered through invites with their own device keys, announcements signed and
pushed, discovery on the mentee's own node, and every mentorship event end-to-end encrypted.
At the end every file the nodes wrote is searched for the texts the members exchanged.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from cli.output import emit
from client.groups import Groups
from client.member import MemberClient
from client.mentoring import Mentoring, Update
from client.resources import Resources
from node.announcements import publish_availability
from node.local import LocalNode, peer_all
from node.logs import JsonFormatter
from node.members import MemberProfile, invite_member
from protocol.lifecycle import Action
from protocol.scheduling import Slot, local_to_utc

LOG_FILE = "nodes.log"
PASSPHRASE = "mentornet demo passphrase"  # noqa: S105 (printed for the member to try the CLI; a demo only)
INSTITUTIONS = ("Northfield University", "Riverside Robotics Inc.", "Open Minds Foundation")


@dataclass(frozen=True)
class Person:
    name: str
    institution: int
    role: str
    zone: str
    availability: dict[str, Any] | None = None


def _window(day: int, start: str, end: str) -> dict[str, int]:
    def minutes(text: str) -> int:
        hours, _, mins = text.partition(":")
        return int(hours) * 60 + int(mins)

    return {"day": day, "start_minute": minutes(start), "end_minute": minutes(end)}


PEOPLE = (
    Person(
        "Carlos Ortega",
        1,
        "mentor",
        "Europe/Madrid",
        {
            "display_name": "Carlos Ortega",
            "bio": "Robotics lead; helps with ML research careers and thesis planning.",
            "topics": ["machine-learning", "robotics"],
            "languages": ["en", "es"],
            "timezone": "Europe/Madrid",
            "windows": [_window(2, "09:00", "12:00"), _window(4, "09:00", "12:00")],
            "capacity": 2,
            "credentials": [{"title": "PhD in Computer Science", "verified": True}],
        },
    ),
    Person(
        "Aiko Tanaka",
        2,
        "mentor",
        "Asia/Tokyo",
        {
            "display_name": "Aiko Tanaka",
            "bio": "UX researcher; mentors career changers.",
            "topics": ["ux-design", "machine-learning"],
            "languages": ["en", "ja"],
            "timezone": "Asia/Tokyo",
            "windows": [_window(1, "18:00", "21:00"), _window(3, "18:00", "21:00")],
            "capacity": 1,
        },
    ),
    Person(
        "Priya Raman",
        0,
        "mentor",
        "Asia/Kolkata",
        {
            "display_name": "Priya Raman",
            "topics": ["data-engineering"],
            "languages": ["en", "hi"],
            "timezone": "Asia/Kolkata",
            "windows": [_window(5, "14:00", "17:00")],
            "capacity": 3,
        },
    ),
    Person("Mina Okafor", 0, "mentee", "Europe/London"),
    Person("Tom Weber", 2, "mentee", "Europe/Berlin"),
)


@dataclass
class Demo:
    """The running demo: nodes, members' clients, and what was said (to look for afterwards)."""

    root: Path
    as_json: bool
    nodes: list[LocalNode] = field(default_factory=list)
    members: dict[str, Mentoring] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)

    def say(self, text: str = "", *, names: bool = True) -> None:
        """Print for a person (with ``names``, members named rather than by their addresses)."""
        if self.as_json:
            return
        for name, client in self.members.items() if names else ():
            text = text.replace(str(client.member.address), name)
        click.echo(text)

    def step(self, title: str, **details: Any) -> None:
        number = len(self.steps) + 1
        self.steps.append({"step": number, "title": title, **details})
        self.say(f"\n[{number}] {title}")

    def said(self, text: str) -> str:
        """A text a member exchanges: the privacy check looks for it in every file of every node."""
        self.secrets.append(text)
        return text


async def run_demo(demo: Demo) -> dict[str, Any]:
    """Walk through every step; the nodes keep running (the caller stops them)."""
    await _start(demo)
    await _register(demo)
    await _announce(demo)
    carlos, mina = demo.members["Carlos Ortega"], demo.members["Mina Okafor"]
    request_id = await _discover_and_request(demo, mina, carlos)
    await _converse(demo, mina, carlos)
    await _schedule(demo, mina, carlos, request_id)
    await _goals_and_feedback(demo, mina, carlos, request_id)
    await _workshop_and_file(demo, demo.members["Aiko Tanaka"], mina, demo.members["Tom Weber"])
    return {"steps": demo.steps, "privacy": _privacy_check(demo), "data_dir": str(demo.root)}


async def _start(demo: Demo) -> None:
    demo.step("Three institutions start their nodes (embedded SQLite, each in its own data directory)")
    for index, name in enumerate(INSTITUTIONS):
        local = await LocalNode.create(demo.root / f"node{index + 1}", name)
        await local.start()
        demo.nodes.append(local)
        demo.say(f"    {name:<26} {local.url}   data: {local.config.data_dir}")
    await peer_all(demo.nodes)
    fingerprints = [await local.fingerprint() for local in demo.nodes]
    demo.say("    Peered: each node pinned the others' signing-key fingerprints:")
    for local, fingerprint in zip(demo.nodes, fingerprints, strict=True):
        demo.say(f"      {local.name:<26} {fingerprint}")
    demo.steps[-1]["nodes"] = [{"name": n.name, "url": n.url} for n in demo.nodes]


async def _register(demo: Demo) -> None:
    demo.step("Operators invite members; each member's client makes its own keys and redeems the invite")
    for person in PEOPLE:
        local = demo.nodes[person.institution]
        email = f"{person.name.split()[0].lower()}@{local.name.split()[0].lower()}.example"
        invitation = await invite_member(
            local.node, MemberProfile.validated(name=person.name, email=email), person.role
        )
        member = await MemberClient.register(
            local.url, invitation.code, demo.root / "keystores" / f"{email}.keystore", PASSPHRASE
        )
        demo.members[person.name] = Mentoring(member)
        demo.say(f"    {person.name:<14} {person.role:<6} at {local.name:<26} {member.address}", names=False)


async def _announce(demo: Demo) -> None:
    demo.step("Mentors publish availability: signed by their node, pushed to the peers")
    for person in PEOPLE:
        if person.availability is None:
            continue
        local, client = demo.nodes[person.institution], demo.members[person.name]
        # The operator checked the credential and publishes it as verified; the mentor's client
        # then republishes (keeping it verified) and remembers its windows for scheduling.
        await publish_availability(local.node, client.member.state["member"], person.availability)
        await client.member.announce(dict(person.availability))
        demo.say(
            f"    {person.name:<14} topics {', '.join(person.availability['topics'])}; "
            f"{person.availability['capacity']} place(s)"
        )

    async def everyone_sees_every_mentor() -> bool:
        for client in demo.members.values():
            async with client.member.api() as api:
                found = await api.mentors([("include_full", "true"), ("limit", "50")])
            if found["count"] < 3:
                return False
        return True

    await _until(everyone_sees_every_mentor, "the announcements reaching every node")
    demo.say("    Every node's discovery index now holds all three mentors.")


async def _discover_and_request(demo: Demo, mina: Mentoring, carlos: Mentoring) -> str:
    demo.step("Discovery: Mina searches on her own node; the query never leaves it")
    async with mina.member.api() as api:
        found = await api.mentors(
            [
                ("topic", "machine-learning"),
                ("language", "en"),
                ("timezone", "Europe/London"),
                ("window", "tue:08:00-12:00"),
            ]
        )
    for rank, item in enumerate(found["results"], 1):
        demo.say(f"    {rank}. {item['display_name']} ({item['institution']}), score {item['score']}")
        for reason in item["why"]["reasons"]:
            demo.say(f"         - {reason}")
    demo.steps[-1]["results"] = [r["display_name"] for r in found["results"]]

    demo.step("Mina asks Carlos for mentoring; he accepts, and his node re-announces one place fewer")
    message = demo.said("I am starting a master's thesis on robot grasping and would value your guidance.")
    request_id = await mina.request(carlos.member.address, message, [demo.said("Plan my thesis")], 12)
    demo.say(f"    Mina -> Carlos: request {request_id} (12 weeks; answer due within 14 days)")
    for update in await _updates(carlos, 1):
        demo.say(f"    Carlos's client: {update.summary}")
    await carlos.move(request_id, Action.VIEW)
    await carlos.move(request_id, Action.ACCEPT)
    for update in await _updates(mina, 2):
        demo.say(f"    Mina's client:   {update.summary}")
    tom = demo.members["Tom Weber"]

    async def reduced() -> bool:
        async with tom.member.api() as api:
            results = (await api.mentors([("topic", "robotics"), ("include_full", "true")]))["results"]
        return bool(results) and results[0]["capacity"] == 1

    await _until(reduced, "the reduced capacity reaching Open Minds")
    demo.say("    Seen from Open Minds Foundation's node: Carlos now has 1 open place (of 2).")
    return request_id


async def _converse(demo: Demo, mina: Mentoring, carlos: Mentoring) -> None:
    demo.step("An end-to-end encrypted conversation (PQXDH handshake, Double Ratchet, sealed sender)")
    await carlos.member.send(
        mina.member.address, demo.said("Welcome aboard! Send me your draft outline before we meet.")
    )
    for update in await _updates(mina, 1):
        demo.say(f"    {update.summary}")
    await mina.member.send(carlos.member.address, demo.said("Thank you! The outline is attached to my next message."))
    for update in await _updates(carlos, 1):
        demo.say(f"    {update.summary}")
    same = mina.member.safety_number(carlos.member.address) == carlos.member.safety_number(mina.member.address)
    demo.say(f"    Safety numbers match on both sides: {same}")


async def _schedule(demo: Demo, mina: Mentoring, carlos: Mentoring, request_id: str) -> None:
    demo.step("Scheduling across time zones: Mina proposes times inside Carlos's windows (Madrid); he confirms")
    today = datetime.now(ZoneInfo("Europe/Madrid")).date()  # the mentor's windows are in Madrid
    tuesday = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    thursday = tuesday + timedelta(days=2)
    slots = [Slot(local_to_utc(f"{day}T10:00", "Europe/Madrid"), 60) for day in (tuesday, thursday)]
    proposed = await mina.propose_session(request_id, slots, note=demo.said("Agenda: thesis outline, reading list"))
    for slot in proposed.slots:
        demo.say(
            f"    proposed: {slot.in_zone('Europe/London'):%a %d %b %H:%M} London = "
            f"{slot.in_zone('Europe/Madrid'):%H:%M} Madrid"
        )
    await _updates(carlos, 1)
    confirmed = await carlos.answer_session(proposed.id, proposed.slots[1])
    for update in await _updates(mina, 1):
        demo.say(f"    Mina's client: {update.summary}")
    ics_path = demo.root / "session.ics"
    ics_path.write_bytes(mina.ics(request_id, confirmed.id, zone="Europe/London"))
    start = next(line for line in ics_path.read_text().splitlines() if line.startswith("DTSTART;TZID="))
    demo.say(f"    Calendar file for Mina: {ics_path} ({start}); video call {confirmed.video_url}")
    demo.steps[-1]["ics"] = str(ics_path)
    assert confirmed.confirmed is not None
    demo.steps[-1]["confirmed_utc"] = confirmed.confirmed.start


async def _goals_and_feedback(demo: Demo, mina: Mentoring, carlos: Mentoring, request_id: str) -> None:
    demo.step("Shared goals (edited on both sides, converging) and feedback, end to end")
    goal = await mina.add_goal(
        request_id, demo.said("Submit the thesis proposal"), (date.today() + timedelta(days=60)).isoformat()
    )
    await _updates(carlos, 2)
    await carlos.add_milestone(request_id, goal, demo.said("Related-work section reviewed"))
    await mina.check_in(request_id, goal, demo.said("Outline done; reading 12 papers"), 25)
    await _updates(mina, 1)
    await _updates(carlos, 1)
    for who, client in (("Mina", mina), ("Carlos", carlos)):
        shared = client.goals(request_id)[goal]
        demo.say(
            f"    {who:<6} sees: {shared.title!r} {shared.status}, {shared.progress} %, "
            f"{len(shared.milestones)} milestone"
        )
    same = mina.goals(request_id) == carlos.goals(request_id)
    demo.say(f"    Both clients hold the same goals: {same}")
    await mina.feedback(request_id, {"overall": 5, "preparation": 5}, demo.said("Clear, kind and very practical."))
    for update in await _updates(carlos, 1):
        demo.say(f"    Carlos's client: {update.summary}")
    demo.steps[-1]["goals_converged"] = same


async def _workshop_and_file(demo: Demo, aiko: Mentoring, mina: Mentoring, tom: Mentoring) -> None:
    demo.step("A workshop across institutions, and a file shared end to end")
    starts = int(time.time()) + 3 * 86_400
    group_id = await Groups(aiko.member).announce("Intro to UX research", "ux-design", starts, 90, 10)

    async def listed_everywhere() -> bool:
        for client in (mina, tom):
            async with client.member.api() as api:
                if group_id not in [g["group"] for g in await api.groups("ux-design")]:
                    return False
        return True

    await _until(listed_everywhere, "the workshop reaching every node")
    async with mina.member.api() as api:
        [listing] = [g for g in await api.groups("ux-design") if g["group"] == group_id]
    demo.say(f"    Aiko announced {listing['title']!r}; Mina and Tom find it at their own nodes and join.")
    for joiner in (mina, tom):
        await Groups(joiner.member).join(aiko.member.address, listing)
        await _updates(aiko, 1)
        await _updates(joiner, 1)
    await _updates(mina, 1)  # the roster grew when Tom joined
    await Groups(aiko.member).send(group_id, demo.said("Welcome! Please bring one product you find confusing."))
    for client, who in ((mina, "Mina"), (tom, "Tom")):
        for update in await _updates(client, 1):
            demo.say(f"    {who}'s client: {update.summary}")
    reading = demo.root / "reading-list.txt"
    reading.write_text(demo.said("Reading list: Don Norman, The Design of Everyday Things, chapters 1-3") + "\n")
    await Resources(aiko.member).share_file(mina.member.address, reading, "Reading list")
    [shared] = await _updates(mina, 1)
    received = await Resources(mina.member).fetch(str(shared.event["resource"]), demo.root / "mina-reading-list.txt")
    same = received.read_bytes() == reading.read_bytes()
    demo.say(f"    Mina fetched the file from Aiko's node as ciphertext, opened and checked it: {same}")
    demo.steps[-1]["group"] = group_id
    demo.steps[-1]["file_intact"] = same


def _privacy_check(demo: Demo) -> dict[str, Any]:
    demo.step("Privacy check: every file the three nodes wrote, logs too, is searched for what the members said")
    files, scanned, found = 0, 0, []
    logs = [demo.root / LOG_FILE] if (demo.root / LOG_FILE).exists() else []
    for path in [*logs, *(p for local in demo.nodes for p in local.config.data_dir.rglob("*"))]:
        if path.is_file():
            data = path.read_bytes()
            files += 1
            scanned += len(data)
            found += [f"{path}: {text!r}" for text in demo.secrets if text.encode() in data]
    demo.say(f"    {len(demo.secrets)} texts, {files} files ({scanned / 1024:.0f} KiB: databases, WAL, config, logs):")
    if found:
        demo.say("    FOUND IN CLEAR:\n      " + "\n      ".join(found))
        raise click.ClickException("a node holds a member's text in clear")
    demo.say("    none of them appears in clear anywhere. The nodes hold only ciphertext.")
    return {"texts": len(demo.secrets), "files": files, "bytes": scanned, "found": found}


def _credentials(demo: Demo) -> dict[str, Any]:
    passphrase_file = demo.root / "keystores" / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")
    passphrase_file.chmod(0o600)
    return {
        "log": str(demo.root / LOG_FILE),
        "nodes": [{"name": n.name, "url": n.url, "data_dir": str(n.config.data_dir)} for n in demo.nodes],
        "members": [
            {
                "name": name,
                "address": str(client.member.address),
                "keystore": str(client.member.keystore.path),
                "passphrase_file": str(passphrase_file),
            }
            for name, client in demo.members.items()
        ],
    }


def _print_running(demo: Demo, running: dict[str, Any]) -> None:
    demo.say("\nThe nodes keep running (Ctrl-C stops them):")
    for item in running["nodes"]:
        demo.say(f"    {item['name']:<26} {item['url']}")
    demo.say(f"Their log lines (JSON): {running['log']}")
    demo.say("Sample members (keystore passphrase in the file below):")
    for item in running["members"]:
        demo.say(f"    {item['name']:<14} {item['address']}\n        --keystore {item['keystore']}")
    first = running["members"][3]
    demo.say(
        f"Try: mentornet client requests --keystore {first['keystore']} --passphrase-file {first['passphrase_file']}"
    )


async def _updates(mentoring: Mentoring, count: int, within: float = 20.0) -> list[Update]:
    got: list[Update] = []
    deadline = time.monotonic() + within
    while len(got) < count:
        if time.monotonic() > deadline:
            raise click.ClickException(f"expected {count} message(s), {len(got)} arrived within {within:.0f} s")
        got += await mentoring.receive(wait=1)
    refused = [u for u in got if u.refused]
    if refused:
        raise click.ClickException(f"an event was refused: {refused[0].summary}")
    return got


async def _until(check: Callable[[], Awaitable[bool]], what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise click.ClickException(f"{what} did not happen within {within:.0f} s")
        await asyncio.sleep(0.2)


async def _main(root: Path, as_json: bool, keep_running: bool) -> None:
    # The nodes' own log lines go to a file (searched by the privacy check too), not over the walk-through.
    handler = logging.FileHandler(root / LOG_FILE, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(logging.INFO)
    demo = Demo(root, as_json)
    try:
        result = await run_demo(demo)
        if not keep_running:
            emit(as_json, result, lambda: click.echo("\nDone: the demo's nodes are stopped."))
            return
        result["running"] = _credentials(demo)
        emit(as_json, result, lambda: _print_running(demo, result["running"]))
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        click.echo("Stopping the demo's nodes.", err=True)
    finally:
        for local in demo.nodes:
            await local.stop()


@click.command("demo")
@click.option(
    "--keep-running", is_flag=True, help="Leave the nodes up and print their URLs and the members' keystores."
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where the nodes and keystores go (kept); default: a temporary directory, deleted at the end.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of the walk-through.")
def demo(keep_running: bool, data_dir: Path | None, as_json: bool) -> None:
    """Three institutions on this machine and one mentorship, from discovery to feedback."""
    if data_dir is not None and data_dir.exists() and any(data_dir.iterdir()):
        raise click.ClickException(f"{data_dir} is not empty; give a new directory")
    root = data_dir or Path(tempfile.mkdtemp(prefix="mentornet-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(_main(root, as_json, keep_running))
    finally:
        if data_dir is None:
            shutil.rmtree(root, ignore_errors=True)
