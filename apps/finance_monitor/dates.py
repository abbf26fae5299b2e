"""Publication dates, read as UTC: a feed's RFC 822 or ISO 8601 stamp, a feed entry's date
fields, and the date trafilatura finds on a page.

They have a module of their own because every article's trend window, and so every alert,
hangs on them, and a misreading is silent: feedparser and the e-mail parser read a zone name
they do not know ("10:00 CET") as UTC, and feedparser gives no date at all for a time without a
zone, so the story was dated when fetched.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time
from email.utils import parsedate_to_datetime

# hours east of UTC of the zone names feeds use beyond the ones RFC 822 defines (GMT, EST, PDT, ...):
# feedparser and the e-mail parser both read an unknown name as UTC ("10:00 CET" an hour late)
ZONES = {"CET": 1, "CEST": 2, "MET": 1, "MEST": 2, "WET": 0, "WEST": 1, "EET": 2, "EEST": 3, "BST": 1,
         "MSK": 3, "HKT": 8, "SGT": 8, "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13}


_OFFSET = re.compile(r"\s(?:GMT|UTC)?([+-])(\d{1,2}):?(\d{2})?$")  # " -05:00", " GMT+0100", " +01"
# the zone names RFC 822 defines, hours east of UTC: named in an ISO stamp, fromisoformat reads none
_RFC822_ZONES = {"UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7,
                 "MDT": -6, "PST": -8, "PDT": -7}
# a 12-hour clock: "11:06 PM", "1:06pm", "9:30 a.m."
_TWELVE_HOUR = re.compile(r"(?<![\d:])(1[0-2]|0?[1-9])(:[0-5]\d(?::[0-5]\d)?)\s*([AaPp])\.?[Mm]\.?(?=\s|$)")


def _on_24_hours(match: re.Match[str]) -> str:
    hour = int(match[1]) % 12 + (12 if match[3] in "Pp" else 0)
    return f"{hour:02d}{match[2]}"


def feed_time(stamp: str) -> datetime | None:
    """A feed's date as UTC: RFC 822 ("Tue, 03 Mar 2026 10:00:00 CET") or ISO 8601; a time
    with no zone is UTC's; None when it is neither.

    >>> feed_time("Tue, 03 Mar 2026 10:00:00 CET")
    datetime.datetime(2026, 3, 3, 9, 0, tzinfo=datetime.timezone.utc)
    >>> feed_time("Tue, 03 Mar 2026 10:00:00").hour, feed_time("2026-03-03T10:00:00+01:00").hour
    (10, 9)
    >>> feed_time("Dec 5, 2026 11:06 PM EST"), feed_time("2026-12-07T15:15:00 EST").hour
    (datetime.datetime(2026, 12, 6, 4, 6, tzinfo=datetime.timezone.utc), 20)

    subtle: the e-mail parser took the "PM" of "01:06 PM GMT" for the zone, and the story was
    dated 12 hours early; an ISO stamp's "EST" was dropped.
    """
    stamp = _TWELVE_HOUR.sub(_on_24_hours, stamp.strip())
    stamp = _OFFSET.sub(lambda m: f" {m[1]}{int(m[2]):02d}{m[3] or '00'}", stamp)  # "GMT-05:00" -> "-0500"
    if zone := re.search(r"\s([A-Za-z]{1,5})$", stamp):
        hours = (ZONES | _RFC822_ZONES).get(zone[1].upper())
        if hours is None:
            return None  # a zone read here as UTC ("IST" is three zones): undated
        stamp = f"{stamp[:zone.start()]} {hours:+03d}00"
    try:
        when = parsedate_to_datetime(stamp)
    except (TypeError, ValueError, IndexError):
        try:
            when = datetime.fromisoformat(re.sub(r"\s([+-]\d{4})$", r"\1", stamp))
        except ValueError:
            return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def unknown_zone(stamp: str) -> bool:
    """Whether ``stamp`` ends in a zone name not read here ("10:00 IST": India's, Ireland's or
    Israel's), which feedparser would read as UTC."""
    zone = re.search(r"\s([A-Za-z]{1,5})$", _TWELVE_HOUR.sub(_on_24_hours, stamp.strip()))
    return zone is not None and zone[1].upper() not in ZONES | _RFC822_ZONES


_ISO_DAY = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")


def impossible_day(stamp: str) -> bool:
    """Whether ``stamp`` names an ISO day that does not exist (feedparser reads no RFC 822 one).

    >>> impossible_day("2025-02-30T10:00:00Z"), impossible_day("2024-02-29T10:00:00Z")
    (True, False)
    """
    if not (found := _ISO_DAY.search(stamp)):
        return False
    try:
        date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return True
    return False


def entry_time(entry: dict) -> datetime | None:
    """When a feed entry was published or updated; None when it does not say in a form read
    here or by feedparser, or names a day that does not exist. subtle: feedparser gives no date
    for a time without a zone, which is common, and the story was dated when fetched: a feed's
    backlog of March raised an alert in December; and it rolls an impossible day over into a real
    one ("2025-13-45" became 2026-01-01, outside the trends' window, counted nowhere)."""
    for field in ("published", "updated"):
        stamp = entry.get(field)
        if not stamp or impossible_day(stamp):
            continue
        if (when := feed_time(stamp)) is not None:
            return when
        if (parsed := entry.get(f"{field}_parsed")) and not unknown_zone(stamp):
            return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    return None


def page_time(date: str | None, now: datetime) -> datetime:
    """When a page says it was published, in UTC; ``now`` if it does not say.

    A bare date (htmldate gives it as midnight without a zone) is that day's midnight, or
    ``now`` on the day itself: a story published at 21:30 today must count in the current
    window, not in the day's first one.

    >>> page_time("2026-03-02T21:30:00-0500", datetime(2026, 3, 3, 5, tzinfo=UTC))
    datetime.datetime(2026, 3, 3, 2, 30, tzinfo=datetime.timezone.utc)
    """
    try:
        when = datetime.fromisoformat(date) if date else None
    except ValueError:
        when = None
    if when is None:
        return now
    if when.tzinfo is not None:
        return when.astimezone(UTC)
    if when.time() == time() and when.date() >= now.astimezone(UTC).date():
        return now
    return when.replace(tzinfo=UTC)
