"""Discovery on this node: an in-memory index of verified, unexpired announcements.

The index follows the announcement feed (our own and every peer's, already verified on
ingest), so a search reads memory only: it sends nothing to any other node and, apart from
catching up with the feed, reads nothing from the database.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from node.errors import NodeError
from node.federation.peers import normalize_base_url, usable
from node.instance import Node
from node.storage.announcements import AnnouncementStore
from node.storage.peers import PeerStore
from protocol.announcement import Announcement, Availability
from protocol.discovery import (
    SLOT_MINUTES,
    Candidate,
    LocalWindow,
    Match,
    MentorQuery,
    format_window,
    normalize_term,
    rank,
    week_start,
    weekly_slots,
)
from protocol.errors import InvalidField

FEED_PAGE = 500
SLOTS_PER_HOUR = 60 // SLOT_MINUTES
HOURS_PER_WEEK = 7 * 24


@dataclass(frozen=True, slots=True)
class Listing:
    announcement: Announcement
    candidate: Candidate
    expires_at: int

    @property
    def availability(self) -> Availability:
        assert self.announcement.availability is not None
        return self.announcement.availability


class MentorIndex:
    def __init__(self, node: Node) -> None:
        self._node = node
        self._cursor = 0
        self._week = week_start(node.clock())
        self._listings: dict[tuple[str, str], Listing] = {}
        self._by_topic: dict[str, set[tuple[str, str]]] = {}
        self._by_language: dict[str, set[tuple[str, str]]] = {}
        self._by_hour: list[set[tuple[str, str]]] = [set() for _ in range(HOURS_PER_WEEK)]
        self._institutions: dict[str, str] = {}
        self._allowed: set[str] = set()
        self._peer_urls: set[str] = set()
        self._refreshing = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._listings)

    async def refresh(self) -> None:
        """Catch up with the announcement feed (and rebuild slots when a new week starts).

        One refresh at a time: a search arriving during a long catch-up (the first one after a
        start with many announcements) waits for it instead of repeating it.
        """
        async with self._refreshing:
            await self._refresh()

    async def _refresh(self) -> None:
        now = self._node.clock()
        if week_start(now) != self._week:
            self._week = week_start(now)
            for key, listing in list(self._listings.items()):
                self._add(key, listing.announcement, now)
        while True:
            # A short transaction per page, and the page applied outside it: a long catch-up
            # neither holds the database nor keeps the event loop for more than one page.
            async with self._node.database.transaction() as session:
                page = await AnnouncementStore(session).feed(self._cursor, FEED_PAGE)
            for item in page:
                self._apply(json.loads(item.raw), now)
            if page:
                self._cursor = page[-1].feed_seq
            if len(page) < FEED_PAGE:
                break
            await asyncio.sleep(0)
        async with self._node.database.transaction() as session:
            peer_store = PeerStore(session)
            peers = {peer.base_url: peer for peer in await peer_store.all()}
            blocked = await peer_store.blocked_hosts()
        own = normalize_base_url(self._node.config.base_url)
        self._institutions = {url: peer.name for url, peer in peers.items()} | {own: self._node.config.name}
        self._allowed = set(usable(peers, blocked)) | {own}
        if set(peers) != self._peer_urls:
            # A removed peer's rows are deleted, which the feed cannot tell: drop them here too.
            self._peer_urls = set(peers)
            for key in [key for key in self._listings if key[0] not in self._peer_urls and key[0] != own]:
                self._remove(key)

    async def search(self, query: MentorQuery) -> list[tuple[Match, Listing]]:
        """Rank the live listings for ``query``; best first."""
        await self.refresh()
        now = self._node.clock()
        keys: Iterable[tuple[str, str]] = self._listings.keys()
        if query.topics:
            keys = set().union(*(self._by_topic.get(topic, set()) for topic in query.topics))
        if query.languages:
            languages = set().union(*(self._by_language.get(language, set()) for language in query.languages))
            keys = languages if not query.topics else set(keys) & languages
        if query.slots is not None and not (query.topics or query.languages):
            keys = set().union(*(self._by_hour[hour] for hour in _hours(query.slots)))
        allowed, listings = self._allowed, self._listings
        live = [listing.candidate for key in keys if key[0] in allowed and (listing := listings[key]).expires_at > now]
        return [(found, listings[(found.candidate.origin, found.candidate.mentor)]) for found in rank(live, query)]

    async def group_sessions(self, topic: str | None, limit: int) -> list[dict[str, Any]]:
        """Upcoming group sessions across the federation (soonest first), optionally on one topic."""
        await self.refresh()
        now = self._node.clock()
        wanted = normalize_term(topic) if topic else None
        found = [
            (group, listing)
            for key, listing in self._listings.items()
            if key[0] in self._allowed and listing.expires_at > now and listing.announcement.availability is not None
            for group in listing.announcement.availability.groups
            if group.starts_at > now and (wanted is None or normalize_term(group.topic) == wanted)
        ]
        found.sort(key=lambda pair: (pair[0].starts_at, pair[0].id))
        return [
            {
                "group": group.id,
                "title": group.title,
                "topic": group.topic,
                "starts_at": group.starts_at,
                "minutes": group.minutes,
                "capacity": group.capacity,
                "host": f"{listing.announcement.mentor}@{listing.announcement.origin}",
                "host_name": listing.announcement.availability.display_name
                if listing.announcement.availability
                else "",
                "institution": self.institution(listing.announcement.origin),
            }
            for group, listing in found[: max(1, min(limit, 200))]
        ]

    def institution(self, origin: str) -> str:
        return self._institutions.get(origin, origin)

    def _apply(self, raw: dict[str, object], now: int) -> None:
        announcement = Announcement.model_validate({k: v for k, v in raw.items() if k != "signature"})
        key = (announcement.origin, announcement.mentor)
        self._remove(key)
        if not announcement.withdrawn and announcement.expires_at > now:
            self._add(key, announcement, now)

    def _add(self, key: tuple[str, str], announcement: Announcement, now: int) -> None:
        self._remove(key)
        availability = announcement.availability
        assert availability is not None
        windows = [LocalWindow(w.day, w.start_minute, w.end_minute) for w in availability.windows]
        candidate = Candidate(
            origin=announcement.origin,
            mentor=announcement.mentor,
            topics=frozenset(normalize_term(t) for t in availability.topics),
            languages=frozenset(normalize_term(language) for language in availability.languages),
            slots=weekly_slots(windows, availability.timezone, now=now),
            capacity=availability.capacity,
            verified_credentials=sum(1 for c in availability.credentials if c.verified),
            **_responsiveness(announcement),
        )
        self._listings[key] = Listing(announcement, candidate, announcement.expires_at)
        for topic in candidate.topics:
            self._by_topic.setdefault(topic, set()).add(key)
        for language in candidate.languages:
            self._by_language.setdefault(language, set()).add(key)
        for hour in _hours(candidate.slots):
            self._by_hour[hour].add(key)

    def _remove(self, key: tuple[str, str]) -> None:
        listing = self._listings.pop(key, None)
        if listing is None:
            return
        for topic in listing.candidate.topics:
            self._by_topic.get(topic, set()).discard(key)
        for language in listing.candidate.languages:
            self._by_language.get(language, set()).discard(key)
        for hour in _hours(listing.candidate.slots):
            self._by_hour[hour].discard(key)


def _hours(slots: int) -> set[int]:
    """The hours of the UTC week that a slot mask touches."""
    hours = set()
    while slots:
        lowest = slots & -slots
        hours.add((lowest.bit_length() - 1) // SLOTS_PER_HOUR)
        slots ^= lowest
    return hours


def make_query(
    *,
    topics: Iterable[str] = (),
    languages: Iterable[str] = (),
    timezone: str | None = None,
    windows: Iterable[LocalWindow] = (),
    institution: str | None = None,
    open_only: bool = True,
    limit: int = 20,
    now: int,
) -> MentorQuery:
    """A query from a mentee's terms; ``windows`` are local to ``timezone`` (required with windows)."""
    window_list = list(windows)
    slots = weekly_slots(window_list, timezone or "UTC", now=now) if window_list else None
    return MentorQuery(
        topics=frozenset(normalize_term(t) for t in topics if t.strip()),
        languages=frozenset(normalize_term(language) for language in languages if language.strip()),
        slots=slots,
        institution=_institution(institution),
        open_only=open_only,
        limit=max(1, min(limit, 200)),
    )


