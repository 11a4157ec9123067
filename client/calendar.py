"""Sessions as iCalendar (RFC 5545) files, through the ``icalendar`` library.

Each session is one ``VEVENT`` whose ``UID`` is the session id, with ``SEQUENCE`` from the
scheduling exchange (so a calendar replaces an older copy of the same session), the start and
end in the member's own IANA zone with its ``VTIMEZONE``, and the video-call link as ``URL`` and
``LOCATION``. A cancelled session is exported with ``STATUS:CANCELLED``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from protocol.scheduling import Session, SessionState

PRODID = "-//Mentornet//Mentornet client//EN"


@dataclass(frozen=True)
class CalendarEntry:
    session: Session
    summary: str


def sessions_ics(entries: Sequence[CalendarEntry], zone: str, *, now: int) -> bytes:
    """An iCalendar file holding every entry's session that has (or had) a confirmed time.

    Raises:
        ValueError: if no entry has a time to export.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    tz = ZoneInfo(zone)
    exported = 0
    for entry in entries:
        session = entry.session
        if session.confirmed is None:
            continue
        event = Event()
        event.add("uid", f"{session.id}@mentornet")
        event.add("dtstamp", datetime.fromtimestamp(now, UTC))
        event.add("dtstart", datetime.fromtimestamp(session.confirmed.start, UTC).astimezone(tz))
        event.add("dtend", datetime.fromtimestamp(session.confirmed.end, UTC).astimezone(tz))
        event.add("sequence", session.sequence)
        event.add("summary", entry.summary)
        event.add("url", session.video_url)
        event.add("location", session.video_url)
        event.add("description", f"Video call: {session.video_url}" + (f"\n\n{session.note}" if session.note else ""))
        event.add("status", "CANCELLED" if session.state is SessionState.CANCELLED else "CONFIRMED")
        calendar.add_component(event)
        exported += 1
    if not exported:
        raise ValueError("no session with a confirmed time to export")
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())
