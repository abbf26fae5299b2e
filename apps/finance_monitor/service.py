"""The finance monitor's logic, free of UI: poll -> store -> classify -> trends -> alerts.

Example::

    service = FinanceService(load_config("sources.toml"))
    service.poll_once()                   # every source once, then classify / alert / deliver
    service.open_alerts()                 # what the dashboard shows
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, select

from shared import (
    AllInEvaluationSet,
    ModelNotFoundError,
    RetrainReport,
    VerticalsError,
    already_tried,
    create_tables,
    get_registry,
    get_settings,
    make_engine,
    session_scope,
)
from shared import retrain as retrain_classifier
from shared.storage import file_lock

from .alerts import detect_surges, driven_by
from .classify import LABEL_SCORES, ArticleClassifier, Verdict, untrained
from .config import MonitorConfig, SourceKind
from .corrections import (
    ACKNOWLEDGE,
    Change,
    correct,
    corrected_labels,
    correction_labels,
    export_corrections,
    mark_used,
    pending_corrections,
)
from .fetch import Fetcher
from .guard import public_only_transport
from .horizon import horizon_observations, horizon_start, in_trends
from .ingest import Ingestor, IngestReport
from .outbox import DeliveryReport, acknowledge, deliver_due, note_follow_ups, raise_alerts
from .polls import record_poll, source_health
from .rewordings import RewordingFinder
from .sources import SourcePage, article_body, poll_source
from .store import Article, Base, Correction, SourceHealth, utcnow
from .trends import Observation, WindowStat, window_stats

log = logging.getLogger(__name__)
POLL_WORKERS = 4  # sources fetched side by side by poll-once (as many as the scheduler's pool runs)


@dataclass(frozen=True)
class PollReport:
    """One source's poll: fetched entries, what became of them, or the error."""

    source: str
    ok: bool
    fetched: int = 0
    ingest: IngestReport = field(default_factory=IngestReport)
    not_modified: bool = False
    error: str | None = None
    note: str | None = None  # the poll worked, but entries were skipped or dated when fetched (health.noted)


@dataclass(frozen=True)
class _Fetched:
    """One source as fetched for :meth:`FinanceService.poll_once`: its page, or what failed."""

    name: str
    started: datetime
    health: SourceHealth
    page: SourcePage | None = None
    failure: Exception | None = None


@dataclass(frozen=True)
class ProcessReport:
    """What happened after ingest: classified articles, new alerts, webhook deliveries."""

    classified: int = 0
    reworded: int = 0  # of those, merged into an earlier story another source told
    models_missing: str | None = None
    new_alerts: list[int] = field(default_factory=list)
    deliveries: DeliveryReport = field(default_factory=DeliveryReport)


