"""Analyst corrections: fix an article's topic or sentiment, and hand the fixes to the core's
retrain as labelled data (``text,label`` CSVs that ``shared.retraining`` reads).

The first correction of a field remembers the model's original label; a later one only
changes the new label, so the table always says "model said X, analyst says Y".
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from shared import VerticalsError, atomic_write_text, get_settings, session_scope

from .classify import clean_text
from .store import Article, Correction, utcnow

FIELDS = ("topic", "sentiment")


def correct(engine: Engine, article_id: int, field: str, value: str,
            allowed: list[str] | None = None) -> Correction:
    """Record a correction and apply it to the article (so trends use the analyst's label)."""
    if field not in FIELDS:
        raise VerticalsError(f"field must be one of {FIELDS}, got {field!r}")
    value = value.strip()
    if not value or (allowed and value not in allowed):
        raise VerticalsError(f"{field} must be one of {allowed}, got {value!r}")
    with session_scope(engine) as session:
        article = session.get(Article, article_id)
        if article is None:
            raise VerticalsError(f"no article with id {article_id}")
        row = session.scalar(select(Correction).where(Correction.article_id == article_id,
                                                      Correction.field == field))
        if row is None:
            row = Correction(article_id=article_id, field=field, old=getattr(article, field))
            session.add(row)
        row.new, row.created_at, row.used_at = value, utcnow(), None
        setattr(article, field, value)
        session.flush()
        session.expunge(row)
        return row


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


def export_corrections(engine: Engine, field: str, path: str | Path | None = None) -> Path:
    """Write the corrections of ``field`` as ``text,label`` (atomic); returns the path.

    The text is the headline: what the models were trained on.
    """
    if field not in FIELDS:
        raise VerticalsError(f"field must be one of {FIELDS}, got {field!r}")
    path = Path(path) if path else corrections_path(field)
    with session_scope(engine) as session:
        rows = session.execute(select(Article.title, Correction.new)
                               .join(Article, Article.id == Correction.article_id)
                               .where(Correction.field == field).order_by(Correction.id)).all()
    frame = pd.DataFrame([(clean_text(title), new) for title, new in rows], columns=["text", "label"])
    atomic_write_text(path, frame.to_csv(index=False))
    return path


def corrections_path(field: str) -> Path:
    """Where the scheduled retrain reads the corrections of ``field``."""
    return get_settings().home / "finance" / f"corrections_{field}.csv"
