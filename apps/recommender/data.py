"""Items, interactions and candidates: the recommender's input files, read and validated.

Formats (DESIGN.md): items ``item_id,title[,description][,category]``; interactions
``user_id,item_id,label[,timestamp]`` (1 = clicked/bought, 0 = shown, not taken; timestamp in Unix
seconds or ISO 8601); candidates
``user_id,item_id``. Loaders convert MovieLens and MIND folders and TALLRec JSON into these;
``verticals recommend convert`` writes them as items and interactions files.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from shared import read_table
from shared.data import file_row
from shared.errors import DataError, VerticalsError, first_few

MAX_TEXT_CHARS = 8_000  # well past what 512 tokens of English cover (about 3,000 characters)


def item_text(title: str, category: str = "", description: str = "") -> str:
    """The text a model reads for an item: ``"Neon and Gin. Crime Fiction. Hard-boiled..."``,
    at most ``MAX_TEXT_CHARS`` characters.

    subtle: the models read their first few hundred tokens, but a tokenizer reads all of a text
    before it truncates: one 3 MB description made a four-pair job take 12 s and 1.3 GB."""
    text = ". ".join(part.strip().rstrip(".") for part in (title, category, description) if part.strip()) + "."
    return text[:MAX_TEXT_CHARS]


def read_items(path: str | Path) -> pd.DataFrame:
    """Items with a ``text`` column composed from title, category and description."""
    frame = _strip_ids(read_table(path, ["item_id", "title"], ["description", "category"]))
    for column in ("description", "category"):
        if column not in frame:
            frame[column] = ""
    _refuse_duplicates(frame, ["item_id"], path)
    frame["text"] = [item_text(t, c, d) for t, c, d in
                     zip(frame["title"], frame["category"], frame["description"])]
    return frame


def read_interactions(path: str | Path, items: pd.DataFrame | None = None) -> pd.DataFrame:
    """Interactions with ``label`` as int and ``timestamp`` as int (row order when absent;
    :func:`is_timed` tells which)."""
    frame = _strip_ids(read_table(path, ["user_id", "item_id", "label"], ["timestamp"]))
    # "1.0" and "0.0" too: many exports write every number as a float
    label = frame["label"].str.strip().replace({"1.0": "1", "0.0": "0"})
    bad = ~label.isin(["0", "1"])
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise DataError(path, file_row(path, row), f"label must be 0 or 1, got {frame['label'][row]!r}",
                        "use 1 for clicked/bought and 0 for shown, not taken")
    frame["label"] = label.astype(int)
    timed = "timestamp" in frame
    frame["timestamp"] = _timestamps(frame, path)
    if timed:
        _refuse_duplicates(frame, ["user_id", "item_id", "timestamp"], path)
    else:  # subtle: row numbers never repeat, so a copied row shows only without them
        _refuse_duplicates(frame, ["user_id", "item_id", "label"], path,
                           "delete the repeated {row}, or add a timestamp column to keep repeats")
    if items is not None:
        check_known_items(frame, items, path)
    frame.attrs["timed"] = timed
    return frame


def is_timed(interactions: pd.DataFrame) -> bool:
    """False for interactions read from a file without timestamps: their ``timestamp`` is the
    row number, which orders each user's rows but says nothing of when, or across users."""
    return bool(interactions.attrs.get("timed", True))


def read_candidates(path: str | Path, items: pd.DataFrame) -> pd.DataFrame:
    """``user_id,item_id`` pairs to score; every item must be in the catalogue."""
    frame = _strip_ids(read_table(path, ["user_id", "item_id"]))
    _refuse_duplicates(frame, ["user_id", "item_id"], path)
    check_known_items(frame, items, path)
    return frame


def _strip_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """``user_id`` and ``item_id`` (those present) without the spaces around them.

    subtle: a CSV export's padding made ``" SKU004"`` an unknown item of a catalogue that lists
    ``SKU004``."""
    for column in ("user_id", "item_id"):
        if column in frame:
            frame[column] = frame[column].str.strip()
    return frame


def check_known_items(frame: pd.DataFrame, items: pd.DataFrame, path: str | Path) -> None:
    """Fail on rows naming items that are not in the catalogue, in one line: the first row, and
    when there are more, how many rows and items and the first few of them.

    subtle: only the first bad row was named, so ten unknown items took ten runs to find."""
    unknown = ~frame["item_id"].isin(set(items["item_id"]))
    if not unknown.any():
        return
    row = int(unknown.to_numpy().argmax())
    names = list(dict.fromkeys(frame["item_id"][unknown]))
    problem, rows = f"unknown item_id {names[0]!r}", int(unknown.sum())
    if rows == 1:
        raise DataError(path, file_row(path, row), problem, "add the item to the items file or drop the row")
    many = len(names) > 1
    raise DataError(path, file_row(path, row),
                    f"{problem} ({rows} rows name {len(names)} unknown item{'s' if many else ''}: {first_few(names)})",
                    f"add the item{'s' if many else ''} to the items file or drop those rows")


