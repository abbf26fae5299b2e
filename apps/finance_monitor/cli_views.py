"""The finance commands that show what is stored: ``alerts list``, ``articles``, ``trends`` and
``sources``, as lines of text or (``--json``) one JSON object. ``cli`` registers them.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from shared import VerticalsError
from shared.errors import first_few
from shared.output import JsonFlag

from .alerts import ISO_UTC
from .cli_options import ConfigOpt, config_for, engine_for, fail

if TYPE_CHECKING:  # the modules load lazily, so `--help` stays fast
    import pandas as pd

    from .views import AlertView


def alerts_list(config: ConfigOpt = None, all_: Annotated[bool, typer.Option(
        "--all", help="Include acknowledged alerts.")] = False, as_json: JsonFlag = False) -> None:
    """Open alerts (newest first) with their driving headlines, each after its article id
    (the ID that `correct` takes)."""
    from .views import alerts

    try:
        views = alerts(engine_for(config), include_acknowledged=all_,
                       companies=config_for(config, needs_config=False).tickers)
    except VerticalsError as exc:
        return fail(exc)
    if as_json:
        print(json.dumps({"alerts": [_alert_record(v) for v in views]}, default=str))
        return
    if not views:
        typer.echo("no alerts" if all_ else "no open alerts")
    for v in views:
        typer.echo(f"#{v.id} {v.label}: {v.negatives}/{v.total} negative in {v.window_start} to "
                   f"{v.window_end} UTC (baseline {v.baseline:g}, z={v.score:.1f}), raised {v.raised_at} UTC"
                   + (f", {v.state}" if v.acknowledged else "")
                   + (f"; {v.growth_note}" if v.grew_from is not None else "")
                   + (f"; {v.announced_note}" if v.announced_note else "")
                   + (f"; {v.correction_note}" if v.corrected else "")
                   + (f"; {v.went_on_note}" if v.went_on else ""))
        for article in v.articles:
            now = "" if article["sentiment"] == "negative" else f" (now {article['sentiment']})"
            typer.echo(f"    - [{article['id']}] {article.get('title') or article.get('url')}{now}")


def _alert_record(view: AlertView) -> dict:
    """An alert for JSON, its times in ISO 8601 UTC like every --json output (the dashboard's
    "2026-03-05 06:00" read as local time to scripts): windows to the minute, the times it was
    raised and acknowledged to the second, as the view keeps them."""
    record = asdict(view)
    for key, shown in (("window_start", "%Y-%m-%d %H:%M"), ("window_end", "%Y-%m-%d %H:%M"),
                       ("acknowledged_at", "%Y-%m-%d %H:%M:%S"), ("raised_at", "%Y-%m-%d %H:%M:%S")):
        if record[key]:
            record[key] = datetime.strptime(record[key], shown).strftime(ISO_UTC)
    for found in record["articles"]:
        found["published"] = found["published"].strftime(ISO_UTC)
    for window in record["went_on"]:
        for key in ("window_start", "window_end"):
            window[key] = window[key].strftime(ISO_UTC)
    return record


def articles(topic: str | None = None, sentiment: str | None = None, source: str | None = None,
             search: Annotated[str | None, typer.Option(
                 help="Text in the title, the story, the tickers or a URL; other sources' headlines of the "
                      "story count (any case).")] = None,
             limit: Annotated[int, typer.Option(min=1)] = 20, config: ConfigOpt = None,
             as_json: JsonFlag = False) -> None:
    """Stored articles, newest first, with the ID that `correct` takes and their labels; a first
    poll's undated backlog (marked) comes after the dated news."""
    from .views import articles_frame, sources, told_as, topics

    try:
        engine = engine_for(config)
        frame = articles_frame(engine, topic, sentiment, source, search, limit)
    except VerticalsError as exc:
        return fail(exc)
    empty = "no articles match" if topic or sentiment or source or search else "no articles yet"
    known = topics(engine) if frame.empty and topic else []
    if frame.empty and topic and topic.strip().lower() not in {t.lower() for t in known}:
        empty += f" (no article has the topic {topic!r}; stored topics: {', '.join(known) or 'none yet'})"
    named = sources(engine) if frame.empty and source else []
    if frame.empty and source and source.strip().lower() not in {s.lower() for s in named}:
        empty += f" (no article came from a source {source!r}; sources: {', '.join(named) or 'none yet'})"
    if not _rows_as_lines(frame, as_json, empty, "articles"):
        return
    told = told_as(engine, [a.id for a in frame.itertuples() if search.lower() not in a.title.lower()], search) \
        if search else {}
    for a in frame.itertuples():  # an unclassified article's labels are NaN in the frame
        label = ("not classified yet" if not isinstance(a.sentiment, str) else
                 f"{a.sentiment}, set by an analyst" if math.isnan(a.score) else f"{a.sentiment} {a.score:+.2f}")
        topic = a.topic if isinstance(a.topic, str) else "-"
        tickers = f"; {a.tickers}" if isinstance(a.tickers, str) and a.tickers else ""
        backlog = "; backlog: undated at its source's first poll, out of trends" if a.backlog else ""
        typer.echo(f"[{a.id}] {a.published:%Y-%m-%d %H:%M} UTC {a.source}: {a.title} ({topic}; {label}{tickers}"
                   f"{backlog})")
        if a.id in told:
            typer.echo(f"    found as told by {told[a.id]}")


