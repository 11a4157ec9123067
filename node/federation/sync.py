"""Distribution of announcements: push our changes to each peer, pull each peer's feed.

One loop per peer, so a dead or slow peer never delays the others; within a loop one batch is
in flight at a time. Progress is kept in the database (``push_cursor`` and ``feed_cursor`` per
peer), so nothing is lost on a crash or restart: the pusher resends from its cursor (receivers
ignore what they already have) and the puller resumes from its cursor, also at start-up.
Failures back off exponentially with jitter, capped; a request from the peer resets it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from typing import Any

from node.announcements import ingest
from node.errors import PeerError
from node.federation.client import FederationClient
from node.federation.inbound import FederationContext
from node.federation.messages import deliver_outbox
from node.mentorships import expire_due
from node.messaging import forget_old
from node.resources import purge_old_blobs
from node.storage.announcements import AnnouncementStore
from node.storage.peers import PeerStore, StoredPeer
from node.storage.replay import NonceStore
from protocol.announcement import MAX_BATCH

log = logging.getLogger("mentornet.federation")

FEED_PATH = "/federation/v1/announcements"
SUPERVISE_SECONDS = 1.0
PURGE_SECONDS = 60.0
CONTACT_RECORD_SECONDS = 10  # how stale a peer's recorded last contact may get while all is well
_JITTER = secrets.SystemRandom()


def backoff_seconds(failures: int, *, initial: float, cap: float, jitter: float) -> float:
    """Exponential backoff: ``initial * 2**(failures-1)``, capped, scaled by ``jitter`` in [0.5, 1]."""
    return float(min(cap, initial * 2 ** min(failures - 1, 30)) * jitter)


class Synchronizer:
    def __init__(self, context: FederationContext, client: FederationClient) -> None:
        self._context = context
        self._client = client
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake: dict[str, asyncio.Event] = {}

    def notify_changed(self) -> None:
        """Our own announcements changed: push now rather than at the next tick."""
        for event in self._wake.values():
            event.set()

    def notify_outbox(self, base_url: str) -> None:
        """Messages wait for one peer: deliver now rather than at the next tick (unless backing off)."""
        event = self._wake.get(base_url)
        if event is not None:
            event.set()

    async def run(self) -> None:
        """Keep one loop per peer running, and purge expired state, until cancelled."""
        last_purge = -1e9
        try:
            while True:
                try:
                    last_purge = await self._supervise(last_purge)
                except Exception:  # a passing database error must not end federation for good
                    log.exception("federation supervisor round failed; retrying")
                await asyncio.sleep(SUPERVISE_SECONDS)
        finally:
            for task in self._tasks.values():
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _supervise(self, last_purge: float) -> float:
        """Start a loop for each new peer, restart finished ones, stop removed ones; purge now and then."""
        peers = await self._context.directory.usable()
        for base_url, task in list(self._tasks.items()):
            if task.done():
                self._tasks.pop(base_url)
        for base_url in peers.keys() - self._tasks.keys():
            self._wake[base_url] = asyncio.Event()
            self._tasks[base_url] = asyncio.create_task(self._peer_loop(base_url), name=f"sync {base_url}")
        for base_url in self._tasks.keys() - peers.keys():
            self._tasks.pop(base_url).cancel()
            self._wake.pop(base_url, None)
        if time.monotonic() - last_purge > PURGE_SECONDS:
            await self._purge()
            return time.monotonic()
        return last_purge

    async def _peer_loop(self, base_url: str) -> None:
        settings = self._context.settings
        next_pull = 0.0
        while True:
            try:
                peer = (await self._context.directory.usable()).get(base_url)
            except Exception:  # the database may be busy or away for a moment
                log.exception("cannot read peers; retrying", extra={"peer": base_url})
                await asyncio.sleep(settings.push_interval_seconds)
                continue
            if peer is None:
                return
            if peer.retry_at is None or peer.retry_at <= self._context.node.clock():
                try:
                    talked = await self._push(peer)
                    talked = await deliver_outbox(self._client, peer, await self._context.keys.current()) > 0 or talked
                    if time.monotonic() >= next_pull:
                        await self._pull(peer)
                        next_pull = time.monotonic() + settings.pull_interval_seconds
                        talked = True
                    now = self._context.node.clock()
                    recovered = peer.failures or peer.retry_at is not None or peer.last_error is not None
                    if talked and (recovered or (peer.last_contact_at or 0) < now - CONTACT_RECORD_SECONDS):
                        # Not on every round: each write also empties the peer cache that every
                        # federation request reads.
                        await self._record(peer, failures=0, retry_at=None, last_error=None, last_contact_at=now)
                except PeerError as exc:
                    try:
                        await self._failed(peer, exc)
                    except Exception:
                        log.exception("cannot record a sync failure", extra={"peer": base_url})
                except Exception:  # a bug or a database hiccup must not end the loop for this peer
                    log.exception("sync with peer failed unexpectedly", extra={"peer": base_url})
            wake = self._wake.get(base_url)
            if wake is None:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=settings.push_interval_seconds)
            wake.clear()

    async def _push(self, peer: StoredPeer) -> bool:
        """Send our changes since the peer's push cursor; ``True`` if the peer was sent anything."""
        cursor = peer.push_cursor
        limit = MAX_BATCH
        sent = False
        while True:
            async with self._context.node.database.transaction() as session:
                page = await AnnouncementStore(session).feed(cursor, limit, origin=self._client.origin)
            if not page:
                return sent
            now = self._context.node.clock()
            ours = [json.loads(item.raw) for item in page if item.expires_at > now]
            if ours:
                sent = True
                answer = await self._client.post(
                    peer, FEED_PATH, {"announcements": ours}, await self._context.keys.current()
                )
                refused = [r for r in _results(answer) if r.get("status") == "rejected"]
                if refused:
                    log.warning("peer refused announcements", extra={"peer": peer.base_url, "refused": refused[:5]})
            cursor = page[-1].feed_seq
            await self._record(peer, push_cursor=cursor)
            if len(page) < limit:
                return sent

    async def _pull(self, peer: StoredPeer) -> None:
        cursor = peer.feed_cursor
        limit = MAX_BATCH
        while True:
            answer = await self._client.get(
                peer, f"{FEED_PATH}?since={cursor}&limit={limit}", await self._context.keys.current()
            )
            if not (
                isinstance(answer, dict)
                and isinstance(answer.get("announcements"), list)
                and isinstance(answer.get("next"), int)
                and isinstance(answer.get("more"), bool)
            ):
                raise PeerError(f"{peer.base_url}: the feed answered in an unknown shape")
            results = await ingest(
                self._context.node,
                answer["announcements"],
                await self._context.directory.usable(),
                executor=self._context.verify_pool,
            )
            accepted = sum(1 for result in results if result.status == "accepted")
            if accepted:
                log.info("announcements pulled", extra={"peer": peer.base_url, "accepted": accepted})
            if answer["next"] <= cursor and answer["more"]:
                raise PeerError(f"{peer.base_url}: the feed says there is more but does not advance")
            cursor = max(cursor, answer["next"])
            await self._record(peer, feed_cursor=cursor)
            if not answer["more"]:
                return

    async def _failed(self, peer: StoredPeer, error: PeerError) -> None:
        settings = self._context.settings
        failures = peer.failures + 1
        delay = backoff_seconds(
            failures,
            initial=settings.backoff_initial_seconds,
            cap=settings.backoff_max_seconds,
            jitter=_JITTER.uniform(0.5, 1.0),
        )
        log.warning(
            "peer sync failed",
            extra={
                "peer": peer.base_url,
                "failures": failures,
                "retry_in_seconds": round(delay, 1),
                "error": str(error),
            },
        )
        await self._record(
            peer,
            failures=failures,
            retry_at=self._context.node.clock() + max(1, int(delay)),
            last_error=str(error)[:500],
        )

    async def _record(self, peer: StoredPeer, **changes: Any) -> None:
        async with self._context.node.database.transaction() as session:
            await PeerStore(session).update(peer.base_url, **changes)
        self._context.directory.invalidate()

    async def _purge(self) -> None:
        now = self._context.node.clock()
        async with self._context.node.database.transaction() as session:
            expired = await AnnouncementStore(session).purge_expired(now, keep_origin=self._client.origin)
            await NonceStore(session).forget_expired(now)
        await forget_old(self._context.node)
        if await expire_due(self._context.node):
            log.info("unanswered mentorship requests expired")
        if purged := await purge_old_blobs(self._context.node):
            log.info("shared files past their retention deleted", extra={"count": purged})
        if expired:
            log.info("expired announcements dropped", extra={"count": expired})


def _results(answer: Any) -> list[dict[str, Any]]:
    results = answer.get("results") if isinstance(answer, dict) else None
    return [item for item in results if isinstance(item, dict)] if isinstance(results, list) else []