MAX_TIMESTAMP = 10**11  # Unix seconds up to the year 5138; larger ones are milliseconds or garbage


def _timestamps(frame: pd.DataFrame, path: str | Path) -> np.ndarray:
    if "timestamp" not in frame:
        return np.arange(len(frame), dtype=np.int64)
    values = pd.to_numeric(frame["timestamp"], errors="coerce")
    not_numbers = values.isna()
    if not_numbers.any():  # ISO 8601 dates and times ("2026-06-17T17:00:00Z", "2026-06-17"; UTC unless
        # they name a zone), as seconds. subtle: "20260617" is a number, so Unix seconds
        when = pd.to_datetime(frame["timestamp"][not_numbers], format="ISO8601", utc=True, errors="coerce")
        values[not_numbers] = (when - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    # subtle: "inf" parses as a number and broke the int cast with a traceback; 1e30 was taken
    bad = ~np.isfinite(values) | (values < 0) | (values >= MAX_TIMESTAMP)
    if bad.any():
        row = int(bad.to_numpy().argmax())
        value = frame["timestamp"][row]
        fix = ("it looks like milliseconds: divide by 1000" if np.isfinite(values[row])
               and MAX_TIMESTAMP <= values[row] < MAX_TIMESTAMP * 1000 else
               "write seconds since 1970 or drop the column")
        raise DataError(path, file_row(path, row), "timestamp must be a number of seconds since "
                        f"1970 (Unix time) or an ISO 8601 date, got {value!r}", fix)
    return values.astype(np.int64).to_numpy()


def _refuse_duplicates(frame: pd.DataFrame, key: list[str], path: str | Path,
                       fix: str = "delete the repeated {row}") -> None:
    """Fail on rows repeating an earlier row's ``key``, in one line: the first, and when there are
    more, how many and the first few rows (``fix`` says ``{row}``: "row" or "rows").

    subtle: only the first repeat was named, so a file with ten took ten runs to mend."""
    repeated = frame.duplicated(subset=key, keep="first")
    if not repeated.any():
        return
    positions = np.flatnonzero(repeated.to_numpy())
    first = frame[key].iloc[positions[0]].astype(str).tolist()  # not np.int64(1) in the message
    problem = f"duplicate row for {', '.join(key)} = {first}"
    rows = [file_row(path, int(p)) for p in positions[:3]]  # the file is read again per row: only 3
    if len(positions) > 1:
        problem += f" ({len(positions)} rows repeat an earlier one: rows {first_few(rows, len(positions))})"
    raise DataError(path, rows[0], problem,
                    fix.format(row="rows" if len(positions) > 1 else "row"))


# ---- public layouts -------------------------------------------------------------------------


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
        "label": (rating >= min_rating).astype(int), "timestamp": _timestamps(ratings, path),
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
    _refuse_duplicates(items, ["item_id"], folder / "news.tsv")
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


def write_dataset(items: pd.DataFrame, interactions: pd.DataFrame, out: str | Path,
                  overwrite: bool = False) -> tuple[Path, Path]:
    """``out/items.csv`` and ``out/interactions.csv`` in the formats above, each written
    atomically; existing files are refused unless ``overwrite``."""
    from shared import atomic_write_bytes

    out = Path(out)
    paths = out / "items.csv", out / "interactions.csv"
    if out.exists() and not out.is_dir():
        raise VerticalsError(f"{out} is a file: --out takes a folder to write items.csv and interactions.csv into")
    if not overwrite and (there := [p for p in paths if p.exists()]):
        raise VerticalsError(f"{there[0]} exists: pass --overwrite to replace it, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    columns = ["item_id", "title", "description", "category"]
    atomic_write_bytes(paths[0], items[columns].to_csv(index=False).encode())
    atomic_write_bytes(paths[1], interactions[["user_id", "item_id", "label", "timestamp"]]
                       .to_csv(index=False).encode())
    return paths


@dataclass(frozen=True)
class CtrExample:
    """One TALLRec-style question: will a user who liked / disliked these like ``target``?"""

    liked: tuple[str, ...]
    disliked: tuple[str, ...]
    target: str
    label: int


_BOOK = re.compile(r'^"(.*)" written by (.*)$')
_TARGET = re.compile(r"^Whether the user will like the target \S+ (.*)$")  # movie/book "T"?


def _titles(line: str) -> tuple[str, ...]:
    """``'"Heat (1995)", "Fargo (1996)"' -> ("Heat (1995)", "Fargo (1996)")``; books keep authors.

    Entries are separated by ``, "`` in both layouts (movies: ``"T", "T"``; books:
    ``"T" written by A, "T" written by A``).
    """
    found = []
    for piece in re.split(r', (?=")', line.strip()):
        book = _BOOK.match(piece.strip())
        title = f"{book[1]} by {book[2].strip()}" if book else piece.strip().strip('"')
        if title.strip():
            found.append(title.strip())
    return tuple(found)


def parse_ctr_input(text: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """Split a TALLRec ``input`` into (liked titles, disliked titles, target title); the target
    is ``""`` when the input names none."""
    parts = {"pref": "", "unpref": "", "target": ""}
    for line in text.splitlines():
        if line.startswith("User Preference:"):
            parts["pref"] = line.split(":", 1)[1]
        elif line.startswith("User Unpreference:"):
            parts["unpref"] = line.split(":", 1)[1]
        elif line.startswith("Whether the user will like the target"):
            found = _TARGET.match(line.strip())  # no match (no title): "" -> the caller's error
            parts["target"] = found[1].rstrip("?").strip() if found else ""
    target = parts["target"]
    if target.startswith('"') and target.endswith('"'):
        target = target[1:-1]
    book = _BOOK.match(target)
    target = f"{book[1]} by {book[2].strip()}" if book else target
    return _titles(parts["pref"]), _titles(parts["unpref"]), target


def load_tallrec(path: str | Path) -> list[CtrExample]:
    """TALLRec JSON (a list of ``{instruction, input, output}``) -> :class:`CtrExample` s."""
    path = Path(path)
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(path, None, f"cannot read TALLRec JSON ({err})",
                        "pass a JSON list of {instruction, input, output} objects") from None
    if not isinstance(records, list):
        raise DataError(path, None, f"top level must be a list of records, got "
                        f"{type(records).__name__}",
                        "pass a JSON list of {instruction, input, output} objects")
    examples = []
    for row, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise DataError(path, row, f"record must be an object with 'input' and 'output', "
                            f"got {type(record).__name__}", "fix or drop the record")
        if missing := [key for key in ("input", "output") if key not in record]:
            raise DataError(path, row, f"record has no {' or '.join(repr(k) for k in missing)}",
                            "fix or drop the record")
        given = str(record["output"]).strip()
        answer = given.lower()
        if answer not in ("yes.", "no.", "yes", "no"):
            raise DataError(path, row, f"output must be 'Yes.' or 'No.', got {given!r}",
                            "fix or drop the record")
        liked, disliked, target = parse_ctr_input(str(record["input"]))
        if not target:
            raise DataError(path, row, "no target title in 'input'", "end the input with a "
                            'line like: Whether the user will like the target movie "Title"?')
        examples.append(CtrExample(liked, disliked, target, int(answer.startswith("yes"))))
    if not examples:
        raise DataError(path, None, "has no records", "add at least one record")
    return examples


def tallrec_dataset(examples: list[CtrExample], prefix: str = "u") -> tuple[pd.DataFrame, pd.DataFrame]:
    """TALLRec examples -> (items, interactions): every title an item (its id a digest of the
    title, so two files agree), each example a user (``prefix`` and its number in file order) who
    liked and disliked the titles it lists, one second apart in that order, then took (1) or
    passed on (0) the target.

    >>> items, rows = tallrec_dataset([CtrExample(("Heat (1995)",), ("Cats (2019)",), "Up (2009)", 1)])
    >>> rows[["user_id", "label", "timestamp"]].values.tolist()
    [['u1', 1, 1], ['u1', 0, 2], ['u1', 1, 3]]
    """
    ids: dict[str, str] = {}
    rows = []
    for number, example in enumerate(examples, start=1):
        taken = [(t, 1) for t in example.liked] + [(t, 0) for t in example.disliked] + \
            [(example.target, example.label)]
        for second, (title, label) in enumerate(taken, start=1):
            item = ids.setdefault(title, "t" + hashlib.sha1(title.encode()).hexdigest()[:10])
            rows.append((f"{prefix}{number}", item, label, second))
    items = pd.DataFrame({"item_id": list(ids.values()), "title": list(ids), "description": "", "category": ""})
    interactions = pd.DataFrame(rows, columns=["user_id", "item_id", "label", "timestamp"])
    return items, interactions.drop_duplicates(["user_id", "item_id", "timestamp"])


def check_both_answers(examples: list[CtrExample], path: str | Path) -> None:
    """Fail unless ``examples`` hold both Yes and No answers (training and AUC need both)."""
    answers = {e.label for e in examples}
    if len(answers) < 2:
        only, other = ("Yes.", "No.") if answers == {1} else ("No.", "Yes.")
        raise DataError(path, None, f"every record answers {only!r}; training and AUC need "
                        "both answers", f"add records answered {other!r}")
