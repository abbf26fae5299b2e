"""Negative-surge detection (pure) and webhook payloads / retry schedule for the outbox.

A window surges when its negative count is far above the key's own recent baseline:

    z = (negatives - median(baseline)) / max(1.4826 * MAD(baseline), sqrt(max(median, 1)))

The square-root floor is the Poisson noise of a count, so a quiet key whose baseline is all
zeros does not alert on two stories. Windows with fewer than ``min_volume`` negatives are too
thin to judge; after an alert the key stays quiet for ``cooldown_windows`` unless a window
escalates to at least twice the alerted count (a small blip must not mask the real surge).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

import httpx

from shared.errors import VerticalsError

from .config import AlertConfig
from .trends import WindowStat

ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"  # a time in JSON (webhooks, --json): the stored naive times are UTC


@dataclass(frozen=True)
class Surge:
    """A detected surge: which key, which window, how big, and the articles behind it."""

    key: str
    start: datetime
    end: datetime
    negatives: int
    total: int
    baseline: float
    score: float
    article_ids: tuple[int, ...]


def key_label(key: str, companies: Mapping[str, Sequence[str]] | None = None) -> str:
    """An alert key's human name, as webhooks, the CLI and the dashboard show it: a ticker by
    its cashtag, so it is not read as a topic of the same name, with the first name the
    config's ``[tickers]`` gives it (``companies``; subtle: an analyst with many tickers read
    "$KSTL" and had to look up the company).

    >>> key_label("topic:Earnings"), key_label("ticker:NWB"), key_label("ticker:NWB", {"NWB": ["Northwind Bank"]})
    ('Earnings', '$NWB', '$NWB (Northwind Bank)')
    """
    kind, _, name = key.partition(":")
    if kind != "ticker":
        return name
    named = (companies or {}).get(name)
    return f"${name} ({named[0]})" if named else f"${name}"


def robust_z(value: float, history: list[float]) -> tuple[float, float]:
    """(baseline median, robust z of ``value``) against ``history``.

    >>> robust_z(12, [1, 0, 2, 1, 1])
    (1, 11.0)
    """
    center = median(history)
    mad = median(abs(h - center) for h in history)
    scale = max(1.4826 * mad, math.sqrt(max(center, 1.0)))
    return center, (value - center) / scale


def detect_surges(windows: list[WindowStat], config: AlertConfig,
                  skip: Callable[[WindowStat], bool] | None = None, cooldown: bool = True) -> list[Surge]:
    """Surges in one key's consecutive windows (oldest first), cooldown applied unless
    ``cooldown`` is False (every surging window, for :func:`driven_by`). ``skip``: a window
    that would surge but is another key's surge (:func:`driven_by`); it starts no cooldown, so
    a surge of this key's own right after it still alerts."""
    surges: list[Surge] = []
    last_alert: int | None = None
    last_size = 0
    for i, window in enumerate(windows):
        history = [w.negatives for w in windows[max(0, i - config.baseline_windows):i]]
        if len(history) < config.min_baseline_windows or window.negatives < config.min_volume:
            continue  # not enough past to compare with, or too thin to judge
        if window.negative_share < config.min_negative_share:
            continue
        baseline, z = robust_z(window.negatives, history)
        if z < config.z_threshold or (skip is not None and skip(window)):
            continue
        cooling = cooldown and last_alert is not None and i - last_alert <= config.cooldown_windows
        if cooling and window.negatives < 2 * last_size:
            continue
        last_alert, last_size = i, window.negatives
        surges.append(Surge(key=window.key, start=window.start, end=window.end,
                            negatives=window.negatives, total=window.count,
                            baseline=float(baseline), score=round(z, 2),
                            article_ids=window.negative_ids))
    return surges


def driven_by(tickers: list[Surge]) -> Callable[[WindowStat], bool]:
    """One surge, one alert: whether a topic's window is one ticker's surge seen through its
    topic, i.e. that ticker's surge in the same window holds at least half its negative
    articles (``detect_surges``'s ``skip`` for topics). The demo's Northwind scandal raised
    ``ticker:NWB`` (9 negative of 10) and ``topic:Legal | Regulation`` (7 of 10, all among the
    9): two alerts and two webhooks for one story. A topic surge spread over companies stays.

    subtle: ``tickers`` are every surging ticker window, those in cooldown too: the scandal's
    next window (NWB 10 negative, cooling; the topic 9, all among them) alerted as the topic.
    """
    by_start: dict[datetime, list[set[int]]] = {}
    for surge in tickers:
        by_start.setdefault(surge.start, []).append(set(surge.article_ids))

    def driven(window: WindowStat) -> bool:
        ids = set(window.negative_ids)
        return bool(ids) and any(2 * len(ids & held) >= len(ids) for held in by_start.get(window.start, ()))

    return driven