def _rows_as_lines(frame: pd.DataFrame, as_json: bool, empty: str, key: str) -> bool:
    """Print ``frame`` as ``{key: [records]}`` (``--json``; see :func:`_records`) or ``empty``
    when it has no rows; True when the caller is to print its rows as lines."""
    if as_json:
        print(json.dumps({key: _records(frame)}, default=str))
        return False
    if frame.empty:
        typer.echo(empty)
    return not frame.empty


def _records(frame: pd.DataFrame) -> list[dict]:
    """A frame's rows for JSON: times as ISO 8601 UTC to the second, null for missing values."""
    frame = frame.copy()
    for column in frame.select_dtypes(include="datetime").columns:
        frame[column] = frame[column].dt.strftime(ISO_UTC)
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")  # null, not NaN


class TrendKind(StrEnum):
    TOPIC = "topic"
    TICKER = "ticker"


def trends(by: Annotated[TrendKind, typer.Option(help="Per topic or per ticker.")] = TrendKind.TOPIC,
           key: Annotated[list[str] | None, typer.Option(
               help="A topic or ticker to show (repeat for more); default: those with open alerts, then the "
                    "most negative articles: every topic, or 5 tickers unless more have alerts.")] = None,
           windows: Annotated[int, typer.Option(min=1, help="How many of the latest windows to show.")] = 4,
           config: ConfigOpt = None, as_json: JsonFlag = False) -> None:
    """Per-topic or per-ticker sentiment: articles, negatives and net sentiment in each window."""
    from .service import FinanceService
    from .views import open_alert_windows, trend_keys, trends_frame

    try:
        with FinanceService(config_for(config, needs_config=False)) as service:
            frame = trends_frame(service.trends(), by)
            hours = service.config.alerts.window_hours
            opened = open_alert_windows(service.engine, by)
            alerted = list(opened)
    except VerticalsError as exc:
        return fail(exc)
    known = sorted(frame["key"].unique())
    spelled = {k.strip().lower().removeprefix("$"): k for k in known}  # "nwb" and "$NWB" are NWB
    key = [spelled.get(k.strip().lower().removeprefix("$"), k) for k in key] if key else key
    if unknown := [k for k in key or [] if k not in known]:
        listed = first_few(known, shown=20)
        return fail(VerticalsError(f"no {by} {unknown[0]!r} in the trends — they hold: {listed or 'none yet'}"))
    shown = key or trend_keys(frame, by, alerted)
    whole, frame = frame, frame[frame["key"].isin(shown)].groupby("key", sort=False).tail(windows)
    frame = frame.sort_values("key", key=lambda k: k.map(shown.index), kind="stable")  # as listed below
    if not _rows_as_lines(frame, as_json, f"no classified articles with a {by} yet", "trends"):
        return
    for name in shown:
        typer.echo(f"{name}{_open_alert(name, opened, whole, windows)} — windows of {hours:g} h, UTC:")
        for w in frame[frame["key"] == name].itertuples():
            net = round(w.net_sentiment, 2) + 0.0  # no "-0.00"
            figures = f"  {w.negatives:4d} negative ({w.negative_share:.0%})  net {net:+.2f}" if w.count else ""
            typer.echo(f"    {w.window:%Y-%m-%d %H:%M}  {w.count:4d} article{'s' if w.count != 1 else ' '}{figures}")


