"""Items, interactions and candidates: the recommender's input files, read and validated.

Formats (DESIGN.md): items ``item_id,title[,description][,category]``; interactions
``user_id,item_id,label[,timestamp]`` (1 = clicked/bought, 0 = shown, not taken; timestamp in Unix
seconds or ISO 8601); candidates
``user_id,item_id``. Loaders convert MovieLens and MIND folders (:mod:`.layouts`) and TALLRec
JSON (:mod:`.tallrec`) into these; ``verticals recommend convert`` writes them as items and
interactions files (:func:`write_dataset`).
"""

from __future__ import annotations

import re
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


def natural_key(text: str) -> tuple[list[str | int], str]:
    """A sort key reading runs of digits as numbers: ``sorted(["10", "9", "U10", "U9"],
    key=natural_key)`` -> ``["9", "10", "U9", "U10"]`` (ties such as ``"U01"``/``"U1"`` as text)."""
    parts = re.split(r"(\d+)", text)  # text at even places, digits at odd ones: like compares with like
    return [int(p) if i % 2 else p for i, p in enumerate(parts)], text


def read_items(path: str | Path) -> pd.DataFrame:
    """Items with a ``text`` column composed from title, category and description."""
    frame = _strip_ids(read_table(path, ["item_id", "title"], ["description", "category"]))
    for column in ("description", "category"):
        if column not in frame:
            frame[column] = ""
    refuse_duplicates(frame, ["item_id"], path)
    frame["text"] = [item_text(t, c, d) for t, c, d in
                     zip(frame["title"], frame["category"], frame["description"])]
    return frame


def read_interactions(path: str | Path, items: pd.DataFrame | None = None) -> pd.DataFrame:
    """Interactions with ``label`` as int and ``timestamp`` as int (row order when absent;
    :func:`is_timed` tells which)."""
    frame = _strip_ids(read_table(path, ["user_id", "item_id", "label"], ["timestamp"]))
    written = frame.copy()  # the cells as the file has them, for errors to quote
    # "1.0" and "0.0" too: many exports write every number as a float
    label = frame["label"].str.strip().replace({"1.0": "1", "0.0": "0"})
    bad = ~label.isin(["0", "1"])
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise DataError(path, file_row(path, row), f"label must be 0 or 1, got {frame['label'][row]!r}",
                        "use 1 for clicked/bought and 0 for shown, not taken")
    frame["label"] = label.astype(int)
    timed = "timestamp" in frame
    frame["timestamp"] = unix_seconds(frame, path)
    if timed:
        refuse_duplicates(frame, ["user_id", "item_id", "timestamp"], path, written=written)
    else:  # subtle: row numbers never repeat, so a copied row shows only without them
        refuse_duplicates(frame, ["user_id", "item_id", "label"], path,
                          "delete the repeated {row}, or add a timestamp column to keep repeats", written=written)
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
    refuse_duplicates(frame, ["user_id", "item_id"], path)
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


def unix_seconds(frame: pd.DataFrame, path: str | Path) -> np.ndarray:
    """``frame``'s ``timestamp`` column as Unix seconds (numbers, or ISO 8601 dates read as UTC
    unless they name a zone), or the row numbers when it has none; a bad value is a one-line error."""
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
        value = frame["timestamp"].iloc[row]
        if pd.isna(value) or not str(value).strip():  # subtle: "drop the column" lost every row's time for one
            if frame["timestamp"].astype(str).str.strip().isin(["", "nan", "None"]).all():
                raise DataError(path, None, "the timestamp column is empty", "fill it or drop the column")
            raise DataError(path, file_row(path, row), "empty 'timestamp'", "fill the cell or delete the row")
        fix = ("it looks like milliseconds: divide by 1000" if np.isfinite(values.iloc[row])
               and MAX_TIMESTAMP <= values.iloc[row] < MAX_TIMESTAMP * 1000 else
               "write seconds since 1970 or drop the column")
        raise DataError(path, file_row(path, row), "timestamp must be a number of seconds since "
                        f"1970 (Unix time) or an ISO 8601 date, got {value!r}", fix)
    return values.astype(np.int64).to_numpy()


def refuse_duplicates(frame: pd.DataFrame, key: list[str], path: str | Path,
                      fix: str = "delete the repeated {row}", written: pd.DataFrame | None = None) -> None:
    """Fail on rows repeating an earlier row's ``key``, in one line: the first, its values as
    ``written`` in the file (default: ``frame``'s), and when there are more, how many and the
    first few rows (``fix`` says ``{row}``: "row" or "rows"):
    ``row 3: duplicate row for user_id u1, item_id A, timestamp 2025-01-08T01:00:00Z``.

    subtle: only the first repeat was named, so a file with ten took ten runs to mend; and the
    values were quoted as parsed (``['U13', 'BK046', '1736298000']``), which the file spells
    ``2025-01-08T01:00:00Z``: nothing there to search for."""
    repeated = frame.duplicated(subset=key, keep="first")
    if not repeated.any():
        return
    positions = np.flatnonzero(repeated.to_numpy())
    cells = (frame if written is None else written)[key].iloc[positions[0]]
    problem = "duplicate row for " + ", ".join(f"{column} {str(cell).strip()}" for column, cell in zip(key, cells))
    rows = [file_row(path, int(p)) for p in positions[:3]]  # the file is read again per row: only 3
    if len(positions) > 1:
        problem += f" ({len(positions)} rows repeat an earlier one: rows {first_few(rows, len(positions))})"
    raise DataError(path, rows[0], problem,
                    fix.format(row="rows" if len(positions) > 1 else "row"))


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
