"""What a home node enforces of mentorship requests: open-request caps, the mentor's places
(exactly one acceptance wins the last one, and the open places are re-announced), expiry."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from node.announcements import publish_availability, withdraw_availability
from node.app import build_app
from node.errors import Conflict, NotFound, RequestRejected
from node.instance import DAY, Node
from node.keyring import UnlockSecret
from node.members import MemberProfile, invite_member, redeem_invite, suspend_member
from node.mentorships import end_all, end_one, expire_due, mentorships_of, move, open_request, record_session
from node.storage.announcements import AnnouncementStore
from node.storage.mentorships import MentorshipStore
from protocol.errors import IllegalTransition, InvalidField, MalformedMessage
from protocol.lifecycle import Action, Actor, State

ClientFactory = Callable[[web.Application], Awaitable[TestClient]]  # type: ignore[type-arg]
AVAILABILITY = {"topics": ["chemistry"], "languages": ["en"], "timezone": "Europe/Berlin", "capacity": 1}


async def active_member(node: Node, name: str, role: str) -> tuple[str, str]:
    """A member who redeemed their invite: (member id, access token)."""
    invitation = await invite_member(node, MemberProfile.validated(name=name, email=f"{name}@uni.example"), role)
    registration = await redeem_invite(node, invitation.code)
    return registration.member_id, registration.access_token


def new_id() -> str:
    return secrets.token_urlsafe(16)


async def announced_capacity(node: Node, mentor: str) -> int:
    async with node.database.transaction() as session:
        stored = await AnnouncementStore(session).get(node.config.base_url, mentor)
    assert stored is not None
    return int(json.loads(stored.raw)["availability"]["capacity"])


async def test_a_mentee_has_at_most_five_open_requests(node: Node) -> None:
    mentee, _ = await active_member(node, "Bo", "mentee")
    ids = [new_id() for _ in range(5)]
    for request_id in ids:
        await open_request(node, mentee, request_id, Actor.MENTEE, 12)
    with pytest.raises(RequestRejected) as refused:
        await open_request(node, mentee, new_id(), Actor.MENTEE, 12)
    assert refused.value.status == 409 and refused.value.code == "too_many_open_requests"
    assert "5 open requests" in str(refused.value)

    await move(node, mentee, ids[0], Action.WITHDRAW, Actor.MENTEE)
    await open_request(node, mentee, new_id(), Actor.MENTEE, 12)  # a withdrawn request frees its slot


async def test_recording_a_request_again_returns_the_same_record(node: Node) -> None:
    mentee, _ = await active_member(node, "Bo", "mentee")
    request_id = new_id()
    first = await open_request(node, mentee, request_id, Actor.MENTEE, 12)
    assert await open_request(node, mentee, request_id, Actor.MENTEE, 12) == first
    assert len(await mentorships_of(node, mentee)) == 1


async def test_bad_requests_are_refused_with_the_reason(node: Node) -> None:
    mentee, _ = await active_member(node, "Bo", "mentee")
    with pytest.raises(MalformedMessage, match="request id"):
        await open_request(node, mentee, "short", Actor.MENTEE, 12)
    with pytest.raises(InvalidField, match="duration_weeks"):
        await open_request(node, mentee, new_id(), Actor.MENTEE, 53)
    with pytest.raises(Conflict, match="a mentee cannot receive"):
        await open_request(node, mentee, new_id(), Actor.MENTOR, 12)
    with pytest.raises(IllegalTransition, match="expired"):
        await open_request(node, mentee, new_id(), Actor.MENTEE, 12, expires_at=node.clock() - 1)


async def test_only_the_allowed_member_makes_each_move(node: Node) -> None:
    mentee, _ = await active_member(node, "Bo", "mentee")
    request_id = new_id()
    await open_request(node, mentee, request_id, Actor.MENTEE, 12)
    with pytest.raises(IllegalTransition, match="only the mentor can accept"):
        await move(node, mentee, request_id, Action.ACCEPT, Actor.MENTEE)
    with pytest.raises(IllegalTransition, match="a member cannot end"):
        await move(node, mentee, request_id, Action.END, Actor.MENTEE)
    with pytest.raises(NotFound):
        await move(node, mentee, new_id(), Action.WITHDRAW, Actor.MENTEE)
    # The mentee's client reports the mentor's answer; the mentee's node follows it.
    accepted = await move(node, mentee, request_id, Action.ACCEPT, Actor.MENTOR)
    assert accepted.state == State.ACTIVE
    with pytest.raises(IllegalTransition, match="cannot withdraw a request that is active"):
        await move(node, mentee, request_id, Action.WITHDRAW, Actor.MENTEE)


async def test_two_acceptances_of_the_last_place_exactly_one_wins(node: Node) -> None:
    mentor, _ = await active_member(node, "Ada", "mentor")
    await publish_availability(node, mentor, AVAILABILITY)  # one place
    requests = [new_id() for _ in range(2)]
    for request_id in requests:
        await open_request(node, mentor, request_id, Actor.MENTOR, 12)

    outcomes = await asyncio.gather(
        *(move(node, mentor, request_id, Action.ACCEPT, Actor.MENTOR) for request_id in requests),
        return_exceptions=True,
    )

    won = [o for o in outcomes if not isinstance(o, BaseException)]
    lost = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(won) == 1 and won[0].state == State.ACTIVE
    assert len(lost) == 1 and isinstance(lost[0], RequestRejected) and lost[0].code == "no_open_place"
    assert "no open place: 1 of 1 taken" in str(lost[0])
    states = sorted(r.state for r in await mentorships_of(node, mentor))
    assert states == [State.ACTIVE, State.PENDING]  # the loser is still open, to decline or to wait


async def test_the_mentor_node_re_announces_the_places_still_open(node: Node) -> None:
    mentor, _ = await active_member(node, "Ada", "mentor")
    await publish_availability(node, mentor, {**AVAILABILITY, "capacity": 2})
    request_id = new_id()
    await open_request(node, mentor, request_id, Actor.MENTOR, 12)
    assert await announced_capacity(node, mentor) == 2

    await move(node, mentor, request_id, Action.ACCEPT, Actor.MENTOR)
    assert await announced_capacity(node, mentor) == 1
    # A new announcement by the mentor keeps counting the running mentorship.
    await publish_availability(node, mentor, {**AVAILABILITY, "capacity": 3}, by_member=True)
    assert await announced_capacity(node, mentor) == 2

    await move(node, mentor, request_id, Action.COMPLETE, Actor.MENTEE)
    assert await announced_capacity(node, mentor) == 3


async def test_a_mentor_who_never_announced_has_no_place_to_give(node: Node) -> None:
    mentor, _ = await active_member(node, "Ada", "mentor")
    request_id = new_id()
    await open_request(node, mentor, request_id, Actor.MENTOR, 12)
    with pytest.raises(RequestRejected, match="announce your availability"):
        await move(node, mentor, request_id, Action.ACCEPT, Actor.MENTOR)


async def test_unanswered_requests_expire_and_free_their_slot(node: Node) -> None:
    mentee, _ = await active_member(node, "Bo", "mentee")
    start = node.clock()
    node.clock = lambda: start
    ids = [new_id() for _ in range(5)]
    for request_id in ids:
        await open_request(node, mentee, request_id, Actor.MENTEE, 12)

    node.clock = lambda: start + 14 * DAY
    with pytest.raises(IllegalTransition, match="expired; it can no longer be withdrawn"):
        await move(node, mentee, ids[0], Action.WITHDRAW, Actor.MENTEE)
    await open_request(node, mentee, new_id(), Actor.MENTEE, 12)  # expired requests are not open
    assert await expire_due(node) == 5
    assert [r.state for r in await mentorships_of(node, mentee)].count(State.EXPIRED) == 5
    assert await expire_due(node) == 0


async def test_a_received_request_expires_no_later_than_the_node_allows(node: Node) -> None:
    mentor, _ = await active_member(node, "Ada", "mentor")
    far = node.clock() + 90 * DAY
    record = await open_request(node, mentor, new_id(), Actor.MENTOR, 12, expires_at=far)
    assert record.expires_at == record.created_at + node.config.request_ttl_days * DAY


async def test_sessions_are_counted_only_in_a_running_mentorship(node: Node) -> None:
    mentee, _ = await active_member(node, "Bo", "mentee")
    request_id = new_id()
    await open_request(node, mentee, request_id, Actor.MENTEE, 12)
    with pytest.raises(IllegalTransition, match="active mentorship"):
        await record_session(node, mentee, request_id)
    await move(node, mentee, request_id, Action.ACCEPT, Actor.MENTOR)
    assert (await record_session(node, mentee, request_id)).sessions_held == 1


async def test_an_operator_ends_every_open_and_running_request_of_a_member(node: Node) -> None:
    mentee, _ = await active_member(node, "Bo", "mentee")
    running, waiting, done = new_id(), new_id(), new_id()
    for request_id in (running, waiting, done):
        await open_request(node, mentee, request_id, Actor.MENTEE, 12)
    await move(node, mentee, running, Action.ACCEPT, Actor.MENTOR)
    await move(node, mentee, done, Action.DECLINE, Actor.MENTOR)
    async with node.database.transaction() as session:
        assert await end_all(MentorshipStore(session), mentee, node.clock()) == 2
    states = {r.request_id: r.state for r in await mentorships_of(node, mentee)}
    assert states == {running: State.ENDED, waiting: State.ENDED, done: State.DECLINED}


async def test_the_client_api_answers_with_clear_codes(node: Node, aiohttp_client: ClientFactory) -> None:
    mentor, token = await active_member(node, "Ada", "mentor")
    await publish_availability(node, mentor, AVAILABILITY)
    await node.close()
    assert node.config.key_file is not None
    client = await aiohttp_client(build_app(node.config, UnlockSecret.from_key_file(node.config.key_file)))
    auth = {"Authorization": f"Bearer {token}"}
    first, second = new_id(), new_id()
    for request_id in (first, second):
        made = await client.post(
            "/client/v1/mentorships",
            json={"request_id": request_id, "role": "mentor", "duration_weeks": 8},
            headers=auth,
        )
        assert made.status == 201 and (await made.json())["state"] == "pending"

    accepted = await client.post(
        f"/client/v1/mentorships/{first}/moves", json={"action": "accept", "by": "mentor"}, headers=auth
    )
    assert accepted.status == 200 and (await accepted.json())["answered_at"] is not None
    full = await client.post(
        f"/client/v1/mentorships/{second}/moves", json={"action": "accept", "by": "mentor"}, headers=auth
    )
    assert full.status == 409 and (await full.json())["error"] == "no_open_place"
    illegal = await client.post(
        f"/client/v1/mentorships/{first}/moves", json={"action": "view", "by": "mentor"}, headers=auth
    )
    assert illegal.status == 400 and (await illegal.json()) == {
        "error": "illegal_transition",
        "message": "cannot view a request that is active",
    }
    malformed = await client.post("/client/v1/mentorships", json={"role": "mentor"}, headers=auth)
    assert malformed.status == 400 and (await malformed.json())["error"] == "malformed"
    listed = await client.get("/client/v1/mentorships", headers=auth)
    assert sorted(m["state"] for m in (await listed.json())["mentorships"]) == ["active", "pending"]


async def test_the_announcement_says_how_the_mentor_answers(node: Node) -> None:
    mentor, _ = await active_member(node, "Ada", "mentor")
    await publish_availability(node, mentor, {**AVAILABILITY, "capacity": 5}, lifetime_days=30)
    start = node.clock()
    node.clock = lambda: start
    answered, ignored = new_id(), new_id()
    for request_id in (answered, ignored):
        await open_request(node, mentor, request_id, Actor.MENTOR, 12)
    node.clock = lambda: start + 90 * 60
    await move(node, mentor, answered, Action.DECLINE, Actor.MENTOR)
    assert await responsiveness_announced(node, mentor) == {"decided": 1, "answered": 1, "median_answer_minutes": 90}

    node.clock = lambda: start + 15 * DAY  # the other one expires unanswered: re-announced
    assert await expire_due(node) == 1
    assert await responsiveness_announced(node, mentor) == {"decided": 2, "answered": 1, "median_answer_minutes": 90}


async def responsiveness_announced(node: Node, mentor: str) -> object:
    async with node.database.transaction() as session:
        stored = await AnnouncementStore(session).get(node.config.base_url, mentor)
    assert stored is not None
    return json.loads(stored.raw).get("responsiveness")


async def test_a_repeated_move_gets_the_same_answer_and_a_suspended_member_moves_nothing(node: Node) -> None:
    mentor, _ = await active_member(node, "Ada", "mentor")
    await publish_availability(node, mentor, AVAILABILITY)
    request_id, other = new_id(), new_id()
    for rid in (request_id, other):
        await open_request(node, mentor, rid, Actor.MENTOR, 12)
    first = await move(node, mentor, request_id, Action.ACCEPT, Actor.MENTOR)
    assert await move(node, mentor, request_id, Action.ACCEPT, Actor.MENTOR) == first  # a retry, not a second place
    await suspend_member(node, mentor, "report upheld")
    with pytest.raises(Conflict, match="only an active member"):
        await move(node, mentor, other, Action.DECLINE, Actor.MENTOR)


async def test_a_re_announcement_never_brings_back_withdrawn_availability(node: Node) -> None:
    mentor, _ = await active_member(node, "Ada", "mentor")
    await publish_availability(node, mentor, AVAILABILITY)
    request_id = new_id()
    await open_request(node, mentor, request_id, Actor.MENTOR, 12)
    await move(node, mentor, request_id, Action.ACCEPT, Actor.MENTOR)
    await withdraw_availability(node, mentor, by_member=True)
    await move(node, mentor, request_id, Action.COMPLETE, Actor.MENTEE)  # gives the place back
    async with node.database.transaction() as session:
        stored = await AnnouncementStore(session).get(node.config.base_url, mentor)
    assert stored is not None and stored.withdrawn


async def test_bad_values_from_a_client_are_clear_errors_not_crashes(node: Node, aiohttp_client: ClientFactory) -> None:
    _, token = await active_member(node, "Ada", "mentor")
    await node.close()
    assert node.config.key_file is not None
    client = await aiohttp_client(build_app(node.config, UnlockSecret.from_key_file(node.config.key_file)))
    auth = {"Authorization": f"Bearer {token}"}
    unhashable = await client.post(
        f"/client/v1/mentorships/{new_id()}/moves", json={"action": [], "by": "mentor"}, headers=auth
    )
    assert unhashable.status == 400 and (await unhashable.json())["error"] == "malformed"
    huge = {"topics": ["x"], "languages": ["en"], "timezone": "UTC", "capacity": 2**70}
    announced = await client.put("/client/v1/me/availability", json={"availability": huge}, headers=auth)
    assert announced.status == 400 and "capacity" in (await announced.json())["message"]


async def test_an_operator_ends_one_mentorship_and_the_place_is_given_back(node: Node) -> None:
    mentor, _ = await active_member(node, "Ada", "mentor")
    await publish_availability(node, mentor, AVAILABILITY)
    request_id = new_id()
    await open_request(node, mentor, request_id, Actor.MENTOR, 12)
    await move(node, mentor, request_id, Action.ACCEPT, Actor.MENTOR)
    assert await announced_capacity(node, mentor) == 0

    ended = await end_one(node, mentor, request_id, "complaint 7 upheld")
    assert ended.state == State.ENDED
    assert await announced_capacity(node, mentor) == 1
    with pytest.raises(IllegalTransition, match="cannot end a request that is ended"):
        await end_one(node, mentor, request_id, "again")
    audit = [(e.action, e.details) for e in await node.audit_entries()]
    assert ("mentorship.end", {"request": request_id, "reason": "complaint 7 upheld"}) in audit