def _open_alert(name: str, opened: dict[str, datetime], frame: pd.DataFrame, windows: int) -> str:
    """`` (open alert)`` after a key's name, and where its window is older than the ``windows``
    shown, which ``--windows`` shows it.

    subtle: the default 4 windows began after the alerted one: "(open alert)", and no alert."""
    import pandas as pd

    if name not in opened:
        return ""
    since = frame[(frame["key"] == name) & (frame["window"] >= pd.Timestamp(opened[name]))]
    return " (open alert)" if len(since) <= windows else \
        f" (open alert, in the window of {opened[name]:%Y-%m-%d %H:%M}: --windows {len(since)} shows it)"


def sources(config: ConfigOpt = None, as_json: JsonFlag = False,
            forget: Annotated[str | None, typer.Option(
                help="Take a source the config no longer names off the list (its articles stay).")] = None) -> None:
    """Source health: last success, last error, new articles; sources the config no longer
    names are marked."""
    import pandas as pd

    from .health import health_frame, webhook_health

    try:
        if forget is not None:
            from .service import FinanceService

            with FinanceService(config_for(config)) as service:
                service.forget_source(forget)
            typer.echo(f"forgot source {forget!r}", err=True)
        engine, loaded = engine_for(config), config_for(config, needs_config=False)
        frame, hooks = health_frame(engine, loaded.sources), webhook_health(engine, loaded.webhooks)
    except VerticalsError as exc:
        return fail(exc)
    if as_json:
        print(json.dumps({"sources": _records(frame), "webhooks": _records(hooks)}))
        return
    for w in hooks.itertuples():
        gone = "" if w.in_config else " (not in the config: its alerts are held; `verticals finance alerts " \
            "resend ID` sends one to the webhooks configured now)"
        tries = f"{w.attempts} attempt{'s' if w.attempts != 1 else ''}"
        error = f"; failing: {w.last_error} ({tries}, next at {w.next_attempt:%Y-%m-%d %H:%M} UTC)" \
            if isinstance(w.last_error, str) else ""
        which = f"webhook {int(w.number)} ({w.format})" if w.in_config else "webhook"
        sent = f"{w.delivered} alert{'' if w.delivered == 1 else 's'} delivered"
        typer.echo(f"{which} {w.webhook}{gone}: {sent}, {w.waiting} waiting{error}")
    if not _rows_as_lines(frame, False, "no sources: none configured, none polled", "sources"):
        return
    for h in frame.itertuples():
        when = f"{h.last_success:%Y-%m-%d %H:%M} UTC" if pd.notna(h.last_success) else "never"
        gone = "" if h.in_config else " (not in the config)"
        hint = " — is `verticals finance run` running?" if h.state.startswith("stale: ") else \
            " — `verticals finance run` or `poll-once` polls it" if h.state == "never polled" and h.in_config else ""
        # the last poll worked, with a note: entries skipped, or dated when fetched (JSON had it only)
        note = f"; {h.note}" if h.state == "ok" and isinstance(h.note, str) else ""
        typer.echo(f"{h.source}{gone}: {h.state}{hint}; last success {when}; {h.new_last_poll} new in the last "
                   f"poll, {h.new_total} in {h.polls} polls{note}")