class FinanceService:
    """Everything the CLI, the scheduler and the dashboard do, behind one object.

    Cheap to construct (tables are created if missing); the models load on first
    classification and HTTP clients on first use.
    """

    def __init__(self, config: MonitorConfig, engine: Engine | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self.engine = engine or make_engine()
        create_tables(Base.metadata, self.engine)
        self.fetcher = Fetcher(config.fetch, transport=transport)
        # subtle: alerts carry scraped headlines; a webhook URL gets the same public-only
        # guard as the sources (a hook at 169.254.169.254 or 127.0.0.1 needs allow_private)
        guarded = transport is None and not config.fetch.allow_private and not self.fetcher.proxied
        self.webhook_client = httpx.Client(
            timeout=config.fetch.timeout_s, transport=public_only_transport() if guarded else transport)
        self.classifier = ArticleClassifier(config.models.sentiment, config.models.topic, config.models.lossy)
        self.ingestor = Ingestor(self.engine, config.tickers, config.models.language)
        self.rewordings = RewordingFinder()
        self.reworded = 0  # stories merged into an earlier one by this process
        self._process_lock = threading.Lock()
        self._checked_stamp: tuple | None = None  # trends_stamp() at process()'s last check
        # set when the poller stops: classification ends after its batch, the rest waits stored
        self.stopping = threading.Event()

    def close(self) -> None:
        self.fetcher.close()
        self.webhook_client.close()

    def __enter__(self) -> FinanceService:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # polling -------------------------------------------------------------------------------
    def poll_source(self, name: str) -> PollReport:
        """Fetch one source, store its new articles, record its health. Never raises for a
        source's own failure: it is recorded and the report says what happened."""
        return self._store(self._fetch(name))

    def _fetch(self, name: str) -> _Fetched:
        """One source fetched and parsed (or the exception that stopped it); nothing stored."""
        source, started = self.config.source(name), utcnow()
        health = source_health(self.engine, name, source.url)
        try:
            return _Fetched(name, started, health, poll_source(self.fetcher, source, health.etag,
                                                              health.last_modified))
        except Exception as exc:  # noqa: BLE001 - one bad source must not stop the others
            return _Fetched(name, started, health, failure=exc)

    def _store(self, fetched: _Fetched) -> PollReport:
        """A fetched source's new articles stored and its health recorded (see :meth:`poll_source`)."""
        name, started, health, page = fetched.name, fetched.started, fetched.health, fetched.page
        source = self.config.source(name)
        try:
            if fetched.failure is not None:
                raise fetched.failure
            report = self.ingestor.ingest(page.articles, first_poll=health.last_success is None)
        except Exception as exc:  # noqa: BLE001 - one bad source must not stop the others
            problem = getattr(exc, "problem", None) or f"{type(exc).__name__}: {exc}"
            record_poll(self.engine, source, self.config.models.language, started, ok=False, error=problem)
            log.warning("source %s failed: %s", name, problem)
            return PollReport(source=name, ok=False, error=problem)
        # subtle: the validators are saved only now, after every article is stored; saving
        # them first would make a restarted poll get 304 and lose the unstored rest.
        # subtle: a feed cut short keeps the validators of the last whole one, or a 304 would
        # leave its lost entries unread for good
        whole = not page.problem
        note = record_poll(self.engine, source, self.config.models.language, started, ok=True,
                           fetched=len(page.articles), ingest=report, etag=(whole and page.result.etag) or health.etag,
                           last_modified=(whole and page.result.last_modified) or health.last_modified,
                           moved_to=page.result.url if page.result.moved else None,
                           empty=source.kind == SourceKind.FEED and not page.articles
                           and not page.result.not_modified, problem=page.problem)
        return PollReport(source=name, ok=True, fetched=len(page.articles), ingest=report,
                          not_modified=page.result.not_modified, note=note)

    def poll_once(self) -> tuple[list[PollReport], ProcessReport]:
        """Poll every configured source once, then classify, alert and deliver. The sources are
        fetched side by side (``POLL_WORKERS``), their articles stored one source after another
        in the config's order. subtle: fetched in turn, 27 sources took 54 s, and each hanging one
        added its timeouts to the rest."""
        pool = ThreadPoolExecutor(max_workers=POLL_WORKERS, thread_name_prefix="poll")
        try:
            fetches = [pool.submit(self._fetch, s.name) for s in self.config.sources]
            reports = [self._store(fetch.result()) for fetch in fetches]
        finally:  # Ctrl-C: the fetches not yet started are dropped, not run to the end
            pool.shutdown(wait=False, cancel_futures=True)
        return reports, self.process()

    def process(self) -> ProcessReport:
        """Classify pending articles, raise alerts for new surges, deliver due webhooks."""
        with self._process_lock:
            merged_before = self.reworded
            classified, missing = self.classify_pending()
            if self.stopping.is_set():
                # subtle: stopped mid-backlog, the poller raised an alert from the part it had
                # classified and posted its webhook after the stop; the next start judges it whole
                return ProcessReport(classified=classified, reworded=self.reworded - merged_before,
                                     models_missing=missing, new_alerts=[], deliveries=DeliveryReport())
            # subtle: the detector reads every key's windows over the horizon (about 3 s at 150k
            # articles); it runs when they may have changed: articles classified or corrected,
            # here or by another process (the dashboard, `finance correct`), since the last check
            stamp = self.trends_stamp() if not missing else None
            new_alerts = self.check_alerts() if stamp and stamp != self._checked_stamp else []
            self._checked_stamp = stamp or self._checked_stamp
            deliveries = deliver_due(self.engine, self.webhook_client,
                                     webhooks=self.config.webhooks, companies=self.config.tickers)
        return ProcessReport(classified=classified, reworded=self.reworded - merged_before,
                             models_missing=missing,
                             new_alerts=new_alerts, deliveries=deliveries)

    def forget_source(self, name: str) -> None:
        """Take a source the config no longer names off the health list (its articles stay).
        subtle: removed sources stayed listed "not in the config" for good (20 of 25 rows)."""
        if any(s.name == name for s in self.config.sources):
            raise VerticalsError(f"source {name!r} is in the config: remove it there first")
        with session_scope(self.engine) as session:
            health = session.get(SourceHealth, name)
            if health is None:
                listed = sorted(session.scalars(select(SourceHealth.source)).all())
                raise VerticalsError(f"no source {name!r} in the health list (it holds: {', '.join(listed) or 'none'})")
            session.delete(health)

    # classification ------------------------------------------------------------------------
    def classify_pending(self, batch: int = 128) -> tuple[int, str | None]:
        """Label stored-but-unlabelled articles, a batch at a time until none is left or the
        service is :attr:`stopping`; returns (count, why models are missing).

        subtle: Ctrl-C on `finance run` stopped the scheduler at once, but its job went on
        classifying a 400-story feed for 195 s, silent, the poller lock held."""
        total = 0
        while not self.stopping.is_set():
            # subtle: one batch at a time across the home's processes (`run` beside a `poll-once`):
            # a rewording merged away by one must not be labelled by the other
            with (file_lock(get_settings().home / "finance" / "classify.lock"),
                  session_scope(self.engine) as session):
                articles = session.scalars(select(Article).where(Article.classified_at.is_(None))
                                           .order_by(Article.id).limit(batch)).all()
                if not articles:
                    return total, None
                try:
                    # the nightly retrain runs in this process: pick up a promoted version
                    if self.classifier.refresh():
                        log.info("models loaded: %s", ", ".join(self.classifier.paths))
                    verdicts = self.classifier.classify([article_body(a.title, a.text)
                                                              for a in articles])
                except ModelNotFoundError as exc:
                    return total, f"{untrained(exc)}; stored articles wait unclassified until then"
                fixed = corrected_labels(session, [a.id for a in articles])
                for article, verdict in zip(articles, verdicts, strict=True):
                    _label(article, verdict, fixed)
                # in the same transaction as the labels: trends never count a rewording twice
                self.reworded += self.rewordings.merge(session, articles, keep={i for i, _ in fixed})
                total += len(articles)
        return total, None

    # trends and alerts ---------------------------------------------------------------------
    def observations(self) -> list[Observation]:
        """The classified articles of the last ``alerts.horizon_windows`` windows, as trends
        and alerts read them (see :func:`horizon.horizon_observations`)."""
        return horizon_observations(self.engine, self.config.alerts)

    def trends(self) -> dict[str, list[WindowStat]]:
        """Per key (``topic:X`` / ``ticker:Y``), the windowed counts and sentiment over the
        last ``alerts.horizon_windows`` windows up to the newest article."""
        alerts = self.config.alerts
        return window_stats(self.observations(), alerts.window_hours,
                            max_windows=alerts.horizon_windows)

    def trends_stamp(self) -> tuple:
        """What the trends depend on, cheap to read: a dashboard recomputes them (seconds at
        150k articles) only when it changes. Classified count and newest classification, the
        newest correction, and the alert settings."""
        with session_scope(self.engine) as session:
            count, newest = session.execute(select(func.count(), func.max(Article.classified_at))
                                            .where(Article.classified_at.is_not(None))).one()
            corrected = session.scalar(select(func.max(Correction.created_at)))
        return str(self.engine.url), count, newest, corrected, self.config.alerts

    def check_alerts(self) -> list[int]:
        """Run the surge detector over every key's recent windows and store the new alerts;
        a window that surges on while its key's alert cools down raises none and is kept on
        that alert (:func:`.outbox.note_follow_ups`).

        subtle: once the horizon cuts older articles off, its first windows have lost part of
        the baseline and cooldown they were judged with when fresh, and could "surge" now;
        they were judged back then, so only the settled windows after them may alert. Where
        the cut falls is a matter of time, not of how many windows hold articles: after a
        quiet night at the horizon's start the trends begin later, and counting their windows
        let a settled-looking old window alert again.
        """
        alerts = self.config.alerts
        with session_scope(self.engine) as session:
            oldest = horizon_start(session, alerts)
            cut = oldest is not None and session.execute(select(Article.id).where(
                Article.classified_at.is_not(None), Article.published < oldest, in_trends()).limit(1)).first()
        settled = oldest + (alerts.baseline_windows + alerts.cooldown_windows) \
            * timedelta(hours=alerts.window_hours) if cut else None

        def judged(surges: list) -> list:  # those of the settled windows
            return [s for s in surges if settled is None or s.start >= settled]

        trends = self.trends()
        by_ticker = [windows for key, windows in trends.items() if key.startswith("ticker:")]
        tickers = [s for windows in by_ticker for s in detect_surges(windows, alerts)]
        # a topic's surge that one ticker's surge made, alerted or cooling down, is that ticker's
        every_ticker = [s for windows in by_ticker for s in detect_surges(windows, alerts, cooldown=False)]
        driven = driven_by(every_ticker)
        topic_trends = [windows for key, windows in trends.items() if not key.startswith("ticker:")]
        topics = [s for windows in topic_trends for s in detect_surges(windows, alerts, skip=driven)]
        created = raise_alerts(self.engine, judged(topics + tickers), alerts, self.config.webhooks)
        # the windows that surged on while an alert of theirs cooled down: shown on that alert
        every_topic = [s for windows in topic_trends
                       for s in detect_surges(windows, alerts, skip=driven, cooldown=False)]
        note_follow_ups(self.engine, judged(every_topic + every_ticker), alerts)
        return created

    def deliver(self, now: datetime | None = None) -> DeliveryReport:
        return deliver_due(self.engine, self.webhook_client, now=now,
                           webhooks=self.config.webhooks, companies=self.config.tickers)

    def acknowledge(self, alert_id: int, by: str = "analyst") -> bool:
        """Mark an alert handled; False if it does not exist or was already acknowledged."""
        return acknowledge(self.engine, alert_id, by)

    def correction_labels(self, field: str) -> list[str]:
        """What an analyst may set ``field`` to (see :func:`corrections.correction_labels`)."""
        return correction_labels(field, self.model_cards().get(self.model_name(field), {}).get("labels"))

    def correct(self, article_id: int, field: str, value: str, acknowledge: str = ACKNOWLEDGE) -> Change:
        """An analyst's label for an article; exported at once for the scheduled retrain.
        ``acknowledge``: how the change's note says to acknowledge an alert (:data:`.corrections.ACKNOWLEDGE`)."""
        change = correct(self.engine, article_id, field, value, self.correction_labels(field), acknowledge,
                         self.config.tickers)
        export_corrections(self.engine, field)
        return change

    def retrain(self, field: str, nightly: bool = False) -> RetrainReport | None:
        """Retrain one model on its pending corrections (promoted only if not worse).

        A promoted version keeps them in its ``train.csv``, so they are marked used and never
        fed again; a rejected one leaves them pending. ``nightly=True`` returns None instead of
        training when there is nothing new: no pending corrections, or exactly these were
        already tried by the last retrain.
        """
        pending, name = pending_corrections(self.engine, field), self.model_name(field)
        if not pending.rows:
            if nightly:
                return None
            raise VerticalsError(f"no pending {field} corrections — correct some articles first")
        if nightly and already_tried(name, pending.rows):
            return None
        try:
            report = retrain_classifier(name, pending.rows, lossless=not self.config.models.lossy)
        except AllInEvaluationSet:
            # subtle: these can never be trained on (the set judges every version), and kept
            # pending they failed every retrain, the nightly one each night
            mark_used(self.engine, pending.stamps)
            export_corrections(self.engine, field)
            raise VerticalsError(
                f"the {len(pending.rows)} pending {field} correction(s) are set aside, none trained on: their "
                f"headlines are in {name}'s fixed evaluation set, which judges each version and is never learnt "
                "from — where its label is wrong, fix the test file it came from and train again (correcting the "
                "article again queues it anew)") from None
        if report.promoted:
            mark_used(self.engine, pending.stamps)
        export_corrections(self.engine, field)
        return report

    def model_name(self, field: str) -> str:
        """The configured model of ``field`` (``sentiment`` or ``topic``)."""
        if field not in ("sentiment", "topic"):
            raise VerticalsError(f"field must be 'sentiment' or 'topic', got {field!r}")
        return self.config.models.sentiment if field == "sentiment" else self.config.models.topic

    def explain_sentiment(self, sentence: str) -> tuple[str, list[tuple[str, float]]]:
        """The sentiment model's verdict on ``sentence`` and the words that pushed it (for the
        dashboard's article details); a one-line error when the model is not trained."""
        try:
            return self.classifier.explain_sentiment(sentence)
        except ModelNotFoundError as exc:
            raise VerticalsError(untrained(exc)) from None

    def model_cards(self) -> dict[str, dict]:
        """Cards of the current sentiment and topic models (without loading weights); a model
        configured as a directory path is read from its ``card.json``."""
        registry, cards = get_registry(), {}
        for name in (self.config.models.sentiment, self.config.models.topic):
            card_file = Path(name) / "card.json"
            if card_file.is_file():
                cards[name] = json.loads(card_file.read_text())
            elif registry.current(name) is not None:
                cards[name] = registry.card(name)
        return cards


def _label(article: Article, verdict: Verdict, fixed: dict[tuple[int, str], str]) -> None:
    """Store a verdict; an analyst's label (and its score) wins, even when given before the
    first classification."""
    article.topic = fixed.get((article.id, "topic"), verdict.topic)
    article.topic_score = verdict.topic_score
    sentiment = fixed.get((article.id, "sentiment"))
    article.sentiment = sentiment or verdict.sentiment
    article.sentiment_score = LABEL_SCORES[sentiment] if sentiment else verdict.sentiment_score
    article.driving = _json(verdict.driving)
    article.classified_at = utcnow()


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)