def _institution(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return normalize_base_url(url)
    except NodeError as exc:
        raise InvalidField("institution", "give the node's base URL, e.g. https://mentornet.example.org") from exc


def _responsiveness(announcement: Announcement) -> dict[str, Any]:
    measured = announcement.responsiveness
    if measured is None:
        return {}
    return {
        "decided": measured.decided,
        "answered": measured.answered,
        "median_answer_minutes": measured.median_answer_minutes,
    }


def result_json(found: Match, listing: Listing, institution: str) -> dict[str, Any]:
    """One search result, with why it matched."""
    availability = listing.availability
    announcement = listing.announcement
    return {
        "origin": announcement.origin,
        "institution": institution,
        "mentor": announcement.mentor,
        "display_name": availability.display_name,
        "bio": availability.bio,
        "topics": list(availability.topics),
        "languages": list(availability.languages),
        "timezone": availability.timezone,
        "windows": [format_window(LocalWindow(w.day, w.start_minute, w.end_minute)) for w in availability.windows],
        "capacity": availability.capacity,
        "credentials": [{"title": c.title, "verified": c.verified} for c in availability.credentials],
        "expires_at": announcement.expires_at,
        "responsiveness": _responsiveness(announcement) or None,
        "score": found.score,
        "why": {
            "shared_topics": list(found.shared_topics),
            "common_languages": list(found.common_languages),
            "overlap_hours_per_week": found.overlap_minutes / 60,
            "open_places": availability.capacity,
            "verified_credentials": found.candidate.verified_credentials,
            "reasons": list(found.reasons),
        },
    }