def alert_text(surge: Surge, titles: list[str], alert_id: int, grew_from: int | None = None,
               companies: Mapping[str, Sequence[str]] | None = None) -> str:
    """One readable paragraph: what surged (with the alert's id, which `finance alerts ack`
    takes and a receiver can drop repeats by; announced again, what it grew from), how much,
    and the top headlines. ``companies``: as for :func:`key_label`."""
    again = f", grown from {grew_from} negative" if grew_from is not None else ""
    head = (f"Negative surge on {key_label(surge.key, companies)} (alert #{alert_id}{again}): "
            f"{surge.negatives} negative of {surge.total} "
            f"articles in {surge.start:%Y-%m-%d %H:%M}-{surge.end:%H:%M} UTC "
            f"(baseline {surge.baseline:g}, z={surge.score:.1f})")
    more = [f"- and {len(titles) - 5} more"] if len(titles) > 5 else []
    return "\n".join([head] + [f"- {t}" for t in titles[:5]] + more)


def slack_escape(text: str) -> str:
    """Text shown literally by Slack: scraped headlines must not ping (``<!channel>``) or
    disguise a link (``<http://evil|Reuters>``).

    >>> slack_escape("<!channel> AT&T <http://evil|Reuters>")
    '&lt;!channel&gt; AT&amp;T &lt;http://evil|Reuters&gt;'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


PAYLOAD_STORIES = 10  # the driving stories a JSON webhook names (ids, headlines, links)


def webhook_payload(surge: Surge, alert_id: int, titles: list[str], fmt: str,
                    grew_from: int | None = None, urls: list[str] = (),
                    companies: Mapping[str, Sequence[str]] | None = None) -> dict:
    """JSON body for a webhook: Slack-compatible ``{"text"}`` or a structured alert;
    ``grew_from``: the negatives it was last announced with, when announced again (else None);
    ``urls``: the stories' links, beside ``titles`` (subtle: a receiver got ids and headlines,
    and no way to open the stories). The JSON format carries the first ``PAYLOAD_STORIES`` of
    ``article_ids`` with their headlines and links (``more_articles``: how many it leaves out;
    subtle: 12 ids came with 10 headlines, and nothing said which two had none).
    ``companies``: as for :func:`key_label`."""
    if fmt == "slack":
        return {"text": slack_escape(alert_text(surge, titles, alert_id, grew_from, companies))}
    ids = list(surge.article_ids)
    return {"alert_id": alert_id, "grew_from": grew_from, "key": surge.key,
            "label": key_label(surge.key, companies),
            "window_start": surge.start.strftime(ISO_UTC), "window_end": surge.end.strftime(ISO_UTC),
            "negatives": surge.negatives, "total": surge.total, "baseline": surge.baseline,
            "score": surge.score, "article_ids": ids[:PAYLOAD_STORIES],
            "headlines": titles[:PAYLOAD_STORIES], "urls": list(urls)[:PAYLOAD_STORIES],
            "more_articles": max(0, len(ids) - PAYLOAD_STORIES)}


def next_attempt(now: datetime, attempts: int, base_s: float = 30.0,
                 cap_s: float = 3600.0) -> datetime:
    """When to retry a failed delivery: exponential backoff, capped.

    >>> next_attempt(datetime(2026, 1, 1), 3) - datetime(2026, 1, 1)
    datetime.timedelta(seconds=240)
    """
    return now + timedelta(seconds=min(cap_s, base_s * 2 ** attempts))


def post_webhook(client: httpx.Client, url: str, payload: dict) -> str | None:
    """POST ``payload``; None on a 2xx answer, else the problem in a few words."""
    try:
        response = client.post(url, json=payload)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    except VerticalsError as exc:  # the public-only transport refused the address
        return str(getattr(exc, "problem", exc))
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"
