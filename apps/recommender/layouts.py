"""Public datasets' layouts read into the recommender's items and interactions (:mod:`.data`):
MovieLens (``movies.csv``, ``ratings.csv``, optionally ``tags.csv``) and MIND (``news.tsv``,
``behaviors.tsv``). ``verticals recommend convert`` writes them with :func:`.data.write_dataset`;
TALLRec JSON is :mod:`.tallrec`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from shared import read_table
from shared.data import file_row
from shared.errors import DataError

from .data import item_text, refuse_duplicates, unix_seconds


def load_movielens(folder: str | Path, min_rating: float = 4.0,
                   max_tags: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """MovieLens ``movies.csv``/``ratings.csv``/``tags.csv`` -> (items, interactions).

    Item text is title, genres and the most used tags; ratings >= ``min_rating`` are label 1.
    Ratings of films ``movies.csv`` lacks are dropped; ``interactions.attrs["unknown_items"]``
    counts them.
    """
    folder = Path(folder)
    movies = read_table(folder / "movies.csv", ["movieId", "title", "genres"])
    ratings = read_table(folder / "ratings.csv", ["userId", "movieId", "rating", "timestamp"])
    tags = _top_tags(folder / "tags.csv", max_tags)
    genres = movies["genres"].str.replace("(no genres listed)", "", regex=False)
    items = pd.DataFrame({
        "item_id": movies["movieId"], "title": movies["title"],
        "category": genres.str.split("|").str[0].fillna(""),
        "description": [_movie_description(g, tags.get(m, "")) for g, m in
                        zip(genres, movies["movieId"])],
    })
    items["text"] = [item_text(t, "", d) for t, d in zip(items["title"], items["description"])]
    path = folder / "ratings.csv"
    rating = pd.to_numeric(ratings["rating"], errors="coerce")
    if (bad := ~np.isfinite(rating)).any():  # subtle: "four" was a traceback from astype(float)
        row = int(bad.to_numpy().argmax())
        raise DataError(path, file_row(path, row), f"rating must be a number, got {ratings['rating'][row]!r}",
                        "fix or drop the row")
    interactions = pd.DataFrame({
        "user_id": ratings["userId"], "item_id": ratings["movieId"],
        "label": (rating >= min_rating).astype(int), "timestamp": unix_seconds(ratings, path),
    })
    known = interactions["item_id"].isin(set(items["item_id"]))  # as MIND's: dropped and counted
    if len(known) and not known.any():
        raise DataError(path, None, "no rating names a film that movies.csv lists", "pass the two files of one "
                        "MovieLens release")
    if len(known) and not (rating[known] >= min_rating).any():  # nothing taken: no model can learn from it
        kept = rating[known]
        raise DataError(path, None, f"no rating of a film in movies.csv reaches --min-rating {min_rating:g} "
                        f"(they run {kept.min():g} to {kept.max():g}), so nothing counts as taken", "lower it")
    interactions = interactions[known].reset_index(drop=True)
    interactions.attrs["unknown_items"] = int((~known).sum())
    return items, interactions


def _movie_description(genres: str, tags: str) -> str:
    """``("Comedy|Drama", "quirky")`` -> ``"Genres: Comedy, Drama. Tags: quirky"``; either part
    may be missing (a film with no genres listed is ``"Tags: quirky"``)."""
    parts = ["Genres: " + genres.replace("|", ", ") if genres else "",
             f"Tags: {tags}" if tags else ""]
    return ". ".join(p for p in parts if p)


def _top_tags(path: Path, max_tags: int) -> dict[str, str]:
    if not path.exists():
        return {}
    tags = read_table(path, ["movieId", "tag"])
    tags["tag"] = tags["tag"].str.lower().str.strip()
    counts = tags.groupby(["movieId", "tag"]).size().reset_index(name="n")
    counts = counts.sort_values(["movieId", "n", "tag"], ascending=[True, False, True])
    top = counts.groupby("movieId").head(max_tags)
    return top.groupby("movieId")["tag"].agg(", ".join).to_dict()


MIND_NEWS = ["item_id", "category", "subcategory", "title", "abstract", "url", "title_entities",
             "abstract_entities"]
MIND_BEHAVIORS = ["impression_id", "user_id", "time", "history", "impressions"]
_MIND_HINT = "pass a MIND folder (news.tsv, behaviors.tsv: tab-separated, no header)"


def load_mind(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """MIND ``news.tsv``/``behaviors.tsv`` -> (items, interactions).

    Items: title, abstract as description, category. Each impression's candidates are label 1
    (``N123-1``, clicked) or 0 (``N456-0``, shown) at its time (read as UTC); a user's click
    history (before the logs start, no times of its own) comes just before their first
    impression, one second apart in its order. Rows naming news that ``news.tsv`` lacks are
    dropped; ``interactions.attrs["unknown_items"]`` counts them.
    """
    folder = Path(folder)
    news = _read_tsv(folder / "news.tsv", MIND_NEWS)
    behaviors = _read_tsv(folder / "behaviors.tsv", MIND_BEHAVIORS)
    items = pd.DataFrame({"item_id": news["item_id"], "title": news["title"],
                          "description": news["abstract"], "category": news["category"]})
    refuse_duplicates(items, ["item_id"], folder / "news.tsv")
    times = pd.to_datetime(behaviors["time"], format="%m/%d/%Y %I:%M:%S %p", errors="coerce")
    if times.isna().any():
        row = int(times.isna().to_numpy().argmax())
        raise DataError(folder / "behaviors.tsv", row + 1, f"time {behaviors['time'][row]!r} is not "
                        "M/D/YYYY H:MM:SS AM/PM", "fix or drop the row")
    behaviors["seconds"] = (times - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    behaviors["row"] = np.arange(1, len(behaviors) + 1)
    shown = behaviors.assign(entry=behaviors["impressions"].str.split()).explode("entry").dropna(subset="entry")
    parts = shown["entry"].str.rpartition("-")
    bad = ~parts[2].isin(["0", "1"]) | (parts[0] == "")
    if bad.any():
        first = shown[bad].iloc[0]
        raise DataError(folder / "behaviors.tsv", int(first["row"]), f"impression {first['entry']!r} is not "
                        "NEWS_ID-1 (clicked) or NEWS_ID-0 (shown)", "fix or drop the row")
    taken = pd.DataFrame({"user_id": shown["user_id"], "item_id": parts[0], "label": parts[2].astype(int),
                          "timestamp": shown["seconds"]})
    first = behaviors.sort_values(["seconds", "row"]).drop_duplicates("user_id")
    history = first.assign(item_id=first["history"].str.split()).explode("item_id").dropna(subset="item_id")
    back = history.groupby("user_id").cumcount(ascending=False) + 1  # the last click 1 s before
    clicked = pd.DataFrame({"user_id": history["user_id"], "item_id": history["item_id"], "label": 1,
                            "timestamp": history["seconds"] - back})
    interactions = pd.concat([clicked, taken], ignore_index=True)
    interactions = interactions.drop_duplicates(["user_id", "item_id", "timestamp"])
    known = interactions["item_id"].isin(set(items["item_id"]))
    interactions = interactions[known].sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    interactions["timestamp"] = interactions["timestamp"].astype(np.int64)
    interactions.attrs["unknown_items"] = int((~known).sum())
    return items, interactions


def _read_tsv(path: Path, columns: list[str]) -> pd.DataFrame:
    """A headerless tab-separated file of exactly ``columns``, every cell text."""
    if not path.is_file():
        raise DataError(path, None, "file not found", _MIND_HINT)
    try:
        frame = pd.read_csv(path, sep="\t", header=None, dtype=str, keep_default_na=False,
                            quoting=csv.QUOTE_NONE, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError(path, None, f"cannot read it as tab-separated text ({str(err).splitlines()[0]})",
                        _MIND_HINT) from None
    if frame.shape[1] != len(columns):
        raise DataError(path, None, f"has {frame.shape[1]} columns, expected {len(columns)} "
                        f"({', '.join(columns)})", _MIND_HINT)
    frame.columns = columns
    return frame
