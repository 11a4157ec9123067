"""``mentornet client ...`` as a member uses it: separate processes against two real nodes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from node.members import MemberProfile, invite_member
from tests.node.federation.cluster import RunningNode, eventually, peered_cluster

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def two_nodes(tmp_path: Path) -> AsyncIterator[list[RunningNode]]:
    async with peered_cluster(tmp_path, ["A", "B"]) as nodes:
        yield nodes


class Member:
    """One member's keystore and passphrase file, driven through the CLI."""

    def __init__(self, home: Path) -> None:
        home.mkdir()
        self.keystore = home / "keystore"
        self.passphrase_file = home / "passphrase"
        self.passphrase_file.write_text("a member's own passphrase\n")
        self.passphrase_file.chmod(0o600)
        self.address = ""

    async def run(self, *args: str, expect: int = 0) -> Any:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli.main",
            "client",
            *args,
            "--keystore",
            str(self.keystore),
            "--passphrase-file",
            str(self.passphrase_file),
            "--json",
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "MENTORNET_KEYSTORE": "", "MENTORNET_CLIENT_PASSPHRASE_FILE": ""},
        )
        out, err = await process.communicate()
        assert process.returncode == expect, (out, err)
        return json.loads(out)

    async def register(self, node: RunningNode, role: str, name: str) -> None:
        invitation = await invite_member(
            node.node, MemberProfile.validated(name=name, email=f"{name}@{node.name.lower()}.example"), role
        )
        answer = await self.run("register", "--node", node.url, "--invite", invitation.code)
        self.address = answer["address"]


async def test_two_members_register_talk_verify_and_find_each_other(
    two_nodes: list[RunningNode], tmp_path: Path
) -> None:
    a, b = two_nodes
    mentee, mentor = Member(tmp_path / "mina"), Member(tmp_path / "carlos")
    await mentee.register(a, "mentee", "mina")
    await mentor.register(b, "mentor", "carlos")

    sent = await mentee.run("send", mentor.address, "Could you review my plan?")
    assert sent["to"] == mentor.address
    received = await mentor.run("receive", "--wait", "5")
    assert [(m["from"], m["event"]["body"]) for m in received] == [(mentee.address, "Could you review my plan?")]

    ours = await mentee.run("verify", mentor.address)
    theirs = await mentor.run("verify", mentee.address, "--confirm")
    assert ours["safety_number"] == theirs["safety_number"] and theirs["verified"] is True
    talks = await mentee.run("conversations")
    assert talks == [{"with": mentor.address, "messages": 1, "verified": False}]

    await mentor.run(
        "announce", "--topic", "robotics", "--language", "en", "--timezone", "Europe/Rome", "--capacity", "2"
    )

    async def found() -> bool:
        results = await mentee.run("discover", "--topic", "robotics")
        return [r["mentor"] for r in results] == [mentor.address.partition("@")[0]]

    await eventually(found, within=20, what="the mentor at B appearing in the search at A")


async def test_a_wrong_passphrase_is_one_clear_line(two_nodes: list[RunningNode], tmp_path: Path) -> None:
    mentee = Member(tmp_path / "mina")
    await mentee.register(two_nodes[0], "mentee", "mina")
    mentee.passphrase_file.write_text("not the passphrase\n")
    answer = await mentee.run("whoami", expect=1)
    assert answer["error"] == "keystore_error" and "wrong passphrase" in answer["message"]


async def test_registering_twice_into_one_keystore_is_refused_before_the_invite_is_spent(
    two_nodes: list[RunningNode], tmp_path: Path
) -> None:
    mentee = Member(tmp_path / "mina")
    await mentee.register(two_nodes[0], "mentee", "mina")
    invitation = await invite_member(
        two_nodes[0].node, MemberProfile.validated(name="Other", email="other@a.example"), "mentee"
    )
    answer = await mentee.run("register", "--node", two_nodes[0].url, "--invite", invitation.code, expect=1)
    assert "already exists" in answer["message"]
    other = Member(tmp_path / "other")
    await other.run("register", "--node", two_nodes[0].url, "--invite", invitation.code)  # still valid


async def test_a_mentorship_on_the_command_line(two_nodes: list[RunningNode], tmp_path: Path) -> None:
    a, b = two_nodes
    mentee, mentor = Member(tmp_path / "mina"), Member(tmp_path / "carlos")
    await mentee.register(a, "mentee", "mina")
    await mentor.register(b, "mentor", "carlos")
    await mentor.run(
        "announce",
        "--topic",
        "robotics",
        "--language",
        "en",
        "--timezone",
        "Europe/Rome",
        "--window",
        "tue:00:00-06:00",
        "--window",
        "wed:00:00-06:00",
        "--capacity",
        "1",
    )  # fmt: skip  (10:00 in Tokyo is 02:00 in Rome in March)

    asked = await mentee.run("request", mentor.address, "--message", "Help me plan my thesis", "--goal", "thesis")
    request_id = asked["request_id"]
    [news] = await mentor.run("receive", "--wait", "5")
    assert news["event"]["type"] == "mentorship.request" and news["refused"] is None
    [listed] = await mentor.run("requests")
    assert (listed["request_id"], listed["state"], listed["role"]) == (request_id, "pending", "mentor")
    assert (await mentor.run("accept", request_id))["state"] == "active"
    [answer] = await mentee.run("receive", "--wait", "5")
    assert answer["summary"].endswith("now active")

    refused = await mentee.run("accept", request_id, expect=1)
    assert refused["error"] == "client_error" and "cannot accept a request that is active" in refused["message"]

    proposed = await mentee.run(
        "session", "propose", request_id, "--at", "2031-03-04T10:00", "--at", "2031-03-05T10:00", "--zone", "Asia/Tokyo"
    )
    await mentor.run("receive", "--wait", "5")
    confirmed = await mentor.run("session", "confirm", proposed["id"], "--slot", "2")
    assert confirmed["state"] == "confirmed"
    await mentee.run("receive", "--wait", "5")
    ics = tmp_path / "session.ics"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", "client", "session", "ics", request_id, "--zone", "Asia/Tokyo",
        "--output", str(ics), "--keystore", str(mentee.keystore), "--passphrase-file", str(mentee.passphrase_file),
        cwd=ROOT,
    )  # fmt: skip
    assert await process.wait() == 0
    text = ics.read_text()
    assert "DTSTART;TZID=Asia/Tokyo:20310305T100000" in text and "BEGIN:VTIMEZONE" in text

    goal = (await mentee.run("goal", "add", request_id, "Finish chapter 1", "--due", "2031-06-30"))["goal"]
    await mentee.run("goal", "check-in", request_id, goal, "--progress", "40", "--note", "draft done")
    await mentor.run("receive", "--wait", "5")
    [shared] = await mentor.run("goal", "list", request_id)
    assert (shared["title"], shared["progress"], shared["due"]) == ("Finish chapter 1", 40, "2031-06-30")

    await mentor.run("feedback", request_id, "--rating", "overall=5", "--text", "Great start")
    [feedback] = await mentee.run("receive", "--wait", "5")
    assert feedback["summary"].endswith("overall 5/5")
    bad = await mentee.run("feedback", request_id, "--rating", "overall=9", expect=1)
    assert "ratings.overall: must be 1 to 5" in bad["message"]
