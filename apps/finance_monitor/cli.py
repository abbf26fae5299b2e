"""``verticals finance ...``: run, poll-once, train, eval, demo, serve-demo-feeds, dashboard, alerts,
articles, sources, correct, retrain.

The commands that read a config take ``--config`` (default: ``$VERTICALS_FINANCE_CONFIG`` or
``<home>/finance/sources.toml``, which ``demo`` writes).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shared import VerticalsError
from shared.cli import Address, ValFraction, emit, open_dashboard, say_error
from shared.errors import first_few

from .alerts import ISO_UTC
from .config import EXAMPLE

if TYPE_CHECKING:  # the modules load lazily, so `--help` stays fast
    import pandas as pd
    from sqlalchemy import Engine

    from .config import MonitorConfig
    from .service import FinanceService
    from .views import AlertView

app = typer.Typer(help="Finance monitor: feeds -> topic & sentiment -> trends -> surge alerts.",
                  no_args_is_help=True)
alerts_app = typer.Typer(help="List and acknowledge alerts.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Sources TOML file.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def config_path(path: Path | None = None) -> Path:
    """The config file to use (see module docstring)."""
    from .config import default_config_path

    return path if path is not None else default_config_path()


def _config(path: Path | None, needs_config: bool = True) -> MonitorConfig:
    """The config at ``path``; commands that only read or write the database
    (``needs_config=False``) also run without one, with the defaults."""
    from .config import MonitorConfig, load_config

    found = config_path(path)
    if not needs_config and path is None and not found.exists():
        return MonitorConfig()
    return load_config(found)


def _service(path: Path | None) -> FinanceService:
    """The service for ``path``'s config; use it in a ``with`` block, which closes its HTTP
    clients."""
    from .service import FinanceService

    return FinanceService(_config(path))


def _engine(path: Path | None) -> Engine:
    """The app database alone, for commands that need no fetcher, webhooks or models (a
    config they are given must still be valid)."""
    from shared import create_tables, make_engine

    from .store import Base

    _config(path, needs_config=False)
    engine = make_engine()
    create_tables(Base.metadata, engine)
    return engine


def _fail(exc: VerticalsError) -> None:
    say_error(exc)
    raise typer.Exit(1)


@app.command()
def run(config: ConfigOpt = None,
        demo_feeds: Annotated[bool, typer.Option(help="Also serve the demo feeds.")] = False,
        port: int = 8765, speed: float = 1800.0) -> None:
    """Poll every source on its interval until interrupted (persistent job store)."""
    import logging

    from .scheduler import poller_lock, run_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # "Running job ..." and "... executed successfully" for every poll: 4 lines each 10 s
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    try:
        if not _config(config).sources:  # it polled nothing, forever, without a word
            typer.echo(f"note: {config_path(config)} names no sources, so this poller polls nothing (it still "
                       f"delivers webhooks and runs the nightly retrain): add [[sources]] entries ({EXAMPLE}) "
                       "and restart it", err=True)
        with poller_lock():  # one poller per home: they would take over each other's jobs
            if demo_feeds:
                from .demo_feeds import DemoFeedServer

                DemoFeedServer(port=port, speed=speed).start()
            run_forever(config_path(config))
    except VerticalsError as exc:
        _fail(exc)


@app.command("poll-once")
def poll_once(config: ConfigOpt = None, as_json: JsonFlag = False) -> None:
    """Poll every source once, then classify, raise alerts and deliver webhooks."""
    try:
        with _service(config) as service:
            reports, processed = service.poll_once()
    except VerticalsError as exc:
        return _fail(exc)
    result = {"sources": {r.source: {"ok": r.ok, "new": r.ingest.new,
                                     "duplicates": r.ingest.duplicates,
                                     "bad_links": r.ingest.bad_link,
                                     "other_language": r.ingest.other_language,
                                     "undated": r.ingest.undated, "backlog": r.ingest.backlog,
                                     "not_modified": r.not_modified, "error": r.error}
                          for r in reports},
              "classified": processed.classified, "reworded": processed.reworded,
              "new_alerts": processed.new_alerts,
              "models_missing": processed.models_missing,
              "webhooks": asdict(processed.deliveries)}
    emit(result, as_json)
    if not reports:
        typer.echo(f"note: {config_path(config)} names no sources, so nothing was polled: add "
                   f"[[sources]] entries ({EXAMPLE})", err=True)
    for webhook, problem in processed.deliveries.errors.items():
        typer.echo(f"error: webhook {webhook} failed: {problem} (its alerts wait and are retried with backoff; "
                   "`verticals finance sources` lists them)", err=True)
    failed = [r.source for r in reports if not r.ok]
    if failed:  # the pass's other work is done and printed; cron and scripts still need to know
        typer.echo(f"error: {len(failed)} of {len(reports)} sources failed ({', '.join(failed)}): "
                   "see each source's error above and check its URL in the sources config", err=True)
    if reports and len(failed) == len(reports):
        raise typer.Exit(1)


@app.command()
def train(
    sentiment: Annotated[Path | None, typer.Option(help="CSV text,sentiment (or text,label).")] = None,
    topics: Annotated[Path | None, typer.Option(help="CSV text,topic (or text,label).")] = None,
    test: Annotated[Path | None, typer.Option(help="Test CSV; else a 20% holdout.")] = None,
    epochs: int = 3, max_length: int = 64, batch_size: int = 32, lora: bool = False,
    val_fraction: ValFraction = 0.1,
    adversarial: Annotated[bool, typer.Option(
        help="FGM on the embeddings (about 2x the training time; better on noisy labels).")] = False,
    mlm_corpus: Annotated[bool, typer.Option(
        "--mlm", help="Domain-adapt the encoder on the scraped articles first.")] = False,
    layers: Annotated[int | None, typer.Option(
        min=1, help="Keep the base's first N layers (fewer: faster classification, for "
                    "high-volume feeds; some accuracy lost). Default: all.")] = None,
    config: ConfigOpt = None, as_json: JsonFlag = False,
) -> None:
    """Fine-tune the sentiment and/or topic model (defaults: Financial PhraseBank and the Twitter
    financial-news topics from ../shared/datasets, else the bundled demo sets)."""
    from dataclasses import replace

    from shared import TrainConfig
    from shared.finetune import check_layers

    from .training import default_plan, train_models

    try:
        models = _models(config)
        cfg = TrainConfig(epochs=epochs, max_length=max_length, batch_size=batch_size,
                          val_fraction=val_fraction, lora=lora, adversarial=adversarial, layers=layers)
        check_layers("minilm", layers)  # both checks before the masked-LM pass
        if mlm_corpus:
            cfg = replace(cfg, base=_mlm_base(config))
        plan, note = default_plan(sentiment, topics, test)
        if note:
            print(f"note: {note}", file=sys.stderr)
        results = train_models(plan, cfg, models)
    except VerticalsError as exc:
        return _fail(exc)
    emit({r["name"]: r for r in results}, as_json)


def _models(config: Path | None):
    from .config import ModelConfig, load_config

    path = config_path(config)
    return load_config(path).models if path.exists() else ModelConfig()


def _mlm_base(config: Path | None) -> str:
    from sqlalchemy import select

    from shared import pretrain_mlm, session_scope

    from .sources import article_body
    from .store import Article

    with session_scope(_engine(config)) as session:
        texts = [article_body(t, x) for t, x in session.execute(select(Article.title, Article.text))]
    if len(texts) < 50:
        raise VerticalsError(f"--mlm needs at least 50 scraped articles, found {len(texts)}")
    pretrain_mlm(texts, "finance-encoder")
    return "finance-encoder"


@app.command("eval")
def evaluate(test: Annotated[Path, typer.Option(help=(
                 "CSV text,sentiment[,topic], or text,label: a label column is read as sentiment "
                 "(negative/neutral/positive), or as topic when the topic model knows its labels."))],
             config: ConfigOpt = None, as_json: JsonFlag = False) -> None:
    """Accuracy and macro-F1 of the current models on a labelled file."""
    from .training import evaluate_models

    try:
        emit(evaluate_models(test, _models(config)), as_json)
    except VerticalsError as exc:
        _fail(exc)


@app.command()
def demo(serve: Annotated[bool, typer.Option(
             help="Start the feed server + scheduler in the background.")] = True,
         port: int = 8765, speed: float = 1800.0, as_json: JsonFlag = False,
         stop: Annotated[bool, typer.Option(
             "--stop", help="Only stop this home's background demo poller (what `make clean` does).")
         ] = False) -> None:
    """Prepare the demo: train small models if missing, write the config, start polling."""
    from .demo import prepare_demo, stop_demo

    try:
        emit({"poller": stop_demo()} if stop else prepare_demo(port=port, speed=speed, serve=serve),
             as_json)
    except VerticalsError as exc:
        _fail(exc)


@app.command("serve-demo-feeds")
def serve_demo_feeds(port: int = 8765, speed: Annotated[float, typer.Option(
        min=0, help="Stream seconds per wall-clock second (0: the whole stream at once).")] = 1800.0) -> None:
    """Serve the replayed demo stream as RSS in the foreground (Ctrl-C stops it)."""
    from .demo_feeds import DemoFeedServer

    server = DemoFeedServer(port=port, speed=speed)
    typer.echo(f"serving {', '.join(server.outlets())} at {server.url('/feeds/')}", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # a server stopped is no interrupted job: nothing to rerun
        typer.echo("stopped serving the demo feeds", err=True)


@app.command()
def dashboard(config: ConfigOpt = None, port: int = 8504, address: Address = "127.0.0.1") -> None:
    """Open the finance dashboard (`streamlit run`)."""
    if config is not None:  # a --config that is missing or broken is one line here, not a page that says so
        _config(config)
    open_dashboard(Path(__file__).with_name("dashboard.py"), port,
                   {"VERTICALS_FINANCE_CONFIG": str(config_path(config))}, address)


@alerts_app.command("list")
def alerts_list(config: ConfigOpt = None, all_: Annotated[bool, typer.Option(
        "--all", help="Include acknowledged alerts.")] = False, as_json: JsonFlag = False) -> None:
    """Open alerts (newest first) with their driving headlines, each after its article id
    (the ID that `correct` takes)."""
    from .views import alerts

    try:
        views = alerts(_engine(config), include_acknowledged=all_)
    except VerticalsError as exc:
        return _fail(exc)
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
                   + (f"; {v.correction_note}" if v.corrected else ""))
        for article in v.articles:
            now = "" if article["sentiment"] == "negative" else f" (now {article['sentiment']})"
            typer.echo(f"    - [{article['id']}] {article.get('title') or article.get('url')}{now}")


def _alert_record(view: AlertView) -> dict:
    """An alert for JSON, its times in ISO 8601 UTC like every --json output (the dashboard's
    "2026-03-05 06:00" read as local time to scripts; its minutes are all the view keeps)."""
    record = asdict(view)
    for key in ("window_start", "window_end", "acknowledged_at", "raised_at"):
        if record[key]:
            record[key] = datetime.strptime(record[key], "%Y-%m-%d %H:%M").strftime(ISO_UTC)
    for found in record["articles"]:
        found["published"] = found["published"].strftime(ISO_UTC)
    return record


@alerts_app.command("ack")
def alerts_ack(alert_id: int, config: ConfigOpt = None,
               by: Annotated[str, typer.Option(help="Who acknowledges it (shown beside the alert).")] = "cli",
               as_json: JsonFlag = False) -> None:
    """Acknowledge an alert."""
    from .outbox import acknowledge
    from .views import acknowledgement

    try:
        engine = _engine(config)
        done = acknowledge(engine, alert_id, by)
    except VerticalsError as exc:
        return _fail(exc)
    if not done:
        earlier = acknowledgement(engine, alert_id)
        _fail(VerticalsError(f"alert {alert_id} does not exist" if earlier is None else
                             f"alert {alert_id} was acknowledged already, by {earlier[1] or 'someone'} "
                             f"at {earlier[0]:%Y-%m-%d %H:%M} UTC"))
    if as_json:
        emit({"acknowledged": alert_id, "by": by}, as_json)
    else:
        typer.echo(f"acknowledged alert {alert_id}")


@app.command()
def correct(article_id: int, topic: str | None = None, sentiment: str | None = None,
            config: ConfigOpt = None, as_json: JsonFlag = False) -> None:
    """Correct an article's topic and/or sentiment (labelled data for retraining); the ID is
    the one `alerts list` shows before each headline."""
    if not (topic or sentiment):
        _fail(VerticalsError("nothing to correct: pass --topic and/or --sentiment"))
    changes = []
    try:
        with _service(config) as service:
            for field, value in (("topic", topic), ("sentiment", sentiment)):
                if value:
                    changes.append(service.correct(article_id, field, value))
                    if not as_json:
                        typer.echo(f"{changes[-1]} (queued for the next retrain)")
                        if changes[-1].note:
                            typer.echo(f"note: {changes[-1].note}", err=True)
    except VerticalsError as exc:
        if as_json and changes:  # the topic was set before the sentiment failed: a script must know
            emit({"changes": [asdict(c) for c in changes], "error": str(exc)}, as_json)
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        _fail(exc)
    if as_json:
        emit({"changes": [asdict(c) for c in changes]}, as_json)


@app.command()
def articles(topic: str | None = None, sentiment: str | None = None, source: str | None = None,
             search: Annotated[str | None, typer.Option(
                 help="Text in the title, the story, the tickers or a URL; other sources' headlines of the "
                      "story count (any case).")] = None,
             limit: Annotated[int, typer.Option(min=1)] = 20, config: ConfigOpt = None,
             as_json: JsonFlag = False) -> None:
    """Stored articles, newest first, with the ID that `correct` takes and their labels."""
    from .views import articles_frame, sources, told_as, topics

    try:
        engine = _engine(config)
        frame = articles_frame(engine, topic, sentiment, source, search, limit)
    except VerticalsError as exc:
        return _fail(exc)
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
        typer.echo(f"[{a.id}] {a.published:%Y-%m-%d %H:%M} UTC {a.source}: {a.title} ({topic}; {label}{tickers})")
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


@app.command()
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
        with FinanceService(_config(config, needs_config=False)) as service:
            frame = trends_frame(service.trends(), by)
            hours = service.config.alerts.window_hours
            opened = open_alert_windows(service.engine, by)
            alerted = list(opened)
    except VerticalsError as exc:
        return _fail(exc)
    known = sorted(frame["key"].unique())
    spelled = {k.strip().lower().removeprefix("$"): k for k in known}  # "nwb" and "$NWB" are NWB
    key = [spelled.get(k.strip().lower().removeprefix("$"), k) for k in key] if key else key
    if unknown := [k for k in key or [] if k not in known]:
        listed = first_few(known, shown=20)
        return _fail(VerticalsError(f"no {by} {unknown[0]!r} in the trends — they hold: {listed or 'none yet'}"))
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


@app.command()
def sources(config: ConfigOpt = None, as_json: JsonFlag = False,
            forget: Annotated[str | None, typer.Option(
                help="Take a source the config no longer names off the list (its articles stay).")] = None) -> None:
    """Source health: last success, last error, new articles; sources the config no longer
    names are marked."""
    import pandas as pd

    from .health import health_frame, webhook_health

    try:
        if forget is not None:
            with _service(config) as service:
                service.forget_source(forget)
            typer.echo(f"forgot source {forget!r}", err=True)
        engine, loaded = _engine(config), _config(config, needs_config=False)
        frame, hooks = health_frame(engine, loaded.sources), webhook_health(engine, loaded.webhooks)
    except VerticalsError as exc:
        return _fail(exc)
    if as_json:
        print(json.dumps({"sources": _records(frame), "webhooks": _records(hooks)}))
        return
    for w in hooks.itertuples():
        gone = "" if w.in_config else " (not in the config: its alerts are held)"
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
        note = f"; {h.last_error}" if h.state == "ok" and pd.notna(h.last_success) \
            and h.last_error_at == h.last_success else ""
        typer.echo(f"{h.source}{gone}: {h.state}{hint}; last success {when}; {h.new_last_poll} new in the last "
                   f"poll, {h.new_total} in {h.polls} polls{note}")


@app.command()
def retrain(field: Annotated[str, typer.Argument(help="sentiment or topic")],
            config: ConfigOpt = None, as_json: JsonFlag = False) -> None:
    """Retrain a model on the corrections now (promoted only if not worse)."""
    try:
        with _service(config) as service:
            report = service.retrain(field)
        emit(report.to_dict(), as_json)
    except VerticalsError as exc:
        _fail(exc)
