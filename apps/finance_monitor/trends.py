"""Windowed sentiment trends per topic and ticker (pure functions, no I/O).

>>> from datetime import datetime
>>> obs = [Observation(1, datetime(2026, 3, 2, 1), ("topic:Macro",), "negative", -0.9),
...        Observation(2, datetime(2026, 3, 2, 2), ("topic:Macro",), "positive", 0.8)]
>>> stat = window_stats(obs, hours=6)["topic:Macro"][0]
>>> stat.count, stat.negatives, stat.negative_share, stat.net_sentiment
(2, 1, 0.5, 0.0)
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Observation:
    """One classified article as the trend maths sees it (naive UTC ``published``)."""

    article_id: int
    published: datetime
    keys: tuple[str, ...]  # e.g. ("topic:Earnings", "ticker:NWB")
    sentiment: str  # negative / neutral / positive
    score: float  # P(positive) - P(negative)


@dataclass(frozen=True)
class WindowStat:
    """Counts for one key in one window ``[start, end)``."""

    key: str
    start: datetime
    end: datetime
    count: int = 0
    negatives: int = 0
    positives: int = 0
    negative_ids: tuple[int, ...] = field(default=())  # most negative first

    @property
    def negative_share(self) -> float:
        """Negatives over articles; NaN when the window is empty (a gap in a chart, not 0)."""
        return self.negatives / self.count if self.count else math.nan

    @property
    def net_sentiment(self) -> float:
        """Positive articles less negative ones, over the articles: -1 to +1; NaN when empty.

        subtle: the mean of the model's P(positive) - P(negative) read "net -0.14" for a window
        of neutral articles only (an audit's "0 negative (0%) net -0.14"); counted by label, the
        net agrees with the counts shown beside it."""
        return (self.positives - self.negatives) / self.count if self.count else math.nan


def window_start(moment: datetime, hours: float) -> datetime:
    """The start of the fixed window (aligned to the epoch) that holds ``moment``.

    >>> window_start(datetime(2026, 3, 2, 13, 45), 6)
    datetime.datetime(2026, 3, 2, 12, 0)
    """
    size = timedelta(hours=hours)
    return EPOCH + ((moment - EPOCH) // size) * size


def window_stats(observations: Iterable[Observation], hours: float,
                 until: datetime | None = None,
                 max_windows: int | None = None) -> dict[str, list[WindowStat]]:
    """Per key, one :class:`WindowStat` per window from the first observation's window to the
    last's (or to ``until``), empty windows included: a baseline needs its quiet windows too.

    ``max_windows`` keeps only that many windows, ending with the last, and drops older
    observations, so a story dated 1970 costs nothing instead of ~80,000 empty windows a key.

    >>> obs = [Observation(i, datetime(y, 1, 1, h), ("topic:Macro",), "neutral", 0.0)
    ...        for i, (y, h) in enumerate([(1970, 0), (2026, 1), (2026, 8)])]
    >>> [w.count for w in window_stats(obs, hours=6, max_windows=3)["topic:Macro"]]
    [1, 1]
    """
    if max_windows is not None and max_windows < 1:
        raise ValueError(f"max_windows must be at least 1, got {max_windows}")
    size = timedelta(hours=hours)
    placed = [(window_start(obs.published, hours), obs) for obs in observations]
    if not placed:
        return {}
    last = max(start for start, _ in placed)
    if until is not None:
        last = max(last, window_start(until, hours))
    oldest = last - (max_windows - 1) * size if max_windows is not None else None
    cells: dict[tuple[str, datetime], list[Observation]] = defaultdict(list)
    for start, obs in placed:
        if oldest is None or start >= oldest:
            for key in obs.keys:
                cells[(key, start)].append(obs)
    if not cells:
        return {}
    first = min(start for _, start in cells)
    starts = [first + i * size for i in range((last - first) // size + 1)]
    keys = sorted({key for key, _ in cells})
    return {key: [_stat(key, s, s + size, cells.get((key, s), [])) for s in starts]
            for key in keys}


def _stat(key: str, start: datetime, end: datetime, members: list[Observation]) -> WindowStat:
    negatives = sorted((o for o in members if o.sentiment == "negative"), key=lambda o: o.score)
    return WindowStat(key=key, start=start, end=end, count=len(members),
                      negatives=len(negatives), positives=sum(o.sentiment == "positive" for o in members),
                      negative_ids=tuple(o.article_id for o in negatives))


def trend_rows(stats: dict[str, list[WindowStat]]) -> list[dict]:
    """Flat rows for tables and charts: key, window start, counts, negative share, net sentiment."""
    return [{"key": s.key, "window": s.start, "count": s.count, "negatives": s.negatives, "positives": s.positives,
             "negative_share": round(s.negative_share, 3),
             "net_sentiment": round(s.net_sentiment, 3)}
            for windows in stats.values() for s in windows]
