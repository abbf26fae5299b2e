"""Analyst corrections: fix an article's topic or sentiment, and hand the fixes to the core's
retrain as labelled data (``text,label`` CSVs that ``shared.retraining`` reads).

The first correction of a field remembers the model's original label; a later one only
changes the new label, so the table always says "model said X, analyst says Y". A correction
is exported until a promoted retrain has absorbed it (``used_at``), or a retrain has set it aside
(its headline is in the model's fixed evaluation set, which no version trains on: ``used_at`` too);
changing it again makes it pending again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from shared import LabelledText, VerticalsError, atomic_write_text, get_settings, session_scope

from .alerts import key_label
from .classify import LABEL_SCORES, SENTIMENTS, clean_text
from .store import AlertRow, Article, Correction, merged_into, utcnow

FIELDS = ("topic", "sentiment")
# how a correction's note says to acknowledge open alert ``{id}``: the CLI's words; the dashboard
# names its button instead
ACKNOWLEDGE = "`verticals finance alerts ack {id}`"


@dataclass(frozen=True)
class Change:
    """What one correction did to an article: ``article 263: sentiment positive -> negative``
    (``before`` is None for an article not classified yet)."""

    article_id: int
    field: str
    before: str | None
    after: str
    note: str = ""  # what it means for the open alerts (:func:`_alert_note`)

    def __str__(self) -> str:
        # subtle: a label confirmed read "topic Legal -> Legal", as if something had changed
        if self.before == self.after:
            return f"article {self.article_id}: {self.field} {self.after} confirmed"
        return f"article {self.article_id}: {self.field} {self.before or '(unclassified)'} -> {self.after}"


def correction_labels(field: str, model_labels: list[str] | None) -> list[str]:
    """The labels an analyst may give: a topic model's own; for sentiment, the model's labels
    that are ours, else ours (``[]``: no topic model, anything goes):

    >>> correction_labels("sentiment", ["bearish", "bullish"])
    ['negative', 'neutral', 'positive']
    """
    if field == "sentiment":
        return [label for label in model_labels or SENTIMENTS if label in SENTIMENTS] or list(SENTIMENTS)
    return list(model_labels or [])


def correct(engine: Engine, article_id: int, field: str, value: str,
            allowed: list[str] | None = None, acknowledge: str = ACKNOWLEDGE,
            companies: Mapping[str, Sequence[str]] | None = None) -> Change:
    """Record a correction and apply it to the article (so trends use the analyst's label);
    a sentiment correction also sets the score to the label's (-1 / 0 / +1), so the table,
    the net-sentiment trend and the alerts agree with it. ``acknowledge`` goes in the note
    (:func:`_alert_note`), which names a ticker's company from ``companies`` (the config's
    ``[tickers]``, :func:`.alerts.key_label`)."""
    if field not in FIELDS:
        raise VerticalsError(f"field must be one of {', '.join(FIELDS)}, got {field!r}")
    allowed = correction_labels(field, allowed)
    value = value.strip()
    # subtle: `train` reads "Negative" as "negative", and `articles --topic macro` finds "Macro";
    # a correction in another case was refused. One label in any case is that label
    if allowed and value not in allowed and len(cased := [a for a in allowed if a.lower() == value.lower()]) == 1:
        value = cased[0]
    if not value or (allowed and value not in allowed):
        fix = (" — a new topic takes a topic model trained with it: add its examples to the topics file "
               "and run `verticals finance train --topics FILE`" if field == "topic" and value else "")
        raise VerticalsError(f"{field} must be one of {', '.join(allowed)}, got {value!r}{fix}")
    with session_scope(engine) as session:
        article = session.get(Article, article_id)
        if article is None:
            joined = merged_into(session, article_id)
            raise VerticalsError(f"article {article_id} was merged into article {joined}, the same story told "
                                 f"earlier by another source: correct {joined} instead" if joined is not None
                                 else f"no article with id {article_id}")
        row = session.scalar(select(Correction).where(Correction.article_id == article_id,
                                                      Correction.field == field))
        if row is None:
            row = Correction(article_id=article_id, field=field, old=getattr(article, field))
            session.add(row)
        row.new, row.created_at, row.used_at = value, utcnow(), None
        before = getattr(article, field)
        setattr(article, field, value)
        if field == "sentiment":
            article.sentiment_score = LABEL_SCORES[value]
        note = _alert_note(session, article, acknowledge, companies) if field == "sentiment" and before != value else ""
        return Change(article_id, field, before, value, note)


def _alert_note(session: Session, article: Article, acknowledge: str,
                companies: Mapping[str, Sequence[str]] | None = None) -> str:
    """What a sentiment correction means for the open alerts: one raised on this article as a
    negative headline stands as raised (``acknowledge``, its ``{id}`` filled in, says how to
    acknowledge it); a new negative in an open alert's window is counted by the trends, not by
    the alert. "" when it touches none.

    subtle: an analyst corrected a driver of an open alert to neutral (or added a negative
    inside its window), and nothing said the alert kept the counts it was raised with."""
    open_alerts = session.scalars(select(AlertRow).where(AlertRow.acknowledged_at.is_(None))
                                  .order_by(AlertRow.id)).all()
    # by its drivers, whatever the article's keys are now (a topic corrected in the same call)
    drove = [a for a in open_alerts if article.id in a.driver_ids()]
    if drove and article.sentiment != "negative":
        return "; ".join(f"open alert #{a.id} ({key_label(a.key, companies)}) counted it among its {a.negatives} "
                         f"negative headlines and stands until news lands in its window again: "
                         f"{acknowledge.replace('{id}', str(a.id))} if it no longer holds" for a in drove)
    keys = {f"topic:{article.topic}"} | {f"ticker:{t}" for t in article.ticker_list()}
    inside = [a for a in open_alerts if a.key in keys and a.window_start <= article.published < a.window_end
              and a not in drove]
    if inside and article.sentiment == "negative" and article.classified_at is not None:
        return "; ".join(f"it falls in open alert #{a.id}'s window ({key_label(a.key, companies)}), which keeps the "
                         f"{a.negatives} negative headlines it was raised with until news lands there again; "
                         "the trends count it now" for a in inside)
    return ""


def corrected_labels(session: Session, article_ids: list[int]) -> dict[tuple[int, str], str]:
    """The analysts' labels of these articles: ``{(article_id, field): label}``. Classifying
    an article corrected before its first classification must keep these, not overwrite them.
    """
    rows = session.execute(select(Correction.article_id, Correction.field, Correction.new)
                           .where(Correction.article_id.in_(article_ids))).all()
    return {(article_id, field): new for article_id, field, new in rows}


def corrections_frame(engine: Engine) -> pd.DataFrame:
    """All corrections with the article title, newest first."""
    with session_scope(engine) as session:
        rows = session.execute(select(Correction, Article.title)
                               .join(Article, Article.id == Correction.article_id)
                               .order_by(Correction.created_at.desc())).all()
    return pd.DataFrame([{"article_id": c.article_id, "title": title, "field": c.field,
                          "model_said": c.old, "analyst_says": c.new, "at": c.created_at}
                         for c, title in rows],
                        columns=["article_id", "title", "field", "model_said", "analyst_says",
                                 "at"])


@dataclass(frozen=True)
class Pending:
    """Corrections no promoted retrain has absorbed yet: the rows to train on (one per
    headline, the latest label) and the ``(id, created_at)`` of every correction they cover."""

    rows: list[LabelledText]
    stamps: list[tuple[int, datetime]]


def pending_corrections(engine: Engine, field: str) -> Pending:
    """The corrections of ``field`` not yet used by a promoted retrain.

    subtle: a promoted version keeps its training rows in ``train.csv`` and the next retrain
    starts from there, so a used correction must never be exported again.
    """
    if field not in FIELDS:
        raise VerticalsError(f"field must be one of {', '.join(FIELDS)}, got {field!r}")
    with session_scope(engine) as session:
        found = session.execute(select(Correction.id, Correction.created_at, Article.title,
                                       Correction.new)
                                .join(Article, Article.id == Correction.article_id)
                                .where(Correction.field == field, Correction.used_at.is_(None))
                                .order_by(Correction.created_at, Correction.id)).all()
    latest: dict[str, LabelledText] = {}
    for _, _, title, new in found:  # two stories with one headline: the later label wins
        text = clean_text(title)
        latest.pop(text, None)
        latest[text] = LabelledText(text, new)
    return Pending(list(latest.values()), [(i, at) for i, at, _, _ in found])


def mark_used(engine: Engine, stamps: list[tuple[int, datetime]]) -> int:
    """Mark corrections absorbed by a promoted retrain, or set aside by a retrain (their headlines in
    the fixed evaluation set); returns how many were marked.

    A correction changed since it was exported (another ``created_at``) stays pending.
    """
    now, marked = utcnow(), 0
    with session_scope(engine) as session:
        for correction_id, created_at in stamps:
            result = session.execute(update(Correction)
                                     .where(Correction.id == correction_id,
                                            Correction.created_at == created_at,
                                            Correction.used_at.is_(None))
                                     .values(used_at=now))
            marked += result.rowcount
    return marked


def export_corrections(engine: Engine, field: str, path: str | Path | None = None) -> Path:
    """Write the pending corrections of ``field`` as ``text,label`` (atomic); returns the path.

    The text is the headline: what the models were trained on.
    """
    rows = pending_corrections(engine, field).rows
    frame = pd.DataFrame([(r.text, r.label) for r in rows], columns=["text", "label"])
    path = Path(path) if path else corrections_path(field)
    atomic_write_text(path, frame.to_csv(index=False))
    return path


def corrections_path(field: str) -> Path:
    """Where the scheduled retrain reads the corrections of ``field``."""
    return get_settings().home / "finance" / f"corrections_{field}.csv"
